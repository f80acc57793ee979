"""An OFS whose answers are random but valid by the vendor's loadable file: a
seeded generator walks the file's schemas (`$ref`, `allOf`, objects, arrays,
strings, numbers, enums) and every answer it makes is checked against the
file before it is served (the `FakeOfs` base checks it again on the way out).

Values lean towards what a real instance sends (a time in OFS's format, ids
in the inventory range, markers from a small set, so pages can come back),
but anything the file allows may come: a `time` in another format, an
`inventoryChanges.inventoryId` other than `inventoryDetails.inventoryId`,
pages without `nextPage`, records without `quantity`. Every page served is
kept (`served`), with the marker it was served for.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Final

from tests.fakes.contract import ofs_contracts
from tests.fakes.http import Answer, Problem, Scope
from tests.fakes.ofs_inventory import CORE
from tests.fakes.ofs_server import EVENTS_PATH, FakeOfs

MARKERS: Final = tuple(f"m{n}" for n in range(6))
WORDS: Final = ("TECH_017", "MODEM", "CABLE", "SN-1", "installed", "x", "", "Z" * 40)
INVENTORY_EVENTS: Final = (
    "inventoryInstalled",
    "inventoryDeinstalled",
    "resourceInventoryCreated",
    "resourceInventoryUpdated",
    "customerInventoryCreated",
)


class Generator:
    """Random instances of the file's schemas, from a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.core = ofs_contracts()[0]

    def instance(self, schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
        schema = self._resolved(schema)
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = kind[0]
        if kind == "object" or "properties" in schema or "allOf" in schema:
            return self._object(schema, depth)
        if kind == "array":
            count = self.rng.randint(0, 4 if depth < 2 else 1)
            return [self.instance(schema.get("items", {}), name, depth + 1) for _ in range(count)]
        return self._scalar(kind, name)

    def valid(self, schema: dict[str, Any]) -> Any:
        """An instance the file accepts: members it refuses are dropped."""
        value = self.instance(schema)
        for _ in range(20):
            problems = list(self.core._validator(_key(schema)).iter_errors(value))
            if not problems:
                return value
            for problem in problems:
                _drop(value, list(problem.absolute_path))
        raise AssertionError(f"cannot make a valid instance of {schema}")

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: set[str] = set(schema.get("required", []))
        for part in [schema, *(self._resolved(p) for p in schema.get("allOf", []))]:
            properties.update(part.get("properties", {}))
            required.update(part.get("required", []))
        chance = 0.8 if depth < 2 else 0.4
        return {
            key: self.instance(value, key, depth + 1)
            for key, value in properties.items()
            if key in required or self.rng.random() < chance
        }

    def _scalar(self, kind: Any, name: str) -> Any:
        rng = self.rng
        if kind == "integer":
            return rng.choice([21258547, 21259001, 4225599, rng.randint(1, 10**6)])
        if kind == "number":
            return rng.choice([1, 2.5, 0, 15, rng.randint(0, 100) / 4])
        if kind == "boolean":
            return rng.random() < 0.5
        if name == "time":
            if rng.random() < 0.85:
                day, hour, minute = rng.randint(10, 28), rng.randint(0, 23), rng.randint(0, 59)
                return f"2026-11-{day} {hour:02d}:{minute:02d}:00"
            return rng.choice(["2026-11-20T09:00:00Z", "yesterday", ""])
        if name == "nextPage":
            return rng.choice(MARKERS)
        return rng.choice(WORDS)

    def _resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.core.definitions[schema["$ref"].rsplit("/", 1)[1]]
        return schema


def _key(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


def _drop(value: Any, path: list[Any]) -> None:
    """Remove the member at `path` (or its nearest removable parent)."""
    while path:
        *parent_path, last = path
        parent = value
        for step in parent_path:
            parent = parent[step]
        if isinstance(parent, dict) and last in parent:
            del parent[last]
            return
        if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            del parent[last]
            return
        path = parent_path


@dataclass
class RandomOfs(FakeOfs):
    """OFS with random valid answers for events pages, token answers and the
    inventory reads; subscriptions work as in `FakeOfs`."""

    seed: int = 0
    served: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    """(marker asked for, page answered), in order."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.generator = Generator(self.seed)
        # Token answers state any lifetime the file allows, or none.
        self.oauth.stated_lifetime = self.generator.rng.choice([0, 1, 5, 3600])
        self.oauth.omit_lifetime = self.generator.rng.random() < 0.3

    def _events(self, query: dict[str, str]) -> dict[str, Any]:
        self._subscription(query.get("subscriptionId"))
        page: dict[str, Any] = self.generator.valid(self._answer_schema("get", EVENTS_PATH))
        items = page.get("items", [])
        for item in items:
            if self.generator.rng.random() < 0.7:
                item["eventType"] = self.generator.rng.choice(INVENTORY_EVENTS)
        self.served.append((query.get("page"), page))
        return page

    def answer(
        self, scope: Scope, method: str, path: str, query: dict[str, str], body: bytes
    ) -> Answer:
        inventory = path.startswith(CORE) and ("nventories" in path) and method == "GET"
        if not inventory or self._application(scope) is None:
            return super().answer(scope, method, path, query, body)
        answer = self.generator.valid(self._answer_schema("get", path))
        if path.startswith(f"{CORE}/inventories/") and self.generator.rng.random() < 0.8:
            answer["inventoryId"] = int(path.rsplit("/", 1)[1])
        return 200, answer, {}

    def _answer_schema(self, method: str, path: str) -> dict[str, Any]:
        operation = self.generator.core.find(method, path)
        if operation is None:
            raise Problem(404, f"no such resource: {path}")
        schema: dict[str, Any] = operation.spec["responses"]["200"]["schema"]
        return schema
