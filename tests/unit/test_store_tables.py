"""The store's backends are its own: outside `adapters/store/postgres/` and
`adapters/store/sqlite/` (and the schema's history, the migrations), no
production code or benchmark holds SQL text, names a store table in it, or
branches on which backend it runs on. `adapters/store/opening.py` alone looks
at a URL's backend, to open it. Importing a backend is kept to `opening` by the
import contracts in pyproject.toml."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from adapters.store.schema import metadata

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("domain", "adapters", "api", "projections", "bench")
STORE = ROOT / "adapters" / "store"
BACKENDS = (STORE / "postgres", STORE / "sqlite", STORE / "migrations")
OPENING = STORE / "opening.py"
BENCH = ROOT / "bench"

NAMING = re.compile(rf"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+({'|'.join(sorted(metadata.tables))})\b")
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\S+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|DATABASE|CONSTRAINT)\b|\bON CONFLICT\b"
    r"|^\s*(PRAGMA|VACUUM|ANALYZE|BEGIN|COMMIT|ROLLBACK|SET LOCAL)\b|\bpg_\w+\(|\bjson_each\("
)
BACKEND_NAMES = frozenset({"sqlite", "postgresql", "postgres", "sqlite+aiosqlite"})
BRANCHING = frozenset({"is_postgres", "is_sqlite", "get_backend_name", "drivername", "dialect"})


def _files() -> Iterator[Path]:
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not any(backend in path.parents for backend in BACKENDS):
                yield path


def _texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string the code uses (an f-string with `{}` for its values), but
    the docstrings and other strings that stand alone as statements."""
    alone = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.JoinedStr)
    }
    parts: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts.update(id(value) for value in node.values)
            if id(node) not in alone:
                text = "".join(
                    str(value.value) if isinstance(value, ast.Constant) else "{}"
                    for value in node.values
                )
                yield node.lineno, text
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in alone
            and id(node) not in parts
        ):
            yield node.lineno, node.value


def sql_in(source: str) -> list[tuple[int, str]]:
    return [
        (line, text)
        for line, text in _texts(ast.parse(source))
        if SQL.search(text) or NAMING.search(text)
    ]


def branches_in(source: str, *, labels: bool = True) -> list[tuple[int, str]]:
    """Names that tell the backends apart, outside a declaration of a column
    type's variant (`with_variant(..., "sqlite")`); with `labels`, a backend's
    name as a string too."""
    tree = ast.parse(source)
    variants = {
        id(argument)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "with_variant"
        for argument in node.args
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in BRANCHING:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in BRANCHING:
            found.append((node.lineno, node.id))
        elif (
            labels
            and isinstance(node, ast.Constant)
            and node.value in BACKEND_NAMES
            and id(node) not in variants
        ):
            found.append((node.lineno, repr(node.value)))
    return found


def test_no_sql_outside_the_backends() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]}"
        for path in _files()
        for line, text in sql_in(path.read_text())
    ]
    assert offending == []


def test_no_branch_on_the_backend_outside_the_backends() -> None:
    """The benchmarks name the backends they measure (`--only sqlite`, the
    rows of their report): only their code is checked, not their labels."""
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in _files()
        if path != OPENING
        for line, name in branches_in(path.read_text(), labels=BENCH not in path.parents)
    ]
    assert offending == []


def test_the_checks_find_sql_and_branches() -> None:
    assert sql_in('q = "SELECT position FROM events WHERE position > $1"')
    assert sql_in('q = f"UPDATE {table} SET status = $2"')
    assert sql_in('q = "INSERT INTO items_v2 (key) VALUES (?)"')
    assert sql_in("conn.execute('BEGIN IMMEDIATE')")
    assert sql_in('q = f"SELECT {columns} FROM {table} WHERE key = $1"')
    assert not sql_in('"""SELECT is how one reads: FROM the docstring."""')
    assert not sql_in('help = "select the projections to rebuild from the list"')
    assert not sql_in('note = "Dead rows (removed by the VACUUM before the queries)"')
    assert sql_in('conn.execute("VACUUM (ANALYZE) events")')
    assert branches_in("if store.is_postgres: pass")
    assert branches_in("if conn.dialect.name == 'sqlite': pass")
    assert branches_in("postgres = url.get_backend_name() == 'postgresql'")
    assert not branches_in('Position = BigInteger().with_variant(Integer(), "sqlite")')
    assert not branches_in('url = "sqlite+aiosqlite:///var/invtrack.db"')
