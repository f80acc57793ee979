"""The development HS256 secret `invtrack serve` creates when no key is
configured, and tokens minted with a secret."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jwt

SECRET_FILE_NAME: Final = "jwt-secret"  # noqa: S105  # a file name


def mint(
    secret: str,
    *,
    scope: str | None,
    ttl_seconds: int,
    subject: str = "invtrack-cli",
    now: datetime | None = None,
) -> str:
    """An HS256 token with `sub`, `iat`, `exp` = `iat` + `ttl_seconds`, and `scope` when given."""
    if not secret or ttl_seconds <= 0:
        raise ValueError("minting needs a secret and a positive ttl_seconds")
    issued_at = int((now or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {"sub": subject, "iat": issued_at, "exp": issued_at + ttl_seconds}
    if scope is not None:
        claims["scope"] = scope
    return jwt.encode(claims, secret, algorithm="HS256")


def existing_secret(data_dir: Path, name: str = SECRET_FILE_NAME) -> str | None:
    """The secret kept in `data_dir / name`, None when there is none yet."""
    try:
        return _read(data_dir / name)
    except FileNotFoundError:
        return None


def load_or_create_secret(data_dir: Path, name: str = SECRET_FILE_NAME) -> tuple[str, bool]:
    """The secret in `data_dir / name`, and whether it was just created: once,
    with mode 0600, holding `secrets.token_urlsafe(48)`. Processes starting
    together all end up with the same secret."""
    data_dir.mkdir(parents=True, exist_ok=True)
    found = existing_secret(data_dir, name)
    if found is not None:
        return found, False
    secret = secrets.token_urlsafe(48)
    staging = data_dir / f".{name}.{secrets.token_hex(8)}"
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails when the name exists: one complete file is published.
            os.link(staging, data_dir / name)
        except FileExistsError:
            return _read(data_dir / name), False
        return secret, True
    finally:
        staging.unlink(missing_ok=True)


def _read(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise ValueError(f"{path} is empty; remove it to have a new secret created")
    return secret
