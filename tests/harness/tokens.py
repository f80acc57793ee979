"""Tokens for tests, signed with the test secret every harness app is given."""

from __future__ import annotations

from adapters.auth import mint

SECRET = "test-secret-0123456789abcdef0123456789abcdef"


def token(scope: str | None = None, ttl: int = 600, subject: str = "invtrack-cli") -> str:
    return mint(SECRET, scope=scope, ttl_seconds=ttl, subject=subject)


def reader() -> dict[str, str]:
    """A query caller's headers: bearer token with the read scope."""
    return {"Authorization": f"Bearer {token('read')}"}


def sender(**extra: str) -> dict[str, str]:
    """A ServiceMobility webhook's headers: its token has no scope."""
    return {"x-access-token": token(), "content-type": "application/json", **extra}


def relay(scope: str | None = "write") -> dict[str, str]:
    """An OFS relay's headers: bearer token with the write scope."""
    return {"Authorization": f"Bearer {token(scope)}", "content-type": "application/json"}


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('admin')}"}
