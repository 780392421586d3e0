"""The Shopify side of an embedded app's backend, for asyncio frameworks (FastAPI, Starlette).

``embedded_app.Backend`` awaited: the same flows (``embedded_app_flows``) carried out against an
``AsyncSessionStorage`` (``AsyncDynamoDBSessionStorage``, or ``AsyncMemorySessionStorage`` in
tests), an ``AsyncShopifyTokenRefresher`` and one ``httpx.AsyncClient``. shopifyapp's checks are
pure; its token exchange and Admin GraphQL request are its ``..._async`` forms, so no request
blocks the event loop and nothing runs in a thread. Tasks of one event loop share a refresh;
other processes and hosts meet through the lease in the item. What the two backends share
(``ShopifyRefused``, ``Verified``, ``PATCH_ID_TOKEN_PATH``, ``app_home_page``, ...) is imported
from ``embedded_app_flows``. ``examples/fastapi_app`` is the glue. Needs the ``shopifyapp``
extra.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import httpx
from shopify_app import ShopifyApp
from shopify_app.types import GQLResult, RequestInput, Res

from shopify_sessions.domain.session import Session
from shopify_sessions.session_storage import AsyncSessionStorage
from shopify_sessions.steps import Steps
from shopify_sessions.tokens.refresher_async import AsyncShopifyTokenRefresher

from . import embedded_app_flows as flows
from .embedded_app_flows import Verified

__all__ = ["AsyncBackend"]

T = TypeVar("T")


class AsyncBackend(
    flows.BackendBase[AsyncSessionStorage, AsyncShopifyTokenRefresher, httpx.AsyncClient]
):
    """What requests and jobs share; made once per event loop (a FastAPI app's lifespan) with
    :meth:`create`. Each method is ``Backend``'s, awaited."""

    http_class = httpx.AsyncClient
    refresher_class = AsyncShopifyTokenRefresher
    token_exchange = staticmethod(ShopifyApp.exchange_using_token_exchange_async)
    admin_graphql = staticmethod(ShopifyApp.admin_graphql_request_async)

    async def install(self, verified: Verified) -> Session:
        return await self._run(flows.install(verified, self.online_tokens))

    async def exchange(self, verified: Verified, mode: str) -> Session:
        return await self._run(flows.exchange(verified, mode))

    async def offline_session(
        self, shop: str, verified: Verified | None = None, rejected: Session | None = None
    ) -> Session | None:
        return await self._run(flows.offline_session(shop, verified, rejected))

    async def admin_call(self, shop: str, verified: Verified | None = None) -> GQLResult | None:
        return await self._run(flows.admin_call(shop, verified))

    async def webhook(self, request: RequestInput, topic: str | None) -> Res:
        return await self._run(flows.webhook(self.shopify, request, topic))

    async def update_scope(self, shop: str, scope: str) -> bool:
        return await self._run(flows.update_scope(shop, scope))

    async def check_all_shops(self, concurrency: int = 8) -> dict[str, str]:
        """The Admin call for every installed shop, at most ``concurrency`` at once (a task a
        shop, a semaphore over them): shop -> outcome. An error no outcome stands for (the
        storage failing) cancels the shops not done and is raised."""
        shops = flows.installed_shops([s async for s in self.storage.iter_sessions()])
        slots = asyncio.Semaphore(concurrency)

        async def check(shop: str) -> str:
            async with slots:
                return await self._run(flows.check_shop(shop))

        tasks = [asyncio.ensure_future(check(shop)) for shop in shops]
        try:
            return dict(zip(shops, await asyncio.gather(*tasks), strict=True))
        finally:
            for task in tasks:
                task.cancel()  # none left running after an error (a no-op once done)

    async def _run(self, flow: flows.Flow[T]) -> T:
        """Carry out the flow's operations, awaiting each; results go back in, errors are
        thrown in."""
        steps = Steps(flow)
        for operation in steps:
            call = flows.call_for(operation, self)
            try:
                steps.reply(await call())
            except Exception as failure:
                steps.fail(failure)
        return steps.result
