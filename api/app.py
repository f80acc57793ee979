"""The composition root: `create_app(settings)` wires everything, once."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import msgspec
from litestar import Litestar
from litestar.di import Provide

from adapters.auth import TokenVerifier, load_or_create_secret
from adapters.oidc import OidcClient
from adapters.store import Reader, Replicated, Store
from api import logs
from api import settings as settings_module
from api.http.openapi import openapi_config, viewer_assets
from api.http.paths import EncodedSlashes
from api.http.positions import Positions
from api.http.problems import HANDLERS, PLUGIN
from api.http.request_log import RequestLogMiddleware
from api.http.timeouts import BodyDeadline
from api.pages import SingleSignOn, dashboard_routes, template_config
from api.pages.headers import DashboardHeaders
from api.pages.session import session_keys
from api.routes.feed import FeedController
from api.routes.inventory import InventoryController
from api.routes.metrics import metrics_route
from api.routes.operations import OperationsController
from api.routes.reconciliations import ReconciliationController
from api.routes.signals import SignalController
from api.routes.subscriptions import SubscriptionController
from api.routes.webhooks import WebhookController
from api.services.access import VerifiedTokens
from api.services.dashboard import Dashboard
from api.services.delivery import Deliverer
from api.services.feed import Feed
from api.services.group_commit import Ingestor, Limits
from api.services.metrics import MeteredIngestor
from api.services.rebuilds import Rebuilds
from api.services.receiving import Receiver
from api.services.signals import Signals
from api.services.stores import open_reads, open_store
from api.services.subscriptions import SubscriptionAdmin
from api.settings import Settings
from projections.live import LiveProjector
from projections.queries import Queries
from projections.setup import Stale, prepare, rebuild_stale

log = logging.getLogger("invtrack")
VERSION = version("invtrack")
"""The installed package's version, as `invtrack --version` prints it."""


def with_key(settings: Settings) -> Settings:
    """The settings with a token key: the configured one, or a development
    secret created in the data directory on first start."""
    if settings.has_key:
        return settings
    secret, created = load_or_create_secret(settings.data_dir)
    if created:
        log.warning(
            "no INVTRACK_JWT_SECRET configured: created a development secret in %s; "
            "mint tokens with `invtrack token`",
            settings.data_dir / "jwt-secret",
        )
    return msgspec.structs.replace(
        settings, auth=msgspec.structs.replace(settings.auth, secret=secret)
    )


@dataclass
class Services:
    settings: Settings
    store: Store
    reads: Reader
    """What answers the queries, the feed, the dashboard and the
    reconciliations: a read replica when one is configured, else `store`."""
    projector: LiveProjector
    ingestor: Ingestor
    queries: Queries
    verifier: VerifiedTokens
    receiver: Receiver
    dashboard: Dashboard
    rebuilds: Rebuilds
    feed: Feed
    subscriptions: SubscriptionAdmin
    signals: Signals
    sso: SingleSignOn | None = None
    stale: list[Stale] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings = with_key(settings)
        projector = LiveProjector()
        store = open_store(settings, projector=projector)
        reads = open_reads(settings, store)
        ingestor = MeteredIngestor(store, limits=Limits(deliveries=settings.commit_batch))
        verifier = VerifiedTokens(TokenVerifier(settings.auth))
        queries = Queries(reads)
        stale: list[Stale] = []
        stop = asyncio.Event()
        sso = (
            None
            if settings.oidc is None
            else SingleSignOn(
                settings.oidc,
                OidcClient(settings.oidc),
                session_keys(settings),
                secure=settings.dashboard.secure_cookies,
            )
        )
        return cls(
            settings=settings,
            store=store,
            reads=reads,
            projector=projector,
            ingestor=ingestor,
            queries=queries,
            verifier=verifier,
            receiver=Receiver(ingestor, verifier),
            dashboard=Dashboard(reads, queries),
            rebuilds=Rebuilds(store, stale),
            feed=Feed(reads, stop),
            subscriptions=SubscriptionAdmin(store, settings.subscriptions),
            signals=Signals(store, settings.signals, reads),
            sso=sso,
            stale=stale,
            stop=stop,
        )

    async def start(self) -> None:
        await self.store.migrate()
        self.stale[:] = await prepare(self.store)
        for stale in self.stale:
            log.warning(
                "projection %s is served from version %d; this build wants version %d: "
                "run `invtrack rebuild %s`",
                stale.name,
                stale.active,
                stale.wanted,
                stale.name,
            )
        await self.ingestor.start()
        if self.stale and self.settings.auto_rebuild:
            # rebuild_stale empties self.stale once current, so /ready follows it.
            self.tasks.append(
                asyncio.create_task(rebuild_stale(self.store, self.stale), name="invtrack-rebuild")
            )
        if self.settings.subscriptions.deliver:
            deliverer = Deliverer(self.store, self.settings.subscriptions, self.stop)
            self.tasks.append(asyncio.create_task(deliverer.run(), name="invtrack-deliverer"))
        if self.settings.ofs.poll_in_serve:
            from api.services.polling import start_poller

            task = start_poller(self.settings, self.store, self.ingestor, self.stop)
            if task is not None:
                self.tasks.append(task)
        if self.settings.signals.required_every is not None and self.settings.ofs.url:
            from api.services.required import start_required

            task = start_required(self.settings, self.store, self.stop)
            if task is not None:
                self.tasks.append(task)
        if self.settings.sm.poll_in_serve:
            from api.services.polling import start_sm_poller

            task = start_sm_poller(self.settings, self.store, self.ingestor, self.stop)
            if task is not None:
                self.tasks.append(task)
        settle_garbage_collector()

    async def close(self) -> None:
        self.stop.set()
        await self.rebuilds.close()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        await self.ingestor.stop()
        if self.sso is not None:
            await self.sso.client.close()
        if isinstance(self.reads, Replicated):
            await self.reads.close()
        await self.store.close()


def settle_garbage_collector() -> None:
    """What exists once the service has started lives as long as the process:
    it is frozen out of the cyclic collector's walks, and young collections
    come less often (every request makes many short-lived objects)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def create_app(settings: Settings) -> Litestar:
    services = Services.build(settings)

    def provide(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    app = Litestar(
        route_handlers=[
            WebhookController,
            InventoryController,
            FeedController,
            OperationsController,
            ReconciliationController,
            SubscriptionController,
            SignalController,
            metrics_route,
            viewer_assets(),
            *dashboard_routes(
                services.settings,
                services.dashboard,
                services.rebuilds,
                services.store,
                services.sso,
            ),
        ],
        dependencies={
            "receiver": provide(services.receiver),
            "queries": provide(services.queries),
            "verifier": provide(services.verifier),
            "store": provide(services.store),
            "reads": provide(services.reads),
            "ingestor": provide(services.ingestor),
            "feed": provide(services.feed),
            "subscriptions": provide(services.subscriptions),
            "stale": Provide(lambda: services.stale, sync_to_thread=False),
        },
        exception_handlers=HANDLERS,
        plugins=[PLUGIN],
        template_config=template_config(),
        request_max_body_size=services.settings.max_body_bytes,
        on_startup=[services.start],
        on_shutdown=[services.close],
        openapi_config=openapi_config(VERSION),
        state={"services": services},  # type: ignore[arg-type]
        logging_config=None,  # logging is configured once, by api.logs
        debug=False,
    )
    # Around the router: ids with an encoded `/` are routed as one segment, and
    # answers Litestar gives before routing (404, 405) are logged too and,
    # under /ui, carry the dashboard's security headers.
    app.asgi_handler = RequestLogMiddleware(
        EncodedSlashes(
            DashboardHeaders(
                Positions(
                    BodyDeadline(app.asgi_handler, settings.body_timeout_seconds),
                    services.store,
                )
            )
        )
    )
    return app


def app_from_env() -> Litestar:
    """Factory for `uvicorn --factory` and worker processes: each worker is a
    process of its own, so it configures its logging here."""
    settings = settings_module.from_env()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)
