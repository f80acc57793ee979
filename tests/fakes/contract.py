"""The vendors' OpenAPI files as a contract the fakes hold both sides to.

`Contract` reads a Swagger 2.0 file (the loadable copies in
tests/fixtures/vendor, see shared/vendor/README.md) and checks

- a request: the path and method exist; every path, query and form
  parameter is declared, has its type, bounds and enum, and the required ones
  are there; a JSON body validates against the operation's body schema and
  comes with a content type the operation consumes;
- an answer: its JSON body validates against the schema of its status (or
  the operation's `default`; an error status not declared, against the
  file's `Error`).

Schemas are checked with jsonschema's Draft 4 validator (Swagger 2.0 schemas
are a Draft 4 subset; `$ref`s resolve against the file's definitions), with
the file's `x-nullable: true` read as "or null" (an inventory's `quantity`).

Every problem found is appended to `VIOLATIONS`; `tests/conftest.py` fails
any test after which it is not empty. Requests are checked when invtrack
sent them (its `User-Agent`): tests also send deliberately wrong requests to
see a fake refuse them. Answers are always checked.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

import jsonschema

VENDOR: Final = Path(__file__).resolve().parents[1] / "fixtures" / "vendor"
OFS_CORE: Final = VENDOR / "ofs-core-events-and-inventory.loadable.openapi.json"
OFS_TOKEN: Final = VENDOR / "ofs-oauth-token.loadable.openapi.json"
PRODUCT_AGENT: Final = "invtrack"

VIOLATIONS: list[str] = []
"""What the fakes found against the contracts during the current test."""


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]
    parameters: tuple[dict[str, Any], ...]
    consumes: tuple[str, ...]


class Contract:
    """One vendor file's operations, and checks of requests and answers against them."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.document: dict[str, Any] = _nullable(json.loads(path.read_text()))
        self.operations = [
            self._operation(method, template, spec)
            for template, item in self.document["paths"].items()
            for method, spec in item.items()
            if method in ("get", "post", "put", "patch", "delete")
        ]
        # Literal paths win over templated ones (`/events/subscriptions` over `{id}`).
        self.operations.sort(key=lambda op: op.template.count("{"))

    @property
    def definitions(self) -> dict[str, Any]:
        found: dict[str, Any] = self.document.get("definitions", {})
        return found

    def covers(self, method: str, path: str) -> bool:
        return self.find(method, path) is not None

    def find(self, method: str, path: str) -> Operation | None:
        for operation in self.operations:
            if operation.method == method.lower() and operation.pattern.fullmatch(path):
                return operation
        return None

    # -- requests ------------------------------------------------------------

    def request_problems(
        self, method: str, path: str, query: str, content_type: str, body: bytes
    ) -> list[str]:
        """What is wrong with a request, by the file."""
        operation = self.find(method, path)
        if operation is None:
            return [f"{method} {path} is not in {self.name}"]
        match = operation.pattern.fullmatch(path)
        assert match is not None
        values = {
            "path": match.groupdict(),
            "query": _single(parse_qs(query, keep_blank_values=True)),
            "formData": {},
        }
        problems: list[str] = []
        kind = content_type.split(";")[0].strip().lower()
        if body:
            if kind not in operation.consumes:
                problems.append(f"content type {kind!r} is not one of {operation.consumes}")
            if kind == "application/x-www-form-urlencoded":
                values["formData"] = _single(parse_qs(body.decode(), keep_blank_values=True))
        for parameter in operation.parameters:
            problems += self._parameter(parameter, values, body, kind)
        for where in ("query", "formData"):
            declared = {p["name"] for p in operation.parameters if p["in"] == where}
            problems += [
                f"{where} parameter {name!r} is not declared"
                for name in sorted(set(values[where]) - declared)
            ]
        return [f"{method} {path}: {problem}" for problem in problems]

    def _parameter(
        self, parameter: dict[str, Any], values: dict[str, dict[str, str]], body: bytes, kind: str
    ) -> list[str]:
        where, name = parameter["in"], parameter["name"]
        if where == "body":
            if not body or kind != "application/json":
                return []
            return self.schema_problems(parameter.get("schema", {}), json.loads(body), "body")
        if where == "header":
            return []
        value = values.get(where, {}).get(name)
        if value is None:
            return [f"{where} parameter {name!r} is required"] if parameter.get("required") else []
        return _scalar_problems(parameter, value, f"{where} parameter {name!r}")

    # -- answers -------------------------------------------------------------

    def answer_problems(self, method: str, path: str, status: int, payload: Any) -> list[str]:
        """What is wrong with an answer, by the file."""
        operation = self.find(method, path)
        if operation is None:
            return []
        responses = operation.spec.get("responses", {})
        response = responses.get(str(status)) or responses.get("default")
        if status >= 400 and str(status) not in responses and "Error" in self.definitions:
            # The Core file declares one list (GET .../subscriptions) under
            # `default`; an error answer is its Error object wherever it comes.
            response = {"schema": {"$ref": "#/definitions/Error"}}
        if response is None:
            return [f"{method} {path}: status {status} is not declared"]
        schema = response.get("schema")
        if schema is None:
            return [] if payload is None else [f"{method} {path}: {status} declares no body"]
        if payload is None:
            return [f"{method} {path}: {status} needs a body"]
        problems = self.schema_problems(schema, payload, f"{status} answer")
        return [f"{method} {path}: {problem}" for problem in problems]

    def schema_problems(self, schema: dict[str, Any], instance: Any, what: str) -> list[str]:
        validator = self._validator(json.dumps(schema, sort_keys=True))
        return [
            f"{what} at {'/'.join(map(str, error.absolute_path)) or '$'}: {error.message[:200]}"
            for error in validator.iter_errors(instance)
        ]

    @functools.lru_cache(maxsize=256)  # noqa: B019  # one contract per file, kept for the run
    def _validator(self, schema: str) -> jsonschema.Draft4Validator:
        rooted = {**json.loads(schema), "definitions": self.document.get("definitions", {})}
        return jsonschema.Draft4Validator(rooted)

    def _operation(self, method: str, template: str, spec: dict[str, Any]) -> Operation:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        parameters = tuple(self._resolved(p) for p in spec.get("parameters", []))
        consumes = spec.get("consumes") or self.document.get("consumes") or ["application/json"]
        return Operation(method, template, re.compile(pattern), spec, parameters, tuple(consumes))

    def _resolved(self, parameter: dict[str, Any]) -> dict[str, Any]:
        reference = parameter.get("$ref")
        if reference is None:
            return parameter
        resolved: dict[str, Any] = self.document["parameters"][reference.rsplit("/", 1)[1]]
        return resolved


def _nullable(node: Any) -> Any:
    """The document with `x-nullable: true` types widened to allow null."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable(value) for key, value in node.items()}
    if converted.get("x-nullable") is True and isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {key: found[0] for key, found in values.items()}


def _scalar_problems(parameter: dict[str, Any], value: str, what: str) -> list[str]:
    kind = parameter.get("type", "string")
    typed: Any = value
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]+", value):
            return [f"{what} must be an integer, not {value!r}"]
        typed = int(value)
    elif kind == "boolean" and value not in ("true", "false"):
        return [f"{what} must be true or false, not {value!r}"]
    problems = []
    if "enum" in parameter and typed not in parameter["enum"]:
        problems.append(f"{what} must be one of {parameter['enum']}, not {value!r}")
    if "minimum" in parameter and typed < parameter["minimum"]:
        problems.append(f"{what} must be at least {parameter['minimum']}, not {value}")
    if "maximum" in parameter and typed > parameter["maximum"]:
        problems.append(f"{what} must be at most {parameter['maximum']}, not {value}")
    return problems


@functools.cache
def ofs_contracts() -> tuple[Contract, Contract]:
    """The OFS Core API file and the OFS token service file."""
    return Contract(OFS_CORE), Contract(OFS_TOKEN)


def check_request(
    contracts: tuple[Contract, ...],
    agent: str,
    method: str,
    path: str,
    query: str,
    content_type: str,
    body: bytes,
) -> None:
    """Note what is wrong with a request invtrack sent, by the file covering its path."""
    if not agent.startswith(PRODUCT_AGENT):
        return
    contract = next((c for c in contracts if c.covers(method, path)), contracts[0])
    VIOLATIONS.extend(contract.request_problems(method, path, query, content_type, body))


def check_answer(
    contracts: tuple[Contract, ...], method: str, path: str, status: int, payload: Any
) -> None:
    """Note what is wrong with an answer a fake gave, by the file covering its path."""
    for contract in contracts:
        if contract.covers(method, path):
            VIOLATIONS.extend(contract.answer_problems(method, path, status, payload))
            return
