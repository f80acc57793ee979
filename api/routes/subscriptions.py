"""Push subscriptions (admin scope): made, listed, rewound, resumed, deleted.
The work is `api.services.subscriptions`; delivering is
`api.services.delivery`."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from adapters.auth import Claims
from api.http.feed_schemas import (
    CreatedSubscription,
    RewindIn,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
)
from api.http.openapi import READER, problems
from api.http.security import provide_admin
from api.services.subscriptions import SubscriptionAdmin

_ADMIN = (400, 401, 403, 500, 503)


class SubscriptionController(Controller):
    tags = ["subscriptions"]
    security = READER
    dependencies = {"admin": Provide(provide_admin)}

    @post(
        "/subscriptions",
        operation_id="createSubscription",
        summary="Push the feed's entries to a URL (Standard Webhooks); the secret is shown once",
        status_code=201,
        responses={201: ResponseSpec(CreatedSubscription), **problems(*_ADMIN)},
    )
    async def create(
        self,
        data: JSONBody[SubscriptionIn],
        subscriptions: NamedDependency[SubscriptionAdmin],
        admin: NamedDependency[Claims],
    ) -> CreatedSubscription:
        return await subscriptions.create(data)

    @get(
        "/subscriptions",
        operation_id="listSubscriptions",
        summary="Every subscription with its state, position, lag and last error",
        responses={200: ResponseSpec(SubscriptionList), **problems(*_ADMIN)},
    )
    async def listed(
        self, subscriptions: NamedDependency[SubscriptionAdmin], admin: NamedDependency[Claims]
    ) -> SubscriptionList:
        return SubscriptionList(items=await subscriptions.listed())

    @get(
        "/subscriptions/{subscription_id:str}",
        operation_id="getSubscription",
        summary="One subscription",
        responses={200: ResponseSpec(SubscriptionOut), **problems(*_ADMIN, 404)},
    )
    async def one(
        self,
        subscription_id: FromPath[str],
        subscriptions: NamedDependency[SubscriptionAdmin],
        admin: NamedDependency[Claims],
    ) -> SubscriptionOut:
        return await subscriptions.one(subscription_id)

    @post(
        "/subscriptions/{subscription_id:str}/rewind",
        operation_id="rewindSubscription",
        summary="Deliver again after a position, or from what was committed at a time on",
        status_code=200,
        responses={200: ResponseSpec(SubscriptionOut), **problems(*_ADMIN, 404)},
    )
    async def rewind(
        self,
        subscription_id: FromPath[str],
        data: JSONBody[RewindIn],
        subscriptions: NamedDependency[SubscriptionAdmin],
        admin: NamedDependency[Claims],
    ) -> SubscriptionOut:
        return await subscriptions.rewind(subscription_id, data)

    @post(
        "/subscriptions/{subscription_id:str}/resume",
        operation_id="resumeSubscription",
        summary="Un-park: deliver again now (a pending batch keeps its webhook-id)",
        status_code=200,
        responses={200: ResponseSpec(SubscriptionOut), **problems(*_ADMIN, 404)},
    )
    async def resume(
        self,
        subscription_id: FromPath[str],
        subscriptions: NamedDependency[SubscriptionAdmin],
        admin: NamedDependency[Claims],
    ) -> SubscriptionOut:
        return await subscriptions.resume(subscription_id)

    @delete(
        "/subscriptions/{subscription_id:str}",
        operation_id="deleteSubscription",
        summary="Remove a subscription",
        status_code=204,
        responses={**problems(*_ADMIN, 404)},
    )
    async def remove(
        self,
        subscription_id: FromPath[str],
        subscriptions: NamedDependency[SubscriptionAdmin],
        admin: NamedDependency[Claims],
    ) -> None:
        await subscriptions.delete(subscription_id)
