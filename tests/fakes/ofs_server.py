"""A fake Oracle Field Service Core Events API, as a plain ASGI app.

It follows the vendor's spec (tests/fixtures/vendor/ofs-core-events-and-inventory.openapi.json),
and checks every request invtrack sends and every answer it gives against the
loadable copies of the Core API and token service files (`tests.fakes.contract`):

- `POST /rest/ofscCore/v1/events/subscriptions` with `events` or
  `subscriptionConfig` (never both), answering `{subscriptionId, nextPage}`; a
  duplicate of an active subscription answers that subscription; at most 100
  active subscriptions (503 "Too many subscriptions registered. Found 100.");
- `GET .../subscriptions` (a JSON array), `GET .../subscriptions/{id}`,
  `DELETE .../subscriptions/{id}` (204);
- `GET /rest/ofscCore/v1/events?subscriptionId=..` with `page` (a `nextPage`
  marker or `lastRequested`; omitted: the oldest events of the subscription),
  or `since=YYYY-MM-DD HH:MM:SS` (answers only a `nextPage` marker pointing
  after that time), never both; `limit` 1..1000 (400 otherwise);
- 404 for an unknown, deleted or expired subscription (unread for 36 hours, or
  expired on demand with `expire()`);
- HTTP Basic `clientId@instance:secret`, the fixed bearer token, or an access
  token from the token service (`tests.fakes.ofs_oauth`), 401 otherwise;
- the inventory reads (`tests.fakes.ofs_inventory`), over records tests set.

Tests publish events with `publish()`, and inject faults with `fail()` (an
error status, optionally with `Retry-After`) and `stall()` (a slow answer).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

from tests.fakes.contract import ofs_contracts
from tests.fakes.http import Answer, FakeServer, Problem, Scope, header
from tests.fakes.ofs_inventory import FakeInventory
from tests.fakes.ofs_oauth import TOKEN_PATH, FakeTokenService

VENDOR_SPEC: Final = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "vendor"
    / "ofs-core-events-and-inventory.openapi.json"
)
EVENTS_PATH: Final = "/rest/ofscCore/v1/events"
SUBSCRIPTIONS_PATH: Final = "/rest/ofscCore/v1/events/subscriptions"
EXPIRY: Final = timedelta(hours=36)
MAX_SUBSCRIPTIONS: Final = 100
MAX_LIMIT: Final = 1000
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_MARKER: Final = re.compile(r"1700000000000-([0-9]+)")


def _vendor_event_types() -> frozenset[str]:
    spec = json.loads(VENDOR_SPEC.read_text())
    return frozenset(spec["definitions"]["eventType"]["enum"])


EVENT_TYPES: Final = _vendor_event_types()
"""Every event type the vendor's spec lists."""


def _entity(event_type: str) -> str:
    """Which entity an event type belongs to (fields may only be asked of one)."""
    if "Inventory" in event_type or event_type.startswith("inventory"):
        return "inventory"
    for entity in ("activity", "resource", "user", "route"):
        if event_type.startswith(entity):
            return entity
    return event_type


@dataclass
class Published:
    sequence: int
    event: dict[str, Any]

    @property
    def event_type(self) -> str:
        return str(self.event.get("eventType", ""))

    @property
    def time(self) -> str:
        value = self.event.get("time")
        return value if isinstance(value, str) and _TIME.fullmatch(value) else ""


@dataclass
class FakeSubscription:
    subscription_id: str
    config: list[dict[str, Any]]
    title: str | None
    start: int
    created: datetime
    last_read: datetime
    application: str
    last_requested: int | None = None
    expired: bool = False
    deleted: bool = False

    @property
    def events(self) -> frozenset[str]:
        return frozenset(name for item in self.config for name in item["events"])

    def expires(self) -> datetime:
        return self.last_read + EXPIRY


@dataclass
class FakeOfs(FakeServer):
    """One OFS instance's Events API, token service and inventory reads. Call
    it as an ASGI app."""

    client_id: str = "invtrack-app"
    instance: str = "acme-test"
    secret: str = "basic-secret-value"
    token: str = "bearer-token-value"
    default_limit: int = 100
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    published: list[Published] = field(default_factory=list)
    subscriptions: dict[str, FakeSubscription] = field(default_factory=dict)
    inventory: FakeInventory = field(default_factory=FakeInventory)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a read answers no events at the newest marker; cleared by publish()."""
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a subscription is created."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.contracts = ofs_contracts()
        self.oauth = FakeTokenService(
            client_id=self.client_id,
            instance=self.instance,
            secret=self.secret,
            clock=lambda: self.clock(),
        )

    # -- what tests do -----------------------------------------------------

    def publish(self, *events: dict[str, Any]) -> None:
        for event in events:
            self.published.append(Published(len(self.published) + 1, event))
        self.caught_up.clear()

    def publish_page(self, page: dict[str, Any]) -> None:
        """Publish the items of a recorded Events API page."""
        self.publish(*page["items"])

    def expire(self, subscription_id: str | None = None) -> None:
        """Expire one subscription, or every one, as if unread for 36 hours."""
        for subscription in self.subscriptions.values():
            if subscription_id in (None, subscription.subscription_id):
                subscription.expired = True

    def active(self) -> list[FakeSubscription]:
        return [s for s in self.subscriptions.values() if self._alive(s)]

    @property
    def head(self) -> int:
        return len(self.published)

    # -- HTTP ----------------------------------------------------------------

    def answer(
        self, scope: Scope, method: str, path: str, query: dict[str, str], body: bytes
    ) -> Answer:
        if path == TOKEN_PATH:
            _allow(method, "POST")
            authorization = header(scope, b"authorization")
            content_type = header(scope, b"content-type")
            return 200, self.oauth.grant(authorization, content_type, body), {}
        application = self._application(scope)
        if application is None:
            raise Problem(401, "Authentication failed", {"www-authenticate": "Basic"})
        listed = self.inventory.route(method, path, query)
        if listed is not None:
            return 200, listed, {}
        return *self._route(method, path, query, body, application), {}

    def error(self, status: int, detail: str) -> dict[str, str]:
        return _error(status, detail)

    def _application(self, scope: Scope) -> str | None:
        """The authenticated application, None when the credentials are wrong."""
        headers = dict(scope["headers"])
        value = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, credentials = value.partition(" ")
        if scheme.lower() == "bearer" and (
            hmac.compare_digest(credentials, self.token) or self.oauth.valid(credentials)
        ):
            return self.client_id
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        expected = f"{self.client_id}@{self.instance}"
        if hmac.compare_digest(user, expected) and hmac.compare_digest(password, self.secret):
            return self.client_id
        return None

    def _route(
        self, method: str, path: str, query: dict[str, str], body: bytes, application: str
    ) -> tuple[int, Any]:
        if path == EVENTS_PATH:
            _allow(method, "GET")
            return 200, self._events(query)
        if path == SUBSCRIPTIONS_PATH:
            if method == "POST":
                return 200, self._create(body, application)
            _allow(method, "GET")
            return 200, self._list(query, application)
        if path.startswith(SUBSCRIPTIONS_PATH + "/"):
            subscription = self._subscription(path.removeprefix(SUBSCRIPTIONS_PATH + "/"))
            if method == "DELETE":
                subscription.deleted = True
                return 204, None
            _allow(method, "GET")
            return 200, self._info(subscription)
        raise Problem(404, f"no such resource: {path}")

    # -- subscriptions -------------------------------------------------------

    def _create(self, body: bytes, application: str) -> dict[str, Any]:
        request = _json_object(body)
        config = _subscription_config(request)
        title = request.get("subscriptionTitle")
        if title is not None and (not isinstance(title, str) or not 1 <= len(title) <= 255):
            raise Problem(400, "subscriptionTitle must be 1 to 255 characters")
        active = self.active()
        for subscription in active:
            same = (subscription.config, subscription.title, subscription.application)
            if same == (config, title, application):
                return self._created(subscription)
        if len(active) >= MAX_SUBSCRIPTIONS:
            raise Problem(503, f"Too many subscriptions registered. Found {len(active)}.")
        now = self.clock()
        subscription = FakeSubscription(
            subscription_id=f"{next(self._ids):04d}a9e8d7c6b5",
            config=config,
            title=title,
            start=self.head,
            created=now,
            last_read=now,
            application=application,
        )
        self.subscriptions[subscription.subscription_id] = subscription
        self.subscribed.set()
        return self._created(subscription)

    def _created(self, subscription: FakeSubscription) -> dict[str, Any]:
        return {
            "subscriptionId": subscription.subscription_id,
            "nextPage": _marker(subscription.start),
        }

    def _list(self, query: dict[str, str], application: str) -> list[dict[str, Any]]:
        everyone = query.get("allSubscriptions", "false").lower() == "true"
        return [
            self._info(subscription)
            for subscription in self.active()
            if everyone or subscription.application == application
        ]

    def _info(self, subscription: FakeSubscription) -> dict[str, Any]:
        info: dict[str, Any] = {
            "subscriptionId": subscription.subscription_id,
            "subscriptionConfig": subscription.config,
            "createdTime": subscription.created.strftime(TIME_FORMAT),
            "expirationTime": subscription.expires().strftime(TIME_FORMAT),
            "applicationId": subscription.application,
        }
        if subscription.title is not None:
            info["subscriptionTitle"] = subscription.title
        return info

    def _subscription(self, subscription_id: str | None) -> FakeSubscription:
        subscription = self.subscriptions.get(subscription_id or "")
        if subscription is None or not self._alive(subscription):
            raise Problem(404, f"Subscription '{subscription_id}' not found")
        return subscription

    def _alive(self, subscription: FakeSubscription) -> bool:
        if subscription.deleted or subscription.expired:
            return False
        return self.clock() < subscription.expires()

    # -- events --------------------------------------------------------------

    def _events(self, query: dict[str, str]) -> dict[str, Any]:
        if not query.get("subscriptionId"):
            raise Problem(400, "subscriptionId is required")
        if "page" in query and "since" in query:
            raise Problem(400, "Do not use both 'page' and 'since' parameters in one request")
        limit = _limit(query.get("limit"), self.default_limit)
        subscription = self._subscription(query["subscriptionId"])
        subscription.last_read = self.clock()
        if "since" in query:
            return {"nextPage": _marker(self._after(query["since"]))}
        position = self._position(subscription, query.get("page"))
        subscription.last_requested = position
        items: list[dict[str, Any]] = []
        scanned = position
        for published in self.published[position:]:
            if len(items) == limit:
                break
            scanned = published.sequence
            if published.event_type in subscription.events:
                items.append(published.event)
        if not items and scanned == self.head:
            self.caught_up.set()
        return {"found": bool(items), "nextPage": _marker(scanned), "items": items}

    def _position(self, subscription: FakeSubscription, page: str | None) -> int:
        if page is None:
            return subscription.start
        if page == "lastRequested":
            return (
                subscription.start
                if subscription.last_requested is None
                else subscription.last_requested
            )
        match = _MARKER.fullmatch(page)
        if match is None or int(match.group(1)) > self.head:
            raise Problem(400, f"invalid page '{page}'")
        return int(match.group(1))

    def _after(self, since: str) -> int:
        """The marker before the first event that happened after `since`.

        OFS starts collecting a subscription's events when it is created and does
        not guarantee older ones through `since`; this fake still reaches back.
        """
        if not _TIME.fullmatch(since):
            raise Problem(400, "since must be 'YYYY-MM-DD HH:MM:SS' (UTC)")
        for published in self.published:
            if published.time > since:
                return published.sequence - 1
        return self.head


def _error(status: int, detail: str) -> dict[str, str]:
    return {
        "type": "http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
        "title": HTTPStatus(status).phrase,
        "status": str(status),
        "detail": detail,
    }


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise Problem(405, f"{method} is not allowed here")


def _marker(position: int) -> str:
    return f"1700000000000-{position}"


def _limit(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise Problem(400, "limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(400, f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body)
    except ValueError:
        raise Problem(400, "the request body is not JSON") from None
    if not isinstance(request, dict):
        raise Problem(400, "the request body must be an object")
    return request


def _subscription_config(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's subscription config, validated as the vendor describes."""
    if ("events" in request) == ("subscriptionConfig" in request):
        raise Problem(400, "specify either 'events' or 'subscriptionConfig'")
    config = request.get("subscriptionConfig", [{"events": request.get("events")}])
    if not isinstance(config, list) or not config:
        raise Problem(400, "subscriptionConfig must be a non-empty array")
    for item in config:
        if not isinstance(item, dict):
            raise Problem(400, "subscriptionConfig elements must be objects")
        events = item.get("events")
        if not isinstance(events, list) or not events:
            raise Problem(400, "events must be a non-empty array")
        unknown = [name for name in events if name not in EVENT_TYPES]
        if unknown:
            raise Problem(400, f"unknown events: {unknown}")
        extras = {"fields", "monitorChanges", "filterExpression"} & item.keys()
        if extras and len({_entity(name) for name in events}) > 1:
            raise Problem(400, f"{sorted(extras)} need events of one entity")
        for key in ("fields", "monitorChanges"):
            value = item.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise Problem(400, f"{key} must be an array of strings")
    return config
