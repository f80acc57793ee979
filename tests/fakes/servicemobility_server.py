"""A fake ServiceMobility site, as a plain ASGI app, built to the vendor notes
(shared/vendor/servicemobility-export-and-auth.md):

- `GET /seiapi/v3/export/InventoryUsage?rowver=..&limit=..&src=..` answers
  `{"rowver": next, "rows": [{"rowver", "UserID", "InventoryUsage"}]}`: the
  rows after `rowver` (exclusive; `0` is the start) changed by `src` (`mob`
  when omitted; `sch`, `api`), at most `limit` (100 when omitted, 1000 at
  most). Rowvers are opaque strings. An empty page echoes the rowver sent.
  Sending an older rowver returns the same rows again (re-extraction).
- Authentication: a JWT in `x-access-token` (HS256, `exp` and `iat`, signed
  by the site), or the legacy `customerid` and `customercode` parameters;
  401 otherwise, also for an expired or revoked token.
- `POST /createjwt` (path configurable) with `{"username", "password"}`
  answers `{"token"}` valid for `token_lifetime` seconds, 401 "Invalid Logon".
- At most 15 requests per one-second window to the export endpoint; beyond
  that 429 with `Retry-After`. Every export answer carries
  `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
- invtrack's requests carry the standard headers (`Content-Type:
  application/json`, also on a GET); one without is noted as a drift from the
  vendor's notes (`tests.fakes.contract.VIOLATIONS`).
- Errors are the Standard Response Object (`type`, `title`, `status`,
  `detail`, `invalidParams`), or with `legacy_errors` the older
  `{"code", "detail": {"message", "params", "dataPath"}}`.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

import jwt

from tests.fakes.contract import PRODUCT_AGENT, VIOLATIONS
from tests.fakes.http import Answer, FakeServer, Problem, Scope, header

EXPORT_PATH: Final = "/seiapi/v3/export/InventoryUsage"
LOGIN_PATH: Final = "/createjwt"
SOURCES: Final = ("mob", "sch", "api")
MAX_LIMIT: Final = 1000


@dataclass(frozen=True)
class Exported:
    """A row the site holds: its rowver, who changed it, the InventoryUsage object."""

    rowver: str
    src: str
    usage: dict[str, Any]


def rowver_of(number: int) -> str:
    """An opaque rowver: eight bytes, base64, as the vendor's look."""
    return base64.b64encode((0x1F7000 + number).to_bytes(8, "big")).decode()


@dataclass
class FakeServiceMobility(FakeServer):
    """One ServiceMobility site's Export API and login. Call it as an ASGI app."""

    username: str = "invtrack-sync"
    password: str = "login-password-value"
    customer_id: str = "CUST-1042"
    customer_code: str = "customer-code-value"
    secret: str = "site-signing-secret-value-0123456789"
    token_lifetime: int = 3600
    clock: Callable[[], float] = time.time
    """Epoch seconds: token `iat` and `exp`."""
    rate_clock: Callable[[], float] = time.monotonic
    rate_limit: int = 15
    default_limit: int = 100
    login_path: str = LOGIN_PATH
    legacy_errors: bool = False
    rows: list[Exported] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    """Tokens the login endpoint issued."""
    revoked: set[str] = field(default_factory=set)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a read answers no rows and no row of that `src` is newer; cleared by publish()."""
    _window: tuple[int, int] = (0, 0)

    # -- what tests do -----------------------------------------------------

    def publish(self, *usages: dict[str, Any], src: str = "mob") -> list[str]:
        """New rows (InventoryUsage objects) changed by `src`; their rowvers."""
        rowvers = []
        for usage in usages:
            rowver = rowver_of(len(self.rows) + 1)
            self.rows.append(Exported(rowver, src, usage))
            rowvers.append(rowver)
        self.caught_up.clear()
        return rowvers

    def developer_token(self, lifetime: int | None = None) -> str:
        """A JWT an administrator issued."""
        return self._token(lifetime if lifetime is not None else self.token_lifetime)

    def revoke(self) -> None:
        """Every token issued so far stops working."""
        self.revoked.update(self.issued)

    @property
    def logins(self) -> int:
        return len(self.issued)

    def exported(self, src: str = "mob") -> list[dict[str, Any]]:
        """The rows of `src`, as the export answers them."""
        return [_row(row) for row in self.rows if row.src == src]

    # -- HTTP ----------------------------------------------------------------

    def answer(
        self, scope: Scope, method: str, path: str, query: dict[str, str], body: bytes
    ) -> Answer:
        if path == self.login_path:
            if method != "POST":
                raise Problem(405, f"{method} is not allowed here")
            return 200, self._login(header(scope, b"content-type"), body), {}
        if path != EXPORT_PATH:
            raise Problem(404, f"no such resource: {path}")
        self._count()
        if method != "GET":
            raise Problem(405, "export APIs accept GET only")
        _standard_headers(scope)
        self._authenticate(header(scope, b"x-access-token"), query)
        return 200, self._page(query), {}

    def error(self, status: int, detail: str) -> dict[str, Any]:
        if self.legacy_errors:
            return {"code": status, "detail": {"message": detail, "params": {}, "dataPath": ""}}
        return {
            "type": f"https://docs.servicepower.example/errors/{status}",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }

    def headers(self, path: str) -> dict[str, str]:
        if path != EXPORT_PATH:
            return {}
        window, count = self._window
        reset = max(1, math.ceil(window + 1 - self.rate_clock()))
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(self.rate_limit - count, 0)),
            "x-ratelimit-reset": str(reset),
        }

    # -- rate limit, login, authentication ---------------------------------------

    def _count(self) -> None:
        now = self.rate_clock()
        window, count = self._window
        if int(now) != window:
            window, count = int(now), 0
        if count >= self.rate_limit:
            retry = str(max(1, math.ceil(window + 1 - now)))
            raise Problem(429, "rate limit exceeded", {"retry-after": retry})
        self._window = (window, count + 1)

    def _login(self, content_type: str, body: bytes) -> dict[str, str]:
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise Problem(400, "Content-Type must be application/json")
        try:
            request = json.loads(body)
        except ValueError:
            raise Problem(400, "the body is not JSON") from None
        if not isinstance(request, dict):
            raise Problem(400, "the body must be an Authentication Object")
        username, password = request.get("username"), request.get("password")
        if not (isinstance(username, str) and isinstance(password, str)):
            raise Problem(400, "username and password are required strings")
        if not (
            hmac.compare_digest(username, self.username)
            and hmac.compare_digest(password, self.password)
        ):
            raise Problem(401, "Invalid Logon")
        token = self._token(self.token_lifetime)
        self.issued.append(token)
        return {"token": token}

    def _token(self, lifetime: int) -> str:
        now = int(self.clock())
        claims = {"iat": now, "exp": now + lifetime, "name": self.username}
        claims["jti"] = secrets.token_hex(8)
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def _authenticate(self, token: str, query: dict[str, str]) -> None:
        if token:
            try:
                claims = jwt.decode(
                    token,
                    self.secret,
                    algorithms=["HS256"],
                    options={"verify_exp": False, "verify_iat": False},
                )
            except jwt.PyJWTError:
                raise Problem(401, "Invalid Logon") from None
            if token in self.revoked or claims.get("exp", 0) <= self.clock():
                raise Problem(401, "Invalid Logon: the token has expired or was revoked")
            return
        customer_id, code = query.get("customerid", ""), query.get("customercode", "")
        if (
            customer_id
            and code
            and (
                hmac.compare_digest(customer_id, self.customer_id)
                and hmac.compare_digest(code, self.customer_code)
            )
        ):
            return
        raise Problem(401, "Invalid Logon")

    # -- export ------------------------------------------------------------------

    def _page(self, query: dict[str, str]) -> dict[str, Any]:
        if "rowver" not in query:
            raise Problem(400, "rowver is required")
        src = query.get("src", "mob")
        if src not in SOURCES:
            raise Problem(400, f"src must be one of {', '.join(SOURCES)}")
        try:
            limit = int(query.get("limit", self.default_limit))
        except ValueError:
            raise Problem(400, "limit must be an integer") from None
        if limit < 1:
            raise Problem(400, "limit must be at least 1")
        limit = min(limit, MAX_LIMIT)
        start = self._after(query["rowver"])
        newer = [row for row in self.rows[start:] if row.src == src]
        rows = newer[:limit]
        if not rows:
            self.caught_up.set()
            return {"rowver": query["rowver"], "rows": []}
        return {"rowver": rows[-1].rowver, "rows": [_row(row) for row in rows]}

    def _after(self, rowver: str) -> int:
        if rowver == "0":
            return 0
        for index, row in enumerate(self.rows):
            if row.rowver == rowver:
                return index + 1
        raise Problem(400, f"unknown rowver {rowver!r}")


def _row(row: Exported) -> dict[str, Any]:
    shown: dict[str, Any] = {"rowver": row.rowver}
    if "UserID" in row.usage:
        shown["UserID"] = row.usage["UserID"]
    shown["InventoryUsage"] = row.usage
    return shown


def _standard_headers(scope: Scope) -> None:
    """Note a request of invtrack's without the standard JSON content type."""
    if not header(scope, b"user-agent").startswith(PRODUCT_AGENT):
        return
    kind = header(scope, b"content-type").split(";")[0].strip().lower()
    if kind != "application/json":
        VIOLATIONS.append(f"GET {EXPORT_PATH} without Content-Type: application/json ({kind!r})")
