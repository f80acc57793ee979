"""Signing keys from a JWKS document, through PyJWT's `PyJWKClient`.

PyJWKClient fetches the document (with a timeout, http and https only, no
redirects), caches it for `max_age_seconds`, and on a key id it does not know
fetches it again, at most once per `min_refresh_seconds`, so tokens with
made-up key ids cannot make us hammer the issuer. It blocks, so it runs in a
thread, one fetch at a time. What we keep on top of it:

- While the issuer is unreachable, the keys of the last document fetched keep
  verifying the tokens they signed; only a token needing another key waits
  for the issuer (`KeysUnavailable`).
- Only signature keys of the token's own type are used: never a symmetric
  (`oct`) key, never a key whose `alg` names another algorithm (a key without
  `alg` counts as its type's default: RS256, ES256..., EdDSA), and a key id
  only chooses among those.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from adapters.auth.config import PUBLIC_KEY_TYPES, PublicKey, fits
from adapters.auth.errors import InvalidToken, KeysUnavailable

log = logging.getLogger(__name__)

TIMEOUT_SECONDS: Final = 5.0
_ASYMMETRIC: Final = ("RSA", "EC", "OKP")
_PRIVATE_KEY_TYPES: Final = (
    RSAPrivateKey,
    EllipticCurvePrivateKey,
    Ed25519PrivateKey,
    Ed448PrivateKey,
)


class JwksKeys:
    """The signing keys of one JWKS document."""

    def __init__(self, url: str, *, min_refresh_seconds: float, max_age_seconds: float) -> None:
        self._client = jwt.PyJWKClient(
            url,
            lifespan=max_age_seconds,
            cooldown_duration=min_refresh_seconds,
            timeout=TIMEOUT_SECONDS,
        )
        self._last: jwt.PyJWKSet | None = None
        self._lock = asyncio.Lock()

    async def keys_for(self, algorithm: str, kid: str | None) -> list[PublicKey]:
        """The keys that may have signed a token with this header."""
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
            log.warning("fetching the JWKS document failed, keeping the known keys: %s", error)
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


def _matching(keys: list[jwt.PyJWK], algorithm: str, kid: str | None) -> list[PublicKey]:
    """The public keys among `keys` that may have signed a token of `algorithm` and `kid`."""
    found = []
    for jwk in keys:
        if (
            jwk.key_type in _ASYMMETRIC
            and jwk.public_key_use in ("sig", None)
            and (kid is None or jwk.key_id == kid)
            and jwk.algorithm_name == algorithm
        ):
            key = jwk.key.public_key() if isinstance(jwk.key, _PRIVATE_KEY_TYPES) else jwk.key
            if isinstance(key, PUBLIC_KEY_TYPES) and fits(algorithm, key):
                found.append(key)
    return found
