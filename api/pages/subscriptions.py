"""Push subscriptions on the dashboard: each with its state, position, lag and
last error; admins resume, rewind and delete (forms carry the session's form
token, as every form does)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from api.http.feed_schemas import RewindIn
from api.http.problems import Problem
from api.pages.rendering import notify, render
from api.pages.session import admin, signed_in
from api.services.subscriptions import SubscriptionAdmin


class RewindForm(msgspec.Struct, kw_only=True):
    position: str = ""


class SubscriptionsPageController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/subscriptions", name="subscriptions")
    async def listed(
        self, request: Request[Any, Any, Any], subscriptions: NamedDependency[SubscriptionAdmin]
    ) -> Template:
        found = await subscriptions.listed()
        head = await subscriptions.store.feed_head()
        return render(request, "subscriptions.html", subscriptions=found, head=head)

    @post("/subscriptions/{subscription_id:str}/resume", guards=[admin], status_code=303)
    async def resume(
        self,
        request: Request[Any, Any, Any],
        subscription_id: FromPath[str],
        subscriptions: NamedDependency[SubscriptionAdmin],
    ) -> Redirect:
        await subscriptions.resume(subscription_id)
        notify(request, f"Resumed {subscription_id}.")
        return Redirect("/ui/subscriptions", status_code=303)

    @post("/subscriptions/{subscription_id:str}/rewind", guards=[admin], status_code=303)
    async def rewind(
        self,
        request: Request[Any, Any, Any],
        subscription_id: FromPath[str],
        data: Annotated[RewindForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        subscriptions: NamedDependency[SubscriptionAdmin],
    ) -> Redirect:
        text = data.position.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise Problem(400, "Bad Request", "the position must be a whole number from 0")
        await subscriptions.rewind(subscription_id, RewindIn(position=int(text)))
        notify(request, f"{subscription_id} delivers again after position {int(text)}.")
        return Redirect("/ui/subscriptions", status_code=303)

    @post("/subscriptions/{subscription_id:str}/delete", guards=[admin], status_code=303)
    async def remove(
        self,
        request: Request[Any, Any, Any],
        subscription_id: FromPath[str],
        subscriptions: NamedDependency[SubscriptionAdmin],
    ) -> Redirect:
        await subscriptions.delete(subscription_id)
        notify(request, f"Deleted {subscription_id}.")
        return Redirect("/ui/subscriptions", status_code=303)
