"""How invtrack proves who it is to ServiceMobility, one of three ways:

- a JWT an administrator issued (a developer token), sent in `x-access-token`;
- a username and password exchanged for a JWT at the login endpoint
  (`POST /createjwt` with `{"username", "password"}`, answering `{"token"}`),
  exchanged again shortly before the token's `exp` and once after a 401;
- the legacy `customerid` and `customercode` parameters on every call.

The JWT goes in `x-access-token`, never in `Authorization`. No secret is ever
logged: httpx logs request URLs, so the customer code is blanked out of them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Final, Literal

import httpx
import jwt
import msgspec

from adapters.servicemobility_export.client import SmUnavailable, sm_failure
from adapters.tokens import RenewingAuth, Token, renewal_time

TOKEN_HEADER: Final = "x-access-token"  # noqa: S105  # a header name
LOGIN_PATH: Final = "/createjwt"

Mode = Literal["token", "login", "customer"]


@dataclass(frozen=True, kw_only=True)
class SmCredentials:
    """One of: `token`; `username` and `password` (exchanged at `login_path`);
    `customer_id` and `customer_code`."""

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    customer_id: str | None = None
    customer_code: str | None = field(default=None, repr=False)
    login_path: str = LOGIN_PATH

    def __post_init__(self) -> None:
        ways = [
            bool(self.token),
            bool(self.username or self.password),
            bool(self.customer_id or self.customer_code),
        ]
        if sum(ways) != 1:
            raise ValueError(
                "ServiceMobility needs exactly one of: a token; a username and password; "
                "a customer id and customer code"
            )
        if ways[1] and not (self.username and self.password):
            raise ValueError("ServiceMobility login needs both a username and a password")
        if ways[2] and not (self.customer_id and self.customer_code):
            raise ValueError(
                "ServiceMobility legacy access needs a customer id and a customer code"
            )

    @property
    def mode(self) -> Mode:
        if self.token:
            return "token"
        return "login" if self.username else "customer"

    def auth(self, base_url: str, *, clock: Callable[[], float] = time.time) -> httpx.Auth:
        if self.mode == "token":
            assert self.token is not None
            return AccessToken(self.token)
        if self.mode == "customer":
            assert self.customer_id is not None
            assert self.customer_code is not None
            return CustomerCode(self.customer_id, self.customer_code)
        return Login(self, base_url, clock=clock)


class AccessToken(httpx.Auth):
    """A fixed JWT in `x-access-token`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers[TOKEN_HEADER] = self._token
        yield request


class CustomerCode(httpx.Auth):
    """The legacy credentials as URI parameters on every call."""

    def __init__(self, customer_id: str, customer_code: str) -> None:
        self._params = {"customerid": customer_id, "customercode": customer_code}
        _hide_customer_codes(logging.getLogger("httpx"))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.url = request.url.copy_merge_params(self._params)
        yield request


class _Login(msgspec.Struct, frozen=True):
    token: str


class Login(RenewingAuth):
    """A JWT from the login endpoint, renewed before its `exp` and after a 401."""

    def __init__(
        self, credentials: SmCredentials, base_url: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.credentials = credentials
        self.url = base_url.rstrip("/") + "/" + credentials.login_path.lstrip("/")

    def token_request(self) -> httpx.Request:
        body = {"username": self.credentials.username, "password": self.credentials.password}
        return httpx.Request("POST", self.url, json=body)

    def read_token(self, response: httpx.Response) -> Token:
        if response.status_code >= 300:
            raise sm_failure(response, f"the ServiceMobility login ({self.credentials.login_path})")
        try:
            token = msgspec.json.decode(response.content, type=_Login).token
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise SmUnavailable(
                f"unexpected answer from the ServiceMobility login: {error}"
            ) from None
        now = self.clock()
        expires = _expiry(token)
        return Token(token, renewal_time(now, None if expires is None else expires - now))

    def sign(self, request: httpx.Request, token: str) -> None:
        request.headers[TOKEN_HEADER] = token


def _expiry(token: str) -> float | None:
    """The token's `exp` (its signature is ServiceMobility's to check, not ours)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    expires = claims.get("exp")
    return float(expires) if isinstance(expires, int | float) else None


_CUSTOMER_CODE: Final = re.compile(r"(customercode=)[^&\s\"']*", re.IGNORECASE)


class _HiddenCustomerCode(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "customercode=" in message.lower():
            record.msg = _CUSTOMER_CODE.sub(r"\1[hidden]", message)
            record.args = ()
        return True


def _hide_customer_codes(logger: logging.Logger) -> None:
    if not any(isinstance(existing, _HiddenCustomerCode) for existing in logger.filters):
        logger.addFilter(_HiddenCustomerCode())
