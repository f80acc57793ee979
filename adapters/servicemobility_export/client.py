"""A client of ServiceMobility's Export API for InventoryUsage.

`GET /seiapi/v3/export/InventoryUsage?rowver=...&limit=...&src=...` answers
`{"rowver": next cursor, "rows": [...]}`. The documented limits are kept:
at most 15 requests in any second to one endpoint, none while the server says
its window has no requests left (`X-RateLimit-Remaining: 0` until
`X-RateLimit-Reset` seconds pass), and 429 is retried after `Retry-After`.
Errors come in two documented bodies (the Standard Response Object, RFC 7807
shaped, and the older `{"code", "detail": {"message"}}`); both are read.
"""

from __future__ import annotations

from typing import Any, Final

import httpx
import msgspec

from adapters.pulling import Rejected, Unavailable, failure, send
from adapters.vendor_http import AnswerLimits, Pace, paced_hooks, vendor_http

__all__ = [
    "EXPORT_PATH",
    "RATE_LIMIT",
    "ExportPage",
    "Pace",
    "SmClient",
    "SmError",
    "SmRejected",
    "SmUnavailable",
    "error_detail",
    "sm_failure",
]

EXPORT_PATH: Final = "/seiapi/v3/export/InventoryUsage"
RATE_LIMIT: Final = 15
"""Requests per second per endpoint, by default."""


class SmError(Exception):
    """Base of what the ServiceMobility client raises."""


class SmUnavailable(SmError, Unavailable):
    """ServiceMobility cannot answer now; try again later."""


class SmRejected(SmError, Rejected):
    """ServiceMobility refused the request: retrying will not help."""

    vendor = "ServiceMobility"


class ExportPage(msgspec.Struct, frozen=True, kw_only=True):
    """An Export API answer exactly as received."""

    body: bytes
    content_type: str | None = None


class SmClient:
    """The Export API of one ServiceMobility site, over one connection pool."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        pace: Pace | None = None,
        timeout: float = 60.0,
        limits: AnswerLimits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.pace = pace or Pace(RATE_LIMIT)
        self.limits = limits or AnswerLimits()
        # Every request is paced, also a login or a retry after a 401; the
        # documented limit is per endpoint.
        hooks = paced_hooks(self.pace, lambda url: url.path)
        self._http = vendor_http(base_url, auth, timeout, transport, event_hooks=hooks)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def inventory_usage(self, *, rowver: str, limit: int, src: str) -> ExportPage:
        """The rows after `rowver` (exclusive), at most `limit`, changed by `src`."""
        params: dict[str, str | int] = {"rowver": rowver, "limit": limit, "src": src}
        # The vendor's standard headers: JSON both ways, also on a GET.
        headers = {"Content-Type": "application/json"}
        response = await send(
            self._http,
            "GET",
            EXPORT_PATH,
            self.limits,
            SmUnavailable,
            params=params,
            headers=headers,
        )
        if response.status_code >= 300:
            raise sm_failure(response, f"GET {EXPORT_PATH}")
        return ExportPage(body=response.content, content_type=response.headers.get("content-type"))


def sm_failure(response: httpx.Response, what: str) -> Unavailable | Rejected:
    """`failure` for a ServiceMobility answer, with what its error body says."""
    detail = error_detail(response)
    return failure(response, what, detail, unavailable=SmUnavailable, rejected=SmRejected)


def error_detail(response: httpx.Response) -> str:
    """What a ServiceMobility error body says, in either documented shape, short;
    never a request header or parameter."""
    try:
        error: Any = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.reason_phrase or "no detail"
    if isinstance(error, dict):
        detail = error.get("detail")
        if isinstance(detail, dict):  # {"code", "detail": {"message", "params", "dataPath"}}
            detail = detail.get("message")
        for text in (detail, error.get("title")):
            if isinstance(text, str) and text:
                return text[:300]
    return response.reason_phrase or "no detail"
