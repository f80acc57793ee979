"""A verified token's claims: who it names and which scopes it grants, and
the stricter reading of its payload that PyJWT leaves to us."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Final

import jwt
import msgspec

SCOPES: Final = ("read", "write", "admin")
_GRANTS: Final = {"read": set(SCOPES), "write": {"write", "admin"}, "admin": {"admin"}}


class InvalidToken(jwt.InvalidTokenError):
    """The token cannot be accepted; `reason` is short, safe to show."""

    @property
    def reason(self) -> str:
        return str(self)


class KeysUnavailable(Exception):
    """The JWKS document a token needs could not be fetched: our failure."""


class Claims(msgspec.Struct, frozen=True):
    """A verified token's claims. `subject` is `sub`, else `name`, else `email`
    (ServiceMobility tokens carry no `sub`); `scopes` is empty when it has none."""

    subject: str | None
    scopes: frozenset[str]
    expires_at: datetime
    raw: dict[str, Any]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Claims:
        subjects = (raw.get(name) for name in ("sub", "name", "email"))
        try:
            expires_at = datetime.fromtimestamp(raw["exp"], UTC)
        except (OverflowError, OSError, ValueError):  # beyond datetime, so far in the future
            expires_at = datetime.max.replace(tzinfo=UTC)
        return cls(
            subject=next((s for s in subjects if isinstance(s, str) and s), None),
            scopes=_scopes(raw),
            expires_at=expires_at,
            raw=raw,
        )


def allows(claims: Claims, needed: str) -> bool:
    """Whether the token's scopes grant `needed`: read routes accept read,
    write or admin; write routes accept write or admin; admin routes admin."""
    if needed not in _GRANTS:
        raise ValueError(f"unknown scope {needed!r}; expected one of {SCOPES}")
    return not claims.scopes.isdisjoint(_GRANTS[needed])


def _scopes(raw: dict[str, Any]) -> frozenset[str]:
    """`scope` as scopes separated by spaces (U+0020 only, as OAuth 2.0 writes
    them); `scp` as a list or such a string. Other shapes grant nothing."""
    scopes: set[str] = set()
    for name in ("scope", "scp"):
        value = raw.get(name)
        if isinstance(value, str):
            scopes.update(value.split(" "))
        elif isinstance(value, list) and name == "scp":
            scopes.update(item for item in value if isinstance(item, str))
    return frozenset(scopes - {""})


def read_payload(payload: bytes) -> dict[str, Any]:
    """The payload as a JSON object, stricter than PyJWT: a claim given twice
    (parsers disagree on which wins), NaN or Infinity, and a time claim that
    is not a finite number (a boolean, a string) are refused, not coerced."""
    try:
        raw = json.loads(payload, object_pairs_hook=_unique, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise InvalidToken("token is malformed") from None
    if not isinstance(raw, dict):
        raise InvalidToken("token is malformed")
    for name in ("exp", "nbf", "iat"):
        value = raw.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) == math.inf:
            raise InvalidToken(f"token has a malformed {name} claim")
    return raw


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a claim is given twice")
    return result


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
