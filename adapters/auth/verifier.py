"""Verifying the JWTs callers present, with PyJWT.

What PyJWT checks for us (`jwt.decode`): the signature with the algorithms we
pass, `exp` (required), `nbf` and `iat` with the configured leeway, and `aud`
and `iss` when configured. What we add, deliberately stricter:

- The accepted algorithms come from configuration, never from the token: a
  token whose header names any other algorithm (or `none`) is refused before
  a key is chosen, and the key follows the algorithm's type: HS* tokens are
  checked with the configured secret only, asymmetric ones with the
  configured PEM key or a key of the configured JWKS document only. A key a
  token names or carries is never used.
- Tokens longer than MAX_TOKEN_LENGTH are refused before any parsing, and
  only compact serialisations with a payload are read.
- The payload is read strictly (adapters.auth.claims.read_payload).

Anything wrong with a token raises `InvalidToken` with a short reason that is
safe to show to the caller.
"""

from __future__ import annotations

import re
from typing import Any, Final

import jwt

from adapters.auth.claims import Claims, read_payload
from adapters.auth.config import HMAC_ALGORITHMS, AuthConfig, PublicKey, check, pem_key
from adapters.auth.errors import InvalidToken
from adapters.auth.jwks import JwksKeys

MAX_TOKEN_LENGTH: Final = 8192
"""Longer tokens are rejected before any parsing."""

# Three base64url segments, each optionally padded (some issuers pad), ASCII
# only. The payload segment must be present: detached payloads are not used.
_COMPACT_JWS: Final = re.compile(
    r"[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}"
)

_REASONS: Final[dict[type[jwt.PyJWTError], str]] = {
    jwt.ExpiredSignatureError: "token has expired",
    jwt.InvalidAudienceError: "token audience is not accepted",
    jwt.InvalidIssuerError: "token issuer is not accepted",
}
_MISSING: Final = {
    "exp": "token has no exp claim",
    "aud": "token audience is not accepted",
    "iss": "token issuer is not accepted",
}


class _StrictPyJWT(jwt.PyJWT):
    """PyJWT reading payloads with `read_payload`, through the hook PyJWT
    provides for that."""

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        return read_payload(decoded["payload"])


class TokenVerifier:
    """Verifies tokens against one configuration; build it once.

    `verify` serves a secret or a PEM public key; with a JWKS URL use
    `verify_async`, which gets the key set through `JwksKeys`.

    Raises `ValueError` when the configuration cannot verify what it allows.
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        jwks_min_refresh_seconds: float = 30.0,
        jwks_max_age_seconds: float = 600.0,
    ) -> None:
        check(config)
        self._config = config
        self._secret = None if config.secret is None else config.secret.encode("utf-8")
        self._public_key = None if config.public_key is None else pem_key(config.public_key)
        self._jwks = (
            None
            if config.jwks_url is None
            else JwksKeys(
                config.jwks_url,
                min_refresh_seconds=jwks_min_refresh_seconds,
                max_age_seconds=jwks_max_age_seconds,
            )
        )
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
        algorithm, _ = self._inspect(token)
        return self._decode(token, algorithm, [self._static_key(algorithm)])

    async def verify_async(self, token: str) -> Claims:
        """The token's claims, or `InvalidToken`; `KeysUnavailable` when the
        JWKS document is needed and cannot be fetched."""
        algorithm, kid = self._inspect(token)
        if self._jwks is None or algorithm in HMAC_ALGORITHMS:
            keys: list[PublicKey | bytes] = [self._static_key(algorithm)]
        else:
            keys = list(await self._jwks.keys_for(algorithm, kid))
        return self._decode(token, algorithm, keys)

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
        if not isinstance(algorithm, str) or algorithm not in self._config.algorithms:
            raise InvalidToken("token algorithm is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("token is malformed")
        return algorithm, kid

    def _static_key(self, algorithm: str) -> PublicKey | bytes:
        # check() guarantees the key for every allowed algorithm.
        key = self._secret if algorithm in HMAC_ALGORITHMS else self._public_key
        if key is None:
            raise RuntimeError(f"no key configured for {algorithm}")
        return key

    def _decode(self, token: str, algorithm: str, keys: list[PublicKey | bytes]) -> Claims:
        """The claims, once one of `keys` verifies the signature. `algorithm`
        is the header's, already found in the configured list: the one the key
        was chosen for."""
        for key in keys:
            try:
                payload = self._jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=self._config.audience,
                    issuer=self._config.issuer,
                    leeway=self._config.leeway_seconds,
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as error:
                raise InvalidToken(_reason(error)) from None
            except (ValueError, RecursionError):
                raise InvalidToken("token is malformed") from None
            return Claims.of(payload)
        raise InvalidToken("token signature is invalid")


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return _MISSING.get(error.claim, "token is malformed")
    if isinstance(error, jwt.ImmatureSignatureError):
        # PyJWT raises this for both; its message names the claim.
        return (
            "token is issued in the future" if "(iat)" in str(error) else "token is not valid yet"
        )
    return _REASONS.get(type(error), "token is malformed")
