"""A client of the OFS Core API: event subscriptions and pages, and plain GETs
(the inventory endpoints).

It says what went wrong in terms the poller can act on: `OfsUnavailable` is
worth retrying later (429, 5xx, timeouts, broken connections, garbled
answers), `SubscriptionGone` means the subscription expired or was deleted,
`OfsRejected` means OFS refused the request and retrying will not help
(bad credentials, no permission, a bad request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

import httpx
import msgspec

from adapters.pulling import Rejected, Unavailable, failure, send
from adapters.vendor_http import AnswerLimits, Pace, paced_hooks, vendor_http

RATE_LIMIT: Final = 10
"""Requests per second to one OFS instance, by default (OFS publishes no number;
it answers 429 beyond its own)."""
EVENTS_PATH: Final = "/rest/ofscCore/v1/events"
SUBSCRIPTIONS_PATH: Final = "/rest/ofscCore/v1/events/subscriptions"

T = TypeVar("T")


class OfsError(Exception):
    """Base of what the OFS clients raise."""


class OfsUnavailable(OfsError, Unavailable):
    """OFS cannot answer now; try again later, not before `retry_after` seconds."""


class OfsRejected(OfsError, Rejected):
    """OFS refused the request (4xx other than 404 and 429): retrying will not help."""

    vendor = "OFS"


class SubscriptionGone(OfsUnavailable):
    """The subscription is unknown to OFS: expired after 36 hours unread, or deleted."""


class NotFound(OfsError):
    """OFS has no such record (404)."""


class Subscription(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A created subscription and the page marker its events start at."""

    subscription_id: str
    next_page: str | None = None


class EventsPage(msgspec.Struct, frozen=True, kw_only=True):
    """An Events API answer exactly as received."""

    body: bytes
    content_type: str | None = None


class _Marker(msgspec.Struct, frozen=True, rename="camel"):
    next_page: str


class OfsClient:
    """The Core API of one OFS instance, over one connection pool: every answer
    read within `limits`, every request (token requests too) paced by `pace`,
    counted for the whole instance."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        timeout: float = 60.0,
        limits: AnswerLimits | None = None,
        pace: Pace | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limits = limits or AnswerLimits()
        self.pace = pace or Pace(RATE_LIMIT)
        hooks = paced_hooks(self.pace, lambda url: "ofs")
        self._http = vendor_http(base_url, auth, timeout, transport, event_hooks=hooks)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def subscribe(
        self, events: Sequence[str], fields: Sequence[str], *, title: str
    ) -> Subscription:
        """Create a subscription to `events` whose details carry `fields`.

        OFS answers a duplicate of an active subscription with that subscription.
        """
        config: dict[str, Any] = {"events": list(events)}
        if fields:
            config["fields"] = list(fields)
        body = {"subscriptionConfig": [config], "subscriptionTitle": title}
        response = await self._send("POST", SUBSCRIPTIONS_PATH, json=body)
        return _decode(response, Subscription)

    async def events(self, subscription_id: str, *, page: str | None, limit: int) -> EventsPage:
        """The page of events at `page` (the oldest available when None)."""
        params: dict[str, str | int] = {"subscriptionId": subscription_id, "limit": limit}
        if page is not None:
            params["page"] = page
        response = await self._send("GET", EVENTS_PATH, params=params, gone=SubscriptionGone)
        return EventsPage(body=response.content, content_type=response.headers.get("content-type"))

    async def since(self, subscription_id: str, since: str) -> str:
        """The page marker of the first events after `since` (`YYYY-MM-DD HH:MM:SS`, UTC).

        Only for recovery: OFS says it is expensive. `page` is never sent with it.
        """
        params: dict[str, str | int] = {"subscriptionId": subscription_id, "since": since}
        response = await self._send("GET", EVENTS_PATH, params=params, gone=SubscriptionGone)
        return _decode(response, _Marker).next_page

    async def unsubscribe(self, subscription_id: str) -> None:
        await self._send("DELETE", f"{SUBSCRIPTIONS_PATH}/{subscription_id}", gone=SubscriptionGone)

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> bytes:
        """The body of a Core API GET; NotFound for a 404."""
        response = await self._send("GET", path, params=params, gone=NotFound)
        return response.content

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        gone: type[OfsError] | None = None,
    ) -> httpx.Response:
        response = await send(
            self._http, method, path, self.limits, OfsUnavailable, params=params, json=json
        )
        status = response.status_code
        if status < 300:
            return response
        detail = error_detail(response)
        if status == 404 and gone is not None:
            raise gone(f"{method} {path} answered 404: {detail}")
        raise failure(
            response,
            f"{method} {path}",
            detail,
            unavailable=OfsUnavailable,
            rejected=OfsRejected,
        )


def error_detail(response: httpx.Response) -> str:
    """The vendor's error `detail` (or `title`), short; never a request header."""
    try:
        error = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.reason_phrase or "no detail"
    if isinstance(error, dict):
        for key in ("detail", "title"):
            if isinstance(error.get(key), str) and error[key]:
                return str(error[key])[:300]
    return response.reason_phrase or "no detail"


def _decode(response: httpx.Response, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(response.content, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise OfsUnavailable(f"unexpected answer from OFS: {error}") from None
