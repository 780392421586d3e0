"""The Shopify side of an embedded app's backend, the same for every sync framework.

Sessions live in the storage (DynamoDB, or memory in tests); shopifyapp verifies requests and
does the token exchange; ``load_fresh_session`` refreshes expiring offline tokens once for the
whole fleet. Every call to Shopify goes through one ``httpx.Client`` (tests route it to a fake).
The Flask and Django examples are thin glue around it (``examples/flask_app``,
``examples/django_app``). Needs the ``shopifyapp`` extra.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from shopify_app import ShopifyApp
from shopify_app.types import GQLResult, RequestInput, Res, ResultWithExchangeableIdToken

from shopify_sessions import (
    ReauthorizationRequiredError,
    Session,
    SessionConflictError,
    SessionStorage,
    ShopifyTokenRefresher,
    TokenRefreshError,
    offline_session_id,
    online_session_id,
)
from shopify_sessions.integrations.shopifyapp import normalize_shop, session_from_shopifyapp

log = logging.getLogger(__name__)

API_VERSION = "2025-10"
PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # the route serving shopifyapp's patch page
SHOP_QUERY = "{ shop { name myshopifyDomain } }"

Verified = ResultWithExchangeableIdToken  # what verify_app_home_req returns


class ShopifyRefused(Exception):
    """A response shopifyapp built (failed verify or exchange): send it back unchanged."""

    def __init__(self, response: Res) -> None:
        super().__init__(f"shopifyapp answered {response.status}")
        self.response = response


@dataclass
class Backend:
    """Everything requests and jobs share; made once per process."""

    shopify: ShopifyApp
    storage: SessionStorage
    refresher: ShopifyTokenRefresher
    http: httpx.Client
    online_tokens: bool = False  # also keep an online (per-user) token for each user

    @classmethod
    def create(
        cls,
        client_id: str,
        client_secret: str,
        storage: SessionStorage,
        http: httpx.Client | None = None,
        online_tokens: bool = False,
    ) -> Backend:
        http = http or httpx.Client(timeout=10.0)
        return cls(
            shopify=ShopifyApp(client_id=client_id, client_secret=client_secret),
            storage=storage,
            refresher=ShopifyTokenRefresher(client_id, client_secret, http_client=http),
            http=http,
            online_tokens=online_tokens,
        )

    # --- App Home requests: verify, then exchange the session token ---------------------------

    def verify_app_home(self, request: RequestInput) -> Verified:
        """The verified request, or ``ShopifyRefused`` with shopifyapp's answer (401, 302)."""
        verified = self.shopify.verify_app_home_req(request, PATCH_ID_TOKEN_PATH)
        if not verified.ok:
            log.info("app home request refused: %s", verified.log.code)
            raise ShopifyRefused(verified.response)
        return verified

    def exchange(self, verified: Verified, mode: str) -> Session:
        """Token exchange of the request's session token; the new session is stored."""
        result = self.shopify.exchange_using_token_exchange(
            mode,
            id_token=verified.id_token,
            invalid_token_response=verified.invalid_token_response,
            http_client=self.http,
        )
        if not result.ok or result.access_token is None:
            log.warning("token exchange failed: %s", result.log.code)
            raise ShopifyRefused(result.response)
        session = session_from_shopifyapp(result.access_token)
        # Concurrent first opens each exchange; each exchange revokes the one before. Only
        # the latest grant (the later expiry) is stored, and every request uses that one.
        if not self.storage.store_newest(session, create=True):
            return self.storage.load_session(session.id) or session
        return session

    def install(self, verified: Verified) -> Session:
        """On every App Home load: the shop's offline session (exchanged on first open), and
        the user's online one when the app asks for online tokens."""
        session = self.offline_session(shop_of(verified), verified)
        assert session is not None  # with a verified request, a missing one is exchanged
        if self.online_tokens and verified.user_id:
            online = self.storage.load_session(online_session_id(session.shop, verified.user_id))
            if online is None or not online.is_active():  # online tokens are not refreshed
                self.exchange(verified, "online")
        return session

    # --- the Admin API --------------------------------------------------------------------------

    def offline_session(
        self, shop: str, verified: Verified | None = None, rejected: Session | None = None
    ) -> Session | None:
        """The shop's offline session with a usable token, refreshed once for the fleet.

        In a request (``verified``), a missing session or a dead grant is replaced by a token
        exchange: the merchant is in the app right now. In a job it is ``None`` / raises.
        """
        try:
            session = self.storage.load_fresh_session(
                offline_session_id(shop), self.refresher, rejected=rejected
            )
        except ReauthorizationRequiredError:
            if verified is None:
                raise
            session = None
        if session is None and verified is not None:
            session = self.exchange(verified, "offline")
        return session

    def admin_call(self, shop: str, verified: Verified | None = None) -> GQLResult | None:
        """A tiny Admin GraphQL query; on a 401 the token is refreshed now and retried once.

        ``None``: the shop has no session (uninstalled). ``verified`` is the request's verify
        result, or ``None`` in a background job.
        """
        session = self.offline_session(shop, verified)
        if session is None:
            return None
        result = self._graphql(session, verified)
        if result.log.code == "unauthorized":  # revoked early: refresh now, retry once
            session = self.offline_session(shop, verified, rejected=session)
            if session is not None:
                result = self._graphql(session, verified)
        return result

    def _graphql(self, session: Session, verified: Verified | None) -> GQLResult:
        return self.shopify.admin_graphql_request(
            SHOP_QUERY,
            shop=session.shop.removesuffix(".myshopify.com"),  # shopifyapp's form
            access_token=session.access_token or "",
            api_version=API_VERSION,
            # in a request, a final 401 answers with App Bridge's retry; in a job, plain 401
            invalid_token_response=verified.invalid_token_response if verified else None,
            http_client=self.http,
        )

    # --- webhooks -------------------------------------------------------------------------------

    def webhook(self, request: RequestInput, topic: str | None) -> Res:
        """Verify the HMAC (bad: shopifyapp's 401, nothing changed), act, answer."""
        verified = self.shopify.verify_webhook_req(request)
        if not verified.ok:
            log.warning("webhook refused: %s", verified.log.code)
        elif topic == "app/uninstalled":
            self.storage.delete_sessions_by_shop(normalize_shop(verified.shop or ""))
        elif topic == "app/scopes_update":
            scope = ",".join(json.loads(request["body"])["current"])
            self.update_scope(normalize_shop(verified.shop or ""), scope)
        return verified.response

    def update_scope(self, shop: str, scope: str) -> bool:
        """``app/scopes_update``: store the new scope, conditionally, so a token refreshed
        meanwhile is never overwritten by the one read here. ``False``: no session."""
        session = self.storage.load_session(offline_session_id(shop))
        while session is not None:
            updated = session.copy()
            updated.scope = scope
            try:
                return self.storage.store_session(updated, expected=session)
            except SessionConflictError:  # refreshed meanwhile: apply to the new pair
                session = self.storage.load_session(session.id)
        return False

    # --- background work ------------------------------------------------------------------------

    def check_all_shops(self, concurrency: int = 8) -> dict[str, str]:
        """The Admin call for every installed shop, ``concurrency`` at a time: shop -> outcome."""
        shops = sorted({s.shop for s in self.storage.iter_sessions() if not s.is_online})
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return dict(zip(shops, pool.map(self._check_shop, shops), strict=True))

    def _check_shop(self, shop: str) -> str:
        try:
            result = self.admin_call(shop)
        except ReauthorizationRequiredError:
            return "needs reauthorization"  # the merchant must open the app again
        except TokenRefreshError:
            return "refresh failed"  # transient: the next run tries again
        if result is None:
            return "uninstalled"
        return "ok" if result.ok else result.log.code


def shop_of(verified: Verified) -> str:
    """``name.myshopify.com`` from shopifyapp's bare shop name: our sessions' form."""
    return normalize_shop(verified.shop or "")
