"""A verified token's claims: who it names and which scopes it grants, and
the stricter reading of its payload that PyJWT leaves to us."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from adapters.auth.errors import InvalidToken

SCOPES: Final = ("read", "write", "admin")
_GRANTS: Final[dict[str, frozenset[str]]] = {
    "read": frozenset({"read", "write", "admin"}),
    "write": frozenset({"write", "admin"}),
    "admin": frozenset({"admin"}),
}
_TIMES: Final = ("exp", "nbf", "iat")


class Claims(msgspec.Struct, frozen=True):
    """A verified token's claims.

    `subject` is `sub`, else `name`, else `email` (ServiceMobility tokens carry
    no `sub`). `scopes` is empty when the token has none.
    """

    subject: str | None
    scopes: frozenset[str]
    expires_at: datetime
    raw: dict[str, Any]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Claims:
        return cls(
            subject=_subject(raw),
            scopes=_scopes(raw),
            expires_at=_datetime(raw["exp"]),
            raw=raw,
        )


def allows(claims: Claims, needed: str) -> bool:
    """Whether the token's scopes grant `needed`: read routes accept read,
    write or admin; write routes accept write or admin; admin routes admin."""
    try:
        granting = _GRANTS[needed]
    except KeyError:
        raise ValueError(f"unknown scope {needed!r}; expected one of {SCOPES}") from None
    return not granting.isdisjoint(claims.scopes)


def read_payload(payload: bytes) -> dict[str, Any]:
    """The payload as a JSON object whose time claims are numbers. Stricter
    than PyJWT: a claim given twice is refused (parsers disagree on which
    wins), NaN and Infinity are not JSON, and a time claim that is not a
    finite number (a boolean, a string) is malformed rather than coerced."""
    try:
        raw = json.loads(payload, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidToken("token is malformed") from None
    if not isinstance(raw, dict):
        raise InvalidToken("token is malformed")
    for name in _TIMES:
        if name in raw and not _is_numeric_date(raw[name]):
            raise InvalidToken(f"token has a malformed {name} claim")
    return raw


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate claim")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_numeric_date(value: object) -> bool:
    """An RFC 7519 NumericDate."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _datetime(seconds: int | float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        # Beyond what datetime holds; only far-future values get past the expiry check.
        return datetime.max.replace(tzinfo=UTC)


def _subject(raw: dict[str, Any]) -> str | None:
    for name in ("sub", "name", "email"):
        value = raw.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _scopes(raw: dict[str, Any]) -> frozenset[str]:
    """`scope` as a string of scopes separated by spaces (U+0020 only, as
    OAuth 2.0 writes them); `scp` as a list or such a string. Values of any
    other shape grant nothing."""
    scopes: set[str] = set()
    for name in ("scope", "scp"):
        value = raw.get(name)
        if isinstance(value, str):
            scopes.update(value.split(" "))
        elif isinstance(value, list) and name == "scp":
            scopes.update(item for item in value if isinstance(item, str))
    scopes.discard("")
    return frozenset(scopes)
