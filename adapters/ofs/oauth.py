"""How invtrack proves who it is to OFS: HTTP Basic, a fixed bearer token, or
OAuth 2.0 access tokens from the instance's token service.

The token service (`POST /rest/oauthTokenService/v2/token`, a form) grants:

- `client_credentials`: the application authenticates with HTTP Basic
  `clientId@instance:secret`;
- `urn:ietf:params:oauth:grant-type:jwt-bearer`: the application sends an
  RS256 assertion signed with its private key (OFS holds the certificate):
  `aud` is `ofsc:<instance>:<clientId>`, `sub` the same (acting as the
  application) or an OFS user's login, `iat` now and a short `exp`.

It answers `{"access_token", "token_type", "expires_in"}`; the token goes in
`Authorization: Bearer` and is renewed before `expires_in` runs out, and once
after a 401.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Final, Literal

import httpx
import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from adapters.ofs.client import OfsRejected, OfsUnavailable, error_detail
from adapters.pulling import failure
from adapters.tokens import RenewingAuth, Token, renewal_time

TOKEN_PATH: Final = "/rest/oauthTokenService/v2/token"  # noqa: S105  # a path
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS: Final = 120
"""Lifetime of a signed assertion: OFS asks for a short one."""

Grant = Literal["basic", "bearer", "client_credentials", "jwt"]
GRANTS: Final[tuple[Grant, ...]] = ("basic", "bearer", "client_credentials", "jwt")


class BearerAuth(httpx.Auth):
    """A fixed OAuth access token in `Authorization: Bearer`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass(frozen=True, kw_only=True)
class OfsCredentials:
    """One OFS application's credentials and how to use them.

    `grant`: `basic` (the default with a client secret), `bearer` (the default
    with a fixed `token`), `client_credentials` or `jwt` (OAuth 2.0 tokens from
    the token service; `jwt` signs assertions with `private_key`, a PEM RSA
    key, naming `user` as the subject or else the application itself).
    """

    client_id: str | None = None
    instance: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    user: str | None = None
    grant: Grant | None = None

    def __post_init__(self) -> None:
        grant = self.mode
        if grant not in GRANTS:
            raise ValueError(f"unknown OFS grant {grant!r}: one of {', '.join(GRANTS)}")
        if grant == "bearer" and not self.token:
            raise ValueError("OFS bearer authentication needs a token")
        if grant != "bearer" and not (self.client_id and self.instance):
            raise ValueError("OFS needs a token, or a client id and an instance name")
        if grant in ("basic", "client_credentials") and not self.client_secret:
            raise ValueError("OFS needs a token, or a client id, instance name and client secret")
        if grant == "jwt" and not self.private_key:
            raise ValueError("the OFS jwt grant needs a private key")

    @property
    def mode(self) -> Grant:
        if self.grant is not None:
            return self.grant
        return "bearer" if self.token is not None else "basic"

    @property
    def label(self) -> str:
        """Who we are, without a secret: `clientId@instance`, or `token`."""
        return "token" if self.mode == "bearer" else f"{self.client_id}@{self.instance}"

    def auth(self, base_url: str, *, clock: Callable[[], float] = time.time) -> httpx.Auth:
        """The httpx auth flow for requests to the instance at `base_url`."""
        mode = self.mode
        if mode == "bearer":
            assert self.token is not None
            return BearerAuth(self.token)
        assert self.client_id is not None
        assert self.instance is not None
        if mode == "basic":
            assert self.client_secret is not None
            return basic_auth(self.client_id, self.instance, self.client_secret)
        return OfsOAuth(self, base_url, clock=clock)


def basic_auth(client_id: str, instance: str, secret: str) -> httpx.Auth:
    """OFS Basic authentication: user `clientId@instanceName`, password the secret."""
    return httpx.BasicAuth(f"{client_id}@{instance}", secret)


class _Granted(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: float | None = None
    token_type: str | None = None


class OfsOAuth(RenewingAuth):
    """Access tokens from the OFS token service, with either grant."""

    def __init__(
        self, credentials: OfsCredentials, base_url: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.credentials = credentials
        self.url = base_url.rstrip("/") + TOKEN_PATH
        self._key: RSAPrivateKey | None = None
        if credentials.mode == "jwt":
            self._key = _private_key(credentials.private_key or "")

    @property
    def audience(self) -> str:
        return f"ofsc:{self.credentials.instance}:{self.credentials.client_id}"

    def token_request(self) -> httpx.Request:
        credentials = self.credentials
        if self._key is None:
            request = httpx.Request("POST", self.url, data={"grant_type": "client_credentials"})
            client = f"{credentials.client_id}@{credentials.instance}"
            basic = httpx.BasicAuth(client, credentials.client_secret or "")
            return next(basic.auth_flow(request))
        form = {"grant_type": JWT_BEARER, "assertion": self.assertion()}
        return httpx.Request("POST", self.url, data=form)

    def assertion(self) -> str:
        """A freshly signed RS256 assertion for the jwt grant."""
        assert self._key is not None
        now = int(self.clock())
        claims = {
            "iss": "invtrack",
            "aud": self.audience,
            "sub": self.credentials.user or self.audience,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
        }
        return jwt.encode(claims, self._key, algorithm="RS256")

    def read_token(self, response: httpx.Response) -> Token:
        if response.status_code >= 300:
            detail = error_detail(response)
            raise failure(
                response,
                f"the OFS token service ({self.credentials.mode})",
                detail,
                unavailable=OfsUnavailable,
                rejected=OfsRejected,
            )
        try:
            granted = msgspec.json.decode(response.content, type=_Granted)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise OfsUnavailable(f"unexpected answer from the OFS token service: {error}") from None
        return Token(granted.access_token, renewal_time(self.clock(), granted.expires_in))

    def sign(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"


@functools.lru_cache(maxsize=4)
def _private_key(pem: str) -> RSAPrivateKey:
    """The key, loaded once (loading checks it, which takes a while for RSA)."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("the OFS private key is not a PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the OFS private key must be an RSA key (assertions are RS256)")
    return key
