"""For operators: the quarantine with a replay action, and the projections
with a rebuild action and its progress. Both actions need the admin scope."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Stream, Template

from adapters.store import KeptPayload, Store
from api.pages import params
from api.pages.errors import PageNotFound
from api.pages.rendering import notify, render
from api.pages.session import admin, signed_in
from api.services.rebuilds import RebuildBusy, Rebuilds
from api.services.replay import replay_kept
from projections.catalog import PROJECTIONS
from projections.status import status

Query = Annotated[str | None, QueryParameter()]

QUARANTINE_PAGE: Final = 25
BODY_SHOWN: Final = 64 * 1024
"""Bytes of a kept payload shown on the page; the rest is cut off."""


class Kept(msgspec.Struct, frozen=True, kw_only=True):
    """A quarantined payload as the page shows it."""

    record: KeptPayload
    body: str
    """The body, JSON pretty-printed when it is JSON, as text otherwise."""
    cut: bool


def kept(record: KeptPayload) -> Kept:
    """What the page shows of a payload: the store gave only its first
    BODY_SHOWN bytes, pretty-printed when that is the whole of it."""
    text = record.head.decode("utf-8", errors="replace")
    cut = record.size > len(record.head)
    if not cut:
        with contextlib.suppress(ValueError, RecursionError):
            text = json.dumps(json.loads(record.head), indent=2, ensure_ascii=False)
    return Kept(record=record, body=text, cut=cut)


class RebuildForm(msgspec.Struct, kw_only=True):
    projection: str = "all"


class QuarantineController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/quarantine", name="quarantine")
    async def quarantine(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        cursor: Query = None,
    ) -> Template:
        after = params.position_cursor(cursor) or 0
        found = await store.kept_payloads(
            "quarantined", after=after, limit=QUARANTINE_PAGE + 1, head=BODY_SHOWN
        )
        shown = found[:QUARANTINE_PAGE]
        more = len(found) > QUARANTINE_PAGE
        return render(
            request,
            "quarantine.html",
            payloads=[kept(record) for record in shown],
            counts=await store.inbox_counts(),
            received=(await store.quarantine_totals())[1],
            conflicts=await store.conflict_count(),
            next_cursor=params.encode_cursor(shown[-1].id) if more else None,
        )

    @get("/quarantine/{inbox_id:int}/body", name="quarantine-body")
    async def body(self, inbox_id: FromPath[int], store: NamedDependency[Store]) -> Stream:
        """The whole body as kept, streamed a chunk at a time."""
        size = await store.body_size(inbox_id)
        if size is None:
            raise PageNotFound(f"No payload has the id {inbox_id}.")
        return Stream(
            store.body_chunks(inbox_id, size),
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="payload-{inbox_id}.bin"'},
        )

    @post("/quarantine/{inbox_id:int}/replay", guards=[admin], status_code=303)
    async def replay(
        self,
        request: Request[Any, Any, Any],
        inbox_id: FromPath[int],
        store: NamedDependency[Store],
    ) -> Redirect:
        done = await replay_kept(store, inbox_id)
        if done is None:
            raise PageNotFound(f"No payload has the id {inbox_id}.")
        outcome, events, reason = done
        notify(request, _replayed(inbox_id, outcome, events, reason))
        return Redirect("/ui/quarantine", status_code=303)


def _replayed(inbox_id: int, outcome: str, events: int, reason: str | None) -> str:
    return {
        "accepted": f"Payload {inbox_id} was replayed: {events} event(s) appended.",
        "duplicate": f"Payload {inbox_id} repeats one accepted before; nothing was appended.",
        "quarantined": f"Payload {inbox_id} still cannot be read: {reason}",
        "skipped": f"Payload {inbox_id} is not quarantined any more.",
    }[outcome]


async def _projections(
    request: Request[Any, Any, Any], store: Store, rebuilds: Rebuilds, template: str
) -> Template:
    """The projections' status and the last rebuild, in `template`."""
    return render(
        request,
        template,
        status=await status(store, quarantined=0),
        run=rebuilds.last,
        names=[projection.name for projection in PROJECTIONS],
    )


class ProjectionsController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/projections", name="projections")
    async def projections(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        rebuilds: NamedDependency[Rebuilds],
    ) -> Template:
        return await _projections(request, store, rebuilds, "projections.html")

    @get("/projections/rebuild", name="rebuild-progress")
    async def progress(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        rebuilds: NamedDependency[Rebuilds],
    ) -> Template:
        """The rebuild section alone, for the page to poll while one runs."""
        return await _projections(request, store, rebuilds, "_rebuild.html")

    @post("/projections/rebuild", guards=[admin], status_code=303)
    async def rebuild(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[RebuildForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        rebuilds: NamedDependency[Rebuilds],
    ) -> Redirect:
        known = [projection.name for projection in PROJECTIONS]
        if data.projection != "all" and data.projection not in known:
            raise params.BadInput("projection", f"must be all or one of {', '.join(known)}")
        names = [] if data.projection == "all" else [data.projection]
        try:
            rebuilds.start(names)
            what = "every projection" if not names else f"the {names[0]} projection"
            notify(request, f"Rebuild of {what} started.")
        except RebuildBusy as error:
            notify(request, f"Not started: {error}.")
        return Redirect("/ui/projections", status_code=303)
