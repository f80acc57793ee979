"""Verifying the JWTs callers present. PyJWT checks the signature, `exp`
(required), `nbf` and `iat` with the leeway, `aud` and `iss` when configured,
and prepares the keys: it refuses a PEM, SSH or DER key as an HMAC secret and
a key of the wrong type or curve. Deliberately stricter: the algorithms come
from configuration (never `none`), not from the token, each with its one key
(HS* the secret, the others the PEM key or a key of the JWKS document), so a
key a token names or carries is never used; tokens over MAX_TOKEN_LENGTH are
refused unparsed; payloads are read strictly (`claims.read_payload`).

JWKS: PyJWT's `PyJWKClient` fetches the document (timeout, http(s) only, no
redirects), caches it for `max_age_seconds` and fetches it again for an
unknown key id at most once per `min_refresh_seconds`, in a thread. Ours: the
last document's keys serve while the issuer is unreachable, and only
signature keys made for the token's algorithm are used, the key id choosing
among those.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Final
from urllib.parse import urlsplit

import jwt
import msgspec
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import HMACAlgorithm, get_default_algorithms

from adapters.auth.claims import Claims, InvalidToken, KeysUnavailable, read_payload

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH: Final = 8192

SUPPORTED: Final = frozenset(get_default_algorithms()) - {"none", "ES256K", "ES521"}
# Three base64url segments (padding allowed: some issuers pad), none empty.
_COMPACT: Final = re.compile(r"(?:[\w-]+={0,2}\.){2}[\w-]+={0,2}", re.ASCII)


class AuthConfig(msgspec.Struct, frozen=True):
    """How tokens are verified (INVTRACK_JWT_* variables): `algorithms` is the
    complete list accepted; HS* need `secret`, the others `public_key` or
    `jwks_url` (not both); `audience` and `issuer` are checked when set."""

    secret: str | None = None
    public_key: str | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("HS256",)
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: int = 30

    def __repr__(self) -> str:  # configuration gets logged; the secret must not be
        shown = msgspec.structs.asdict(self) | {"secret": self.secret and "<redacted>"}
        return f"AuthConfig({', '.join(f'{name}={value!r}' for name, value in shown.items())})"


class _StrictPyJWT(jwt.PyJWT):
    """PyJWT reading payloads with `read_payload`, through the hook it provides."""

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        return read_payload(decoded["payload"])


class TokenVerifier:
    """Verifies tokens against one configuration (`verify_async` when it has a
    JWKS URL); `ValueError` names the INVTRACK_JWT_* variable that cannot be used."""

    def __init__(
        self,
        config: AuthConfig,
        *,
        jwks_min_refresh_seconds: float = 30.0,
        jwks_max_age_seconds: float = 600.0,
    ) -> None:
        self._config = config
        self._keys = _keys(config)
        self._checks: dict[str, Any] = {
            "audience": config.audience,
            "issuer": config.issuer,
            "leeway": config.leeway_seconds,
        }
        self._jwks = None
        if config.jwks_url is not None:
            self._jwks = JwksKeys(config.jwks_url, jwks_min_refresh_seconds, jwks_max_age_seconds)
        self._jwt = _StrictPyJWT(
            options={
                "require": ["exp"],
                "verify_aud": config.audience is not None,
                "verify_iss": config.issuer is not None,
                # Any `sub` and `jti` are accepted; the subject falls back to name or email.
                "verify_sub": False,
                "verify_jti": False,
            }
        )

    def verify(self, token: str) -> Claims:
        """The token's claims, or `InvalidToken`. Not for JWKS configurations."""
        if self._jwks is not None:
            raise RuntimeError("a verifier with a JWKS URL checks tokens with verify_async")
        algorithm, _ = self._header(token)
        return self._decode(token, algorithm, [self._keys[algorithm]])

    async def verify_async(self, token: str) -> Claims:
        """The token's claims, or `InvalidToken`; `KeysUnavailable` when the
        JWKS document is needed and cannot be fetched."""
        algorithm, kid = self._header(token)
        key = self._keys[algorithm]
        if key is None and self._jwks is not None:
            return self._decode(token, algorithm, await self._jwks.keys_for(algorithm, kid))
        return self._decode(token, algorithm, [key])

    def _header(self, token: str) -> tuple[str, str | None]:
        """The header's algorithm, once allowed, and key id."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token is too large")
        try:
            header = jwt.get_unverified_header(token) if _COMPACT.fullmatch(token) else None
        except (jwt.PyJWTError, ValueError, RecursionError):
            header = None
        if header is None:
            raise InvalidToken("token is malformed")
        if header.get("alg") not in self._config.algorithms:
            raise InvalidToken("token algorithm is not allowed")
        return header["alg"], header.get("kid")  # PyJWT has checked that a kid is a string

    def _decode(self, token: str, algorithm: str, keys: list[Any]) -> Claims:
        """The claims, once one of `keys` verifies the signature."""
        for key in keys:
            try:
                payload = self._jwt.decode(token, key, [algorithm], **self._checks)
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError):
                continue
            except jwt.PyJWTError as error:
                raise InvalidToken(_reason(error)) from None
            except (ValueError, RecursionError):
                raise InvalidToken("token is malformed") from None
            return Claims.of(payload)
        raise InvalidToken("token signature is invalid")


def _reason(error: jwt.PyJWTError) -> str:
    claim = getattr(error, "claim", None)  # of a MissingRequiredClaimError
    if isinstance(error, InvalidToken):  # from read_payload
        return error.reason
    if isinstance(error, jwt.ExpiredSignatureError):
        return "token has expired"
    if isinstance(error, jwt.ImmatureSignatureError):  # its message names the claim
        return (
            "token is issued in the future" if "(iat)" in str(error) else "token is not valid yet"
        )
    if isinstance(error, jwt.InvalidAudienceError) or claim == "aud":
        return "token audience is not accepted"
    if isinstance(error, jwt.InvalidIssuerError) or claim == "iss":
        return "token issuer is not accepted"
    return "token has no exp claim" if claim == "exp" else "token is malformed"


def _keys(config: AuthConfig) -> dict[str, Any]:
    """The prepared key of each allowed algorithm; None: one from the JWKS document."""
    if not config.algorithms:
        raise ValueError("INVTRACK_JWT_ALGORITHMS names no algorithm")
    if config.leeway_seconds < 0:
        raise ValueError("INVTRACK_JWT_LEEWAY: the leeway must not be negative")
    if config.public_key is not None and config.jwks_url is not None:
        raise ValueError("set INVTRACK_JWT_PUBLIC_KEY or INVTRACK_JWT_JWKS_URL, not both")
    if config.jwks_url is not None and urlsplit(config.jwks_url).scheme not in ("http", "https"):
        raise ValueError("INVTRACK_JWT_JWKS_URL must be an http or https URL")
    unsupported = [name for name in config.algorithms if name not in SUPPORTED]
    if unsupported:
        raise ValueError(f"INVTRACK_JWT_ALGORITHMS: unsupported algorithm {unsupported[0]!r}")
    public_key = None if config.public_key is None else _pem(config.public_key)
    return {name: _key(config, public_key, name) for name in config.algorithms}


def _key(config: AuthConfig, public_key: object, name: str) -> Any:
    algorithm = jwt.get_algorithm_by_name(name)
    hmac = isinstance(algorithm, HMACAlgorithm)
    key = config.secret if hmac else public_key
    if not key and (hmac or config.jwks_url is None):
        needs = "INVTRACK_JWT_SECRET (or, for a public key, INVTRACK_JWT_ALGORITHMS=RS256)"
        if not hmac:
            needs = "INVTRACK_JWT_PUBLIC_KEY or INVTRACK_JWT_JWKS_URL"
        raise ValueError(f"INVTRACK_JWT_ALGORITHMS allows {name}, which needs {needs}")
    try:
        return key and algorithm.prepare_key(key)
    except (jwt.InvalidKeyError, TypeError):
        if hmac:
            raise ValueError("INVTRACK_JWT_SECRET must be a shared secret, not a key") from None
        curve = getattr(key, "curve", None)
        kind = type(key).__name__.removesuffix("PublicKey") + " key"
        kind += "" if curve is None else f" on {curve.name}"
        raise ValueError(f"INVTRACK_JWT_PUBLIC_KEY ({kind}) cannot verify {name}") from None


def _pem(text: str) -> object:
    """A PEM public key; one with escaped newlines (environment files often
    hold a PEM on one line) too."""
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    try:
        return load_pem_public_key(text.strip().encode())
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("INVTRACK_JWT_PUBLIC_KEY is not a PEM public key") from None


class JwksKeys:
    """The signing keys of one JWKS document."""

    def __init__(self, url: str, min_refresh_seconds: float, max_age_seconds: float) -> None:
        self._client = jwt.PyJWKClient(
            url, lifespan=max_age_seconds, cooldown_duration=min_refresh_seconds, timeout=5.0
        )
        self._last: jwt.PyJWKSet | None = None
        self._lock = asyncio.Lock()

    async def keys_for(self, algorithm: str, kid: str | None) -> list[Any]:
        """The public keys that may have signed a token with this header."""
        async with self._lock:
            found = _matching(await self._document(), algorithm, kid)
            if not found and kid is not None:
                found = _matching(await self._with_key(kid), algorithm, kid)
        if not found:
            raise InvalidToken("token signing key is unknown")
        return found

    async def _document(self) -> list[jwt.PyJWK]:
        """The cached document, fetched again once old; the last one fetched
        while the issuer does not answer."""
        try:
            self._last = await asyncio.to_thread(self._client.get_jwk_set)
        except jwt.PyJWKClientConnectionError as error:
            if self._last is None:
                raise _unavailable(error) from None
            log.warning("fetching the JWKS document failed, keeping its keys: %s", error)
        except (jwt.PyJWTError, ValueError) as error:
            raise _unavailable(error) from None
        return self._last.keys

    async def _with_key(self, kid: str) -> list[jwt.PyJWK]:
        """The document fetched again for an unknown key id, unless fetched too recently."""
        try:
            return [await asyncio.to_thread(self._client.get_signing_key, kid)]
        except jwt.PyJWKClientConnectionError as error:
            raise _unavailable(error) from None
        except (jwt.PyJWTError, ValueError):
            return []  # no such key id in the document


def _unavailable(error: Exception) -> KeysUnavailable:
    log.warning("fetching the JWKS document failed: %s", error)
    return KeysUnavailable("the JWKS document could not be fetched")


def _matching(keys: list[jwt.PyJWK], algorithm: str, kid: str | None) -> list[Any]:
    return [
        # A private key published by mistake verifies as its public half.
        key.key.public_key() if hasattr(key.key, "private_bytes") else key.key
        for key in keys
        if key.algorithm_name == algorithm
        and key.public_key_use in ("sig", None)
        and kid in (None, key.key_id)
    ]
