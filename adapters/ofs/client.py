"""A client of the OFS Core Events API: subscriptions and event pages.

It says what went wrong in terms the poller can act on: `OfsUnavailable` is
worth retrying later (429, 5xx, timeouts, broken connections, garbled
answers), `SubscriptionGone` means the subscription expired or was deleted,
`OfsRejected` means OFS refused the request and retrying will not help
(bad credentials, no permission, a bad request).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import httpx
import msgspec

EVENTS_PATH: Final = "/rest/ofscCore/v1/events"
SUBSCRIPTIONS_PATH: Final = "/rest/ofscCore/v1/events/subscriptions"

T = TypeVar("T")


class OfsError(Exception):
    """Base of what the Events API client raises."""


class OfsUnavailable(OfsError):
    """OFS cannot answer now; try again later, not before `retry_after` seconds."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class OfsRejected(OfsError):
    """OFS refused the request (4xx other than 404 and 429): retrying will not help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"OFS answered {status}: {detail}")
        self.status = status
        self.detail = detail


class SubscriptionGone(OfsError):
    """The subscription is unknown to OFS: expired after 36 hours unread, or deleted."""


class Subscription(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A created subscription and the page marker its events start at."""

    subscription_id: str
    next_page: str | None = None


class EventsPage(msgspec.Struct, frozen=True, kw_only=True):
    """An Events API answer exactly as received."""

    body: bytes
    content_type: str | None = None


class BearerAuth(httpx.Auth):
    """OAuth access token in `Authorization: Bearer`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def basic_auth(client_id: str, instance: str, secret: str) -> httpx.Auth:
    """OFS Basic authentication: user `clientId@instanceName`, password the secret."""
    return httpx.BasicAuth(f"{client_id}@{instance}", secret)


class _Marker(msgspec.Struct, frozen=True, rename="camel"):
    next_page: str


class OfsClient:
    """The Events API of one OFS instance, over one connection pool."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "invtrack"},
        )

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

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        gone: type[OfsError] | None = None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException as error:
            raise OfsUnavailable(f"{method} {path} timed out ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise OfsUnavailable(f"{method} {path} failed: {type(error).__name__}") from None
        status = response.status_code
        if status < 300:
            return response
        detail = _detail(response)
        if status == 429 or status >= 500:
            raise OfsUnavailable(
                f"{method} {path} answered {status}: {detail}",
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        if status == 404 and gone is not None:
            raise gone(f"{method} {path} answered 404: {detail}")
        raise OfsRejected(status, detail)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header (delta-seconds or HTTP-date) in seconds from now."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _detail(response: httpx.Response) -> str:
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
