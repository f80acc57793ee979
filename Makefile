# invtrack: `make run` serves on the embedded SQLite default, `make test` runs
# every check. Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint typecheck unit bench soak install clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.dev

run: $(VENV)/.runtime
	$(BIN)/invtrack serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev
	$(BIN)/pytest

test: lint typecheck unit

bench: $(VENV)/.dev
	$(BIN)/python -m bench

soak: $(VENV)/.dev
	INVTRACK_SOAK=1 $(BIN)/pytest -m soak -p no:cacheprovider tests

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
