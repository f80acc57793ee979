"""Only the store touches its tables: no production code outside
`adapters/store` names one of them in SQL (written in capitals here).
Importing their definitions is forbidden by the import contracts in
pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.store.schema import metadata

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("domain", "adapters", "api", "projections")
STORE = ROOT / "adapters" / "store"
NAMING = re.compile(rf"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+({'|'.join(sorted(metadata.tables))})\b")


def test_no_sql_outside_the_store_names_a_store_table() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in PRODUCTION
        for path in sorted((ROOT / folder).rglob("*.py"))
        if STORE not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if NAMING.search(line)
    ]
    assert offending == []


def test_the_check_finds_a_store_table_named_in_sql() -> None:
    assert NAMING.search('"SELECT position FROM events WHERE position > $1"')
    assert NAMING.search('"UPDATE inbox SET status = $2"')
    assert not NAMING.search('"SELECT key FROM items_v2 WHERE key = $1"')
