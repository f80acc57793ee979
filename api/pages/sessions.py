"""For admins: who is signed in to the dashboard, and ending a person's
sessions (every browser and every copy of its cookie at once)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from adapters.store import Store
from api.pages.rendering import notify, render
from api.pages.session import admin


class EndForm(msgspec.Struct, kw_only=True):
    subject: str = ""


class SessionsController(Controller):
    path = "/"
    guards = [admin]

    @get("/sessions", name="sessions")
    async def sessions(
        self, request: Request[Any, Any, Any], store: NamedDependency[Store]
    ) -> Template:
        found = await store.open_sessions(datetime.now(UTC))
        people: dict[str, list[Any]] = {}
        for record in found:
            people.setdefault(record.subject, []).append(record)
        return render(request, "sessions.html", people=people)

    @post("/sessions/end", status_code=303)
    async def end(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[EndForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        store: NamedDependency[Store],
    ) -> Redirect:
        ended = await store.end_sessions_of(data.subject, datetime.now(UTC))
        who = data.subject or "the tokens without a subject"
        notify(request, f"Ended {ended} session(s) of {who}.")
        return Redirect("/ui/sessions", status_code=303)
