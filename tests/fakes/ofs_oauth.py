"""The OFS token service, faked to Oracle's spec (shared/vendor/ofs-oauth-token.openapi.json).

`POST /rest/oauthTokenService/v2/token`, a form (`application/x-www-form-urlencoded`):

- `grant_type=client_credentials`: the application authenticates with HTTP
  Basic `clientId@instance:secret`;
- `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and `assertion`: an
  RS256 JWT signed with the application's key (the fake holds its public key),
  `aud` = `ofsc:<instance>:<clientId>`, `sub` = the `aud` or a user's login,
  `iat` and `exp` (not yet passed).

It answers `{"access_token", "token_type": "bearer", "expires_in"}`, and the
OFS Error object (401, 400) otherwise. A token is valid for `lifetime` seconds
of the fake's clock, or until `revoke()`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.http import Problem

TOKEN_PATH: Final = "/rest/oauthTokenService/v2/token"  # a path
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM: Final = "application/x-www-form-urlencoded"


@functools.cache
def key_pair() -> tuple[str, str]:
    """An RSA key pair for assertions (private PEM, public PEM), made once per run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class FakeTokenService:
    """The token service of one OFS instance with one registered application."""

    client_id: str
    instance: str
    secret: str
    clock: Callable[[], datetime]
    public_key: str = field(default_factory=lambda: key_pair()[1])
    users: frozenset[str] = frozenset({"jsmith"})
    lifetime: int = 3600
    stated_lifetime: int | None = None
    """`expires_in` as the answers state it, when not the real lifetime."""
    omit_lifetime: bool = False
    """Answer without `expires_in` (the file does not require it)."""
    issued: dict[str, datetime] = field(default_factory=dict)
    """Access token -> when it expires."""
    revoked: set[str] = field(default_factory=set)
    grants: list[str] = field(default_factory=list)
    """The grant type of every token issued, in order."""
    assertions: list[dict[str, Any]] = field(default_factory=list)
    """The claims of every assertion accepted."""

    @property
    def audience(self) -> str:
        return f"ofsc:{self.instance}:{self.client_id}"

    def valid(self, token: str) -> bool:
        expires = self.issued.get(token)
        return expires is not None and token not in self.revoked and self.clock() < expires

    def revoke(self) -> None:
        """Every token issued so far stops working at once."""
        self.revoked.update(self.issued)

    def grant(self, authorization: str, content_type: str, body: bytes) -> dict[str, Any]:
        """A token for the form posted, or Problem."""
        if content_type.split(";")[0].strip().lower() != FORM:
            raise Problem(400, f"the body must be {FORM}")
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            self._check_basic(authorization)
        elif grant_type == JWT_BEARER:
            self.assertions.append(self._check_assertion(form.get("assertion", "")))
        else:
            raise Problem(400, f"unsupported grant_type {grant_type!r}")
        token = secrets.token_urlsafe(24)
        self.issued[token] = self.clock() + timedelta(seconds=self.lifetime)
        self.grants.append(grant_type)
        granted: dict[str, Any] = {"access_token": token, "token_type": "bearer"}
        if not self.omit_lifetime:
            stated = self.stated_lifetime
            granted["expires_in"] = self.lifetime if stated is None else stated
        return granted

    def _check_basic(self, authorization: str) -> None:
        scheme, _, credentials = authorization.partition(" ")
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, _, password = decoded.partition(":")
        expected = f"{self.client_id}@{self.instance}"
        if not (
            scheme.lower() == "basic"
            and hmac.compare_digest(user, expected)
            and hmac.compare_digest(password, self.secret)
        ):
            raise Problem(401, "Client authentication failed")

    def _check_assertion(self, assertion: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=self.audience,
                options={"require": ["aud", "sub", "iat", "exp"], "verify_exp": False},
            )
        except jwt.PyJWTError as error:
            raise Problem(401, f"invalid assertion: {error}") from None
        now = self.clock().timestamp()
        if claims["exp"] <= now or claims["iat"] > now + 60:
            raise Problem(401, "the assertion is expired or not yet valid")
        if claims["sub"] != self.audience and claims["sub"] not in self.users:
            raise Problem(401, f"unknown subject {claims['sub']!r}")
        return claims
