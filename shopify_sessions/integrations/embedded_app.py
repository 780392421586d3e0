"""The Shopify side of an embedded app's backend, for every sync framework.

Sessions live in the storage (DynamoDB, or memory in tests); shopifyapp verifies requests and
does the token exchange; ``load_fresh_session`` refreshes expiring offline tokens once for the
whole fleet. Every call to Shopify goes through one ``httpx.Client`` (tests route it to a fake).
The Flask and Django examples are thin glue around :class:`Backend` (``examples/flask_app``,
``examples/django_app``); FastAPI's is ``embedded_app_async.AsyncBackend``. What both do is
decided once, in ``embedded_app_flows``; this module only carries it out, blocking. Needs the
``shopifyapp`` extra.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx
from shopify_app import ShopifyApp
from shopify_app.types import GQLResult, RequestInput, Res

from shopify_sessions.domain.session import Session
from shopify_sessions.session_storage import SessionStorage
from shopify_sessions.steps import Steps
from shopify_sessions.tokens.refresher import ShopifyTokenRefresher

from . import embedded_app_flows as flows
from .embedded_app_flows import (
    API_VERSION,
    PATCH_ID_TOKEN_PATH,
    SHOP_QUERY,
    ShopifyRefused,
    Verified,
    app_home_page,
    shop_of,
)

__all__ = [
    "API_VERSION",
    "PATCH_ID_TOKEN_PATH",
    "SHOP_QUERY",
    "Backend",
    "ShopifyRefused",
    "Verified",
    "app_home_page",
    "shop_of",
]

T = TypeVar("T")


class Backend(flows.BackendBase[SessionStorage, ShopifyTokenRefresher, httpx.Client]):
    """Everything requests and jobs share; made once per process with :meth:`create`."""

    http_class = httpx.Client
    refresher_class = ShopifyTokenRefresher
    token_exchange = staticmethod(ShopifyApp.exchange_using_token_exchange)
    admin_graphql = staticmethod(ShopifyApp.admin_graphql_request)

    def install(self, verified: Verified) -> Session:
        """See ``embedded_app_flows.install``: the shop's session, exchanged on first open."""
        return self._run(flows.install(verified, self.online_tokens))

    def exchange(self, verified: Verified, mode: str) -> Session:
        return self._run(flows.exchange(verified, mode))

    def offline_session(
        self, shop: str, verified: Verified | None = None, rejected: Session | None = None
    ) -> Session | None:
        return self._run(flows.offline_session(shop, verified, rejected))

    def admin_call(self, shop: str, verified: Verified | None = None) -> GQLResult | None:
        """The Admin call, one retry after a 401; ``None``: no session (see the flow)."""
        return self._run(flows.admin_call(shop, verified))

    def webhook(self, request: RequestInput, topic: str | None) -> Res:
        """Verify the HMAC, act on the topic, answer (see ``embedded_app_flows.webhook``): the
        uninstall and privacy topics never need a token."""
        return self._run(flows.webhook(self.shopify, request, topic))

    def update_scope(self, shop: str, scope: str) -> bool:
        return self._run(flows.update_scope(shop, scope))

    def check_all_shops(self, concurrency: int = 8) -> dict[str, str]:
        """The Admin call for every installed shop, ``concurrency`` at a time: shop -> outcome."""
        shops = flows.installed_shops(self.storage.iter_sessions())
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = pool.map(lambda shop: self._run(flows.check_shop(shop)), shops)
            return dict(zip(shops, outcomes, strict=True))

    def _run(self, flow: flows.Flow[T]) -> T:
        """Carry out the flow's operations, sending back results and throwing back errors."""
        steps = Steps(flow)
        for operation in steps:
            call = flows.call_for(operation, self)
            try:
                steps.reply(call())
            except Exception as failure:
                steps.fail(failure)
        return steps.result
