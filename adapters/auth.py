"""Tokens: verifying the JWTs callers present, and minting our own.

Rules (api.md, Configuration and Queries; domain.md, the ServiceMobility JWT):

- The accepted algorithms come from configuration, never from the token. A
  token whose header names any other algorithm is rejected before a key is
  chosen; `none` is never accepted.
- The key follows the configured key type: HS* tokens are checked with the
  configured secret only, asymmetric tokens with the configured PEM public key
  or a key from the configured JWKS document only. A key a token names or
  carries is never used.
- `exp` is required; `nbf` and `iat` are honoured with the configured leeway;
  `aud` and `iss` are checked only when configured.
- Anything wrong with a token raises `InvalidToken` with a short reason that is
  safe to show to the caller.
- Scopes come from the space-separated `scope` claim (OAuth 2.0 access tokens)
  or an `scp` list; `read` routes accept read, write or admin, `write` routes
  write or admin, `admin` routes admin only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import jwt
import msgspec
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import (
    EllipticCurvePrivateKey,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import HMACAlgorithm

__all__ = [
    "MAX_TOKEN_LENGTH",
    "SCOPES",
    "SECRET_FILE_NAME",
    "AuthConfig",
    "Claims",
    "InvalidToken",
    "KeysUnavailable",
    "TokenVerifier",
    "allows",
    "load_or_create_secret",
    "mint",
]

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH: Final = 8192
"""Longer tokens are rejected before any parsing."""

SECRET_FILE_NAME: Final = "jwt-secret"  # noqa: S105  # a file name
SCOPES: Final = ("read", "write", "admin")

_GRANTS: Final[dict[str, frozenset[str]]] = {
    "read": frozenset({"read", "write", "admin"}),
    "write": frozenset({"write", "admin"}),
    "admin": frozenset({"admin"}),
}

_HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVES: Final = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_SUPPORTED: Final = _HMAC_ALGORITHMS | _RSA_ALGORITHMS | set(_EC_CURVES) | {"EdDSA"}

# Three base64url segments, each optionally padded (some issuers pad), ASCII
# only. The payload segment must be present: detached payloads are not used.
_COMPACT_JWS: Final = re.compile(
    r"[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}"
)

_JWKS_MAX_BYTES: Final = 1_048_576
_JWKS_TIMEOUT_SECONDS: Final = 5.0

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
_PUBLIC_KEY_TYPES: Final = (RSAPublicKey, EllipticCurvePublicKey, Ed25519PublicKey, Ed448PublicKey)
_PRIVATE_KEY_TYPES: Final = (
    RSAPrivateKey,
    EllipticCurvePrivateKey,
    Ed25519PrivateKey,
    Ed448PrivateKey,
)


class AuthConfig(msgspec.Struct, frozen=True):
    """How tokens are verified (INVTRACK_JWT_* variables).

    `algorithms` is the complete list of accepted algorithms. HS* algorithms
    need `secret`; RS*, PS*, ES* and EdDSA need `public_key` or `jwks_url`
    (one of them, not both). `audience` and `issuer` are checked when set.
    """

    secret: str | None = None
    public_key: str | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("HS256",)
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: int = 30

    def __repr__(self) -> str:
        # Configuration gets logged; the secret must not be.
        secret = None if self.secret is None else "<redacted>"
        return (
            f"AuthConfig(secret={secret!r}, public_key={self.public_key is not None!r}, "
            f"jwks_url={self.jwks_url!r}, algorithms={self.algorithms!r}, "
            f"audience={self.audience!r}, issuer={self.issuer!r}, "
            f"leeway_seconds={self.leeway_seconds!r})"
        )


class InvalidToken(Exception):
    """The token cannot be accepted. `reason` is short and safe to show: it
    never contains the token or a key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """The JWKS document could not be fetched, so a token that needs a key
    from it cannot be checked. This is a failure on our side, not the caller's."""


class Claims(msgspec.Struct, frozen=True):
    """A verified token's claims.

    `subject` is `sub`, else `name`, else `email` (ServiceMobility tokens carry
    no `sub`). `scopes` is empty when the token has none.
    """

    subject: str | None
    scopes: frozenset[str]
    expires_at: datetime
    raw: dict[str, Any]


def allows(claims: Claims, needed: str) -> bool:
    """Whether the token's scopes grant `needed`: read routes accept read,
    write or admin; write routes accept write or admin; admin routes admin."""
    try:
        granting = _GRANTS[needed]
    except KeyError:
        raise ValueError(f"unknown scope {needed!r}; expected one of {SCOPES}") from None
    return not granting.isdisjoint(claims.scopes)


class TokenVerifier:
    """Verifies tokens against one configuration; build it once.

    `verify` serves a secret or a PEM public key; with a JWKS URL use
    `verify_async`, which fetches the key set without blocking, caches it for
    `jwks_max_age_seconds`, and fetches it again when a token names a key id it
    does not hold (at most once per `jwks_min_refresh_seconds`).

    Raises `ValueError` when the configuration cannot verify what it allows.
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        http: httpx.AsyncClient | None = None,
        jwks_min_refresh_seconds: float = 30.0,
        jwks_max_age_seconds: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_config(config)
        self._config = config
        self._algorithms = frozenset(config.algorithms)
        self._secret = None if config.secret is None else config.secret.encode("utf-8")
        self._public_key = None if config.public_key is None else _pem_key(config)
        self._jwks = (
            None
            if config.jwks_url is None
            else _JwksKeys(
                config.jwks_url,
                http=http,
                min_refresh_seconds=jwks_min_refresh_seconds,
                max_age_seconds=jwks_max_age_seconds,
                monotonic=monotonic,
            )
        )
        self._jws = jwt.PyJWS()

    def verify(self, token: str, *, now: datetime | None = None) -> Claims:
        """The token's claims, or `InvalidToken`. Not for JWKS configurations."""
        if self._jwks is not None:
            raise RuntimeError("a verifier with a JWKS URL checks tokens with verify_async")
        moment = _moment(now)
        algorithm, _ = self._inspect(token)
        payload = self._signed_payload(token, algorithm, [self._static_key(algorithm)])
        return _claims(payload, self._config, moment)

    async def verify_async(self, token: str, *, now: datetime | None = None) -> Claims:
        """The token's claims, or `InvalidToken`; `KeysUnavailable` when the
        JWKS document is needed and cannot be fetched."""
        moment = _moment(now)
        algorithm, kid = self._inspect(token)
        if self._jwks is None or algorithm in _HMAC_ALGORITHMS:
            keys: list[PublicKey | bytes] = [self._static_key(algorithm)]
        else:
            keys = list(await self._jwks.keys_for(algorithm, kid))
        payload = self._signed_payload(token, algorithm, keys)
        return _claims(payload, self._config, moment)

    def _inspect(self, token: str) -> tuple[str, str | None]:
        """The header's algorithm and key id, once the algorithm is allowed."""
        if not isinstance(token, str):
            raise InvalidToken("token is malformed")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token is too large")
        if _COMPACT_JWS.fullmatch(token) is None:
            raise InvalidToken("token is malformed")
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, RecursionError):
            raise InvalidToken("token is malformed") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise InvalidToken("token algorithm is not allowed")
        if algorithm not in self._algorithms:
            raise InvalidToken("token algorithm is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("token is malformed")
        return algorithm, kid

    def _static_key(self, algorithm: str) -> PublicKey | bytes:
        # _check_config guarantees the key for every allowed algorithm.
        key = self._secret if algorithm in _HMAC_ALGORITHMS else self._public_key
        if key is None:
            raise RuntimeError(f"no key configured for {algorithm}")
        return key

    def _signed_payload(self, token: str, algorithm: str, keys: list[PublicKey | bytes]) -> bytes:
        """The payload bytes, once one of `keys` verifies the signature."""
        for key in keys:
            try:
                decoded = self._jws.decode_complete(token, key=key, algorithms=[algorithm])
            except jwt.InvalidSignatureError:
                continue
            except (jwt.PyJWTError, ValueError, RecursionError):
                raise InvalidToken("token is malformed") from None
            payload: bytes = decoded["payload"]
            return payload
        raise InvalidToken("token signature is invalid")


def mint(
    secret: str,
    *,
    scope: str | None,
    ttl_seconds: int,
    subject: str = "invtrack-cli",
    now: datetime | None = None,
) -> str:
    """An HS256 token with `sub`, `iat`, `exp` = `iat` + `ttl_seconds`, and
    `scope` when given."""
    if not secret:
        raise ValueError("a secret is required to mint a token")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued_at = int(_moment(now).timestamp())
    claims: dict[str, Any] = {"sub": subject, "iat": issued_at, "exp": issued_at + ttl_seconds}
    if scope is not None:
        claims["scope"] = scope
    return jwt.encode(claims, secret, algorithm="HS256")


def load_or_create_secret(data_dir: Path, name: str = SECRET_FILE_NAME) -> tuple[str, bool]:
    """The secret in `data_dir / name` (the HS256 secret in `jwt-secret` by
    default), and whether it was just created. The file is created once, with
    mode 0600, holding `secrets.token_urlsafe(48)`; every later start reuses
    it. Processes starting together all end up with the same secret."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    try:
        return _read_secret(path), False
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    staging = data_dir / f".{name}.{secrets.token_hex(8)}"
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if hasattr(os, "fchmod"):
            # The umask may have cleared bits of 0600; the file must be exactly that.
            os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails when the name exists, so exactly one complete file is
            # published and a concurrent reader never sees a half-written one.
            os.link(staging, path)
        except FileExistsError:
            return _read_secret(path), False
        return secret, True
    finally:
        staging.unlink(missing_ok=True)


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise ValueError(f"{path} is empty; remove it to have a new secret created")
    return secret


# Configuration ---------------------------------------------------------------


def _check_config(config: AuthConfig) -> None:
    """Refuse a configuration that would accept what it cannot verify."""
    if not config.algorithms:
        raise ValueError("INVTRACK_JWT_ALGORITHMS names no algorithm")
    for algorithm in config.algorithms:
        if algorithm.lower() == "none":
            raise ValueError("INVTRACK_JWT_ALGORITHMS may not allow 'none'")
        if algorithm not in _SUPPORTED:
            raise ValueError(
                f"INVTRACK_JWT_ALGORITHMS: unsupported algorithm {algorithm!r}; "
                f"supported: {', '.join(sorted(_SUPPORTED))}"
            )
    if config.leeway_seconds < 0:
        raise ValueError("the JWT leeway must not be negative")
    if config.public_key is not None and config.jwks_url is not None:
        raise ValueError("set INVTRACK_JWT_PUBLIC_KEY or INVTRACK_JWT_JWKS_URL, not both")
    hmac = [a for a in config.algorithms if a in _HMAC_ALGORITHMS]
    asymmetric = [a for a in config.algorithms if a not in _HMAC_ALGORITHMS]
    if hmac and not config.secret:
        hint = ""
        if config.public_key is not None or config.jwks_url is not None:
            hint = "; to verify with a public key, set INVTRACK_JWT_ALGORITHMS to e.g. RS256"
        raise ValueError(
            f"INVTRACK_JWT_ALGORITHMS allows {', '.join(hmac)}, "
            f"which needs INVTRACK_JWT_SECRET{hint}"
        )
    if config.secret is not None:
        try:
            # Refuses secrets that look like PEM or SSH keys: such a "secret"
            # is the classic way to let a public key act as an HMAC key.
            HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(config.secret)
        except jwt.InvalidKeyError:
            raise ValueError(
                "INVTRACK_JWT_SECRET must be a shared secret, not a public or private key"
            ) from None
    if asymmetric and config.public_key is None and config.jwks_url is None:
        raise ValueError(
            f"INVTRACK_JWT_ALGORITHMS allows {', '.join(asymmetric)}, "
            "which needs INVTRACK_JWT_PUBLIC_KEY or INVTRACK_JWT_JWKS_URL"
        )
    if config.public_key is not None:
        key = _pem_key(config)
        for algorithm in asymmetric:
            if not _fits(algorithm, key):
                raise ValueError(
                    f"INVTRACK_JWT_ALGORITHMS allows {algorithm}, "
                    f"but INVTRACK_JWT_PUBLIC_KEY is {_describe(key)}"
                )
    if config.jwks_url is not None:
        try:
            scheme = httpx.URL(config.jwks_url).scheme
        except httpx.InvalidURL:
            scheme = ""
        if scheme not in ("http", "https"):
            raise ValueError("INVTRACK_JWT_JWKS_URL must be an http or https URL")


def _pem_key(config: AuthConfig) -> PublicKey:
    text = config.public_key or ""
    if "\n" not in text and "\\n" in text:
        # Environment files often hold a PEM on one line with escaped newlines.
        text = text.replace("\\n", "\n")
    data = text.strip().encode("utf-8")
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("INVTRACK_JWT_PUBLIC_KEY is not a PEM public key or certificate") from None
    if not isinstance(key, _PUBLIC_KEY_TYPES):
        raise ValueError(f"INVTRACK_JWT_PUBLIC_KEY is {_describe(key)}, which cannot verify JWTs")
    return key


def _fits(algorithm: str, key: object) -> bool:
    """Whether `key` is of the type `algorithm` signs with."""
    if algorithm in _RSA_ALGORITHMS:
        return isinstance(key, RSAPublicKey)
    if algorithm in _EC_CURVES:
        return isinstance(key, EllipticCurvePublicKey) and key.curve.name == _EC_CURVES[algorithm]
    if algorithm == "EdDSA":
        return isinstance(key, Ed25519PublicKey | Ed448PublicKey)
    return False


def _describe(key: object) -> str:
    if isinstance(key, RSAPublicKey):
        return "an RSA key"
    if isinstance(key, EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    if isinstance(key, Ed25519PublicKey | Ed448PublicKey):
        return "an EdDSA key"
    return f"a {type(key).__name__}"


# Claims ------------------------------------------------------------------------


def _moment(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _claims(payload: bytes, config: AuthConfig, now: datetime) -> Claims:
    """The claims of a payload whose signature is verified, once its times,
    audience and issuer are acceptable."""
    raw = _json_object(payload)
    current = now.timestamp()
    leeway = config.leeway_seconds
    expires = _numeric_date(raw, "exp")
    if expires is None:
        raise InvalidToken("token has no exp claim")
    if current >= expires + leeway:
        raise InvalidToken("token has expired")
    not_before = _numeric_date(raw, "nbf")
    if not_before is not None and not_before > current + leeway:
        raise InvalidToken("token is not valid yet")
    issued_at = _numeric_date(raw, "iat")
    if issued_at is not None and issued_at > current + leeway:
        raise InvalidToken("token is issued in the future")
    if config.audience is not None and not _has_audience(raw.get("aud"), config.audience):
        raise InvalidToken("token audience is not accepted")
    if config.issuer is not None and raw.get("iss") != config.issuer:
        raise InvalidToken("token issuer is not accepted")
    return Claims(
        subject=_subject(raw),
        scopes=_scopes(raw),
        expires_at=_datetime(expires),
        raw=raw,
    )


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(
            payload,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError):
        raise InvalidToken("token is malformed") from None
    if not isinstance(value, dict):
        raise InvalidToken("token is malformed")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which duplicate wins; a token with duplicates is
    # ambiguous, so it is refused.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate claim")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _numeric_date(raw: dict[str, Any], name: str) -> int | float | None:
    """An RFC 7519 NumericDate claim, or None when absent."""
    if name not in raw:
        return None
    value = raw[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"token has a malformed {name} claim")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidToken(f"token has a malformed {name} claim")
    return value


def _datetime(seconds: int | float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        # Beyond what datetime holds; only far-future values get past the expiry check.
        return datetime.max.replace(tzinfo=UTC)


def _has_audience(audience: object, expected: str) -> bool:
    if isinstance(audience, str):
        return audience == expected
    return isinstance(audience, list) and expected in audience


def _subject(raw: dict[str, Any]) -> str | None:
    for name in ("sub", "name", "email"):
        value = raw.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _scopes(raw: dict[str, Any]) -> frozenset[str]:
    """`scope` as a space-separated string; `scp` as a list or a string.
    Values of any other shape grant nothing."""
    scopes: set[str] = set()
    scope = raw.get("scope")
    if isinstance(scope, str):
        scopes.update(scope.split())
    scp = raw.get("scp")
    if isinstance(scp, str):
        scopes.update(scp.split())
    elif isinstance(scp, list):
        scopes.update(item for item in scp if isinstance(item, str) and item)
    return frozenset(scopes)


# JWKS --------------------------------------------------------------------------


class _JwksDocument(msgspec.Struct):
    keys: list[dict[str, Any]]


_JWKS_DECODER: Final = msgspec.json.Decoder(_JwksDocument)


@dataclass(frozen=True, slots=True)
class _Jwk:
    kid: str | None
    algorithm: str | None
    key: PublicKey


class _FetchFailed(Exception):
    pass


class _JwksKeys:
    """The signing keys of one JWKS document, fetched when first needed, when
    older than `max_age_seconds`, or when a token names an unknown key id;
    fetches are at least `min_refresh_seconds` apart so that tokens with made-up
    key ids cannot make us hammer the issuer."""

    def __init__(
        self,
        url: str,
        *,
        http: httpx.AsyncClient | None,
        min_refresh_seconds: float,
        max_age_seconds: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._url = url
        self._http = http
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._keys: list[_Jwk] = []
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._attempts = 0
        self._failed = False
        self._lock = asyncio.Lock()

    async def keys_for(self, algorithm: str, kid: str | None) -> list[PublicKey]:
        """The cached keys that may have signed a token with this header."""
        stale = self._fetched_at is None or self._monotonic() - self._fetched_at >= self._max_age
        if stale:
            await self._refresh()
        found = self._matching(algorithm, kid)
        if not found:
            await self._refresh()
            found = self._matching(algorithm, kid)
        if found:
            return found
        if self._failed:
            raise KeysUnavailable("the JWKS document could not be fetched")
        raise InvalidToken("token signing key is unknown")

    def _may_fetch(self) -> bool:
        return (
            self._attempted_at is None
            or self._monotonic() - self._attempted_at >= self._min_refresh
        )

    def _matching(self, algorithm: str, kid: str | None) -> list[PublicKey]:
        # The key must suit the configured algorithm the token uses; a key id
        # only picks among the trusted keys of that type.
        return [
            jwk.key
            for jwk in self._keys
            if (kid is None or jwk.kid == kid)
            and jwk.algorithm in (None, algorithm)
            and _fits(algorithm, jwk.key)
        ]

    async def _refresh(self) -> None:
        """Fetch the document unless fetched too recently; a request arriving
        during a fetch waits for it instead of starting its own."""
        if not self._lock.locked() and not self._may_fetch():
            return
        attempt = self._attempts
        async with self._lock:
            if self._attempts != attempt or not self._may_fetch():
                return
            self._attempts += 1
            self._attempted_at = self._monotonic()
            try:
                keys = await self._fetch()
            except _FetchFailed as error:
                # Keep serving the keys we have; an outage of the issuer must
                # not reject tokens signed with keys we already know.
                log.warning("fetching the JWKS document failed: %s", error)
                self._failed = True
                return
            self._keys = keys
            self._fetched_at = self._attempted_at
            self._failed = False

    async def _fetch(self) -> list[_Jwk]:
        try:
            if self._http is not None:
                body = await _download(self._http, self._url)
            else:
                async with httpx.AsyncClient(timeout=_JWKS_TIMEOUT_SECONDS) as client:
                    body = await _download(client, self._url)
            document = _JWKS_DECODER.decode(body)
        except httpx.HTTPError as error:
            raise _FetchFailed(type(error).__name__) from None
        except msgspec.DecodeError:
            raise _FetchFailed("the response is not a JWKS document") from None
        return [jwk for jwk in map(_parse_jwk, document.keys) if jwk is not None]


async def _download(client: httpx.AsyncClient, url: str) -> bytes:
    async with client.stream("GET", url) as response:
        if response.status_code != httpx.codes.OK:
            raise _FetchFailed(f"HTTP {response.status_code}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > _JWKS_MAX_BYTES:
                raise _FetchFailed("the response is too large")
        return bytes(body)


def _parse_jwk(data: dict[str, Any]) -> _Jwk | None:
    """A signature-verification public key, or None for any other entry.
    Symmetric (`oct`) keys are never taken from a JWKS document."""
    if data.get("kty") not in ("RSA", "EC", "OKP") or data.get("use", "sig") != "sig":
        return None
    kid = data.get("kid")
    algorithm = data.get("alg")
    if not isinstance(kid, str | None) or not isinstance(algorithm, str | None):
        return None
    try:
        key: object = jwt.PyJWK(data).key
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
    if isinstance(key, _PRIVATE_KEY_TYPES):
        key = key.public_key()
    if not isinstance(key, _PUBLIC_KEY_TYPES):
        return None
    return _Jwk(kid=kid, algorithm=algorithm, key=key)
