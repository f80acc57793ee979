"""The store's contract: what every backend does alike, as test classes run
against each (`tests/integration/test_store_contract.py`)."""
