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
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev
	$(BIN)/pytest

test: lint typecheck unit

# `make bench` runs every benchmark and marks each target met or missed (see
# bench/__init__.py), about 15 minutes; BENCH_ARGS=--quick for a short run
# (about 2 minutes), BENCH_ARGS="--only ingest,sqlite" for some parts. wrk
# drives the load: installed with apt-get when missing, else bench falls back
# to its Python load generator and says so.
bench: $(VENV)/.dev
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing wrk with apt-get"; \
			(apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 || true; \
		elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
			echo "installing wrk with sudo apt-get"; \
			(sudo -n apt-get update -qq && sudo -n apt-get install -y -qq wrk) >/dev/null 2>&1 || true; \
		fi; \
		command -v wrk >/dev/null 2>&1 && echo "load generator: wrk" \
			|| echo "wrk is not available: using the Python load generator"; \
	}
	$(BIN)/python -m bench $(BENCH_ARGS)

soak: $(VENV)/.dev
	INVTRACK_SOAK=1 $(BIN)/pytest -m soak -p no:cacheprovider tests

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
