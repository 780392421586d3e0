"""The Shopify side of an embedded app's backend as decisions without I/O.

Shared by the blocking :class:`~shopify_sessions.integrations.embedded_app.Backend` (Flask,
Django) and :class:`~shopify_sessions.integrations.embedded_app_async.AsyncBackend` (FastAPI).
Each flow below is a generator in the sans-IO style of ``tokens/lease_protocol.py``: it yields an
operation (load a session, store one, exchange the session token, make the Admin call, ...), is
sent the result or has the error thrown in, and returns the answer. :func:`call_for` turns an
operation into a call on the backend's storage, refresher or shopifyapp; the blocking backend
calls it, the async one awaits it. So what is verified, exchanged, stored, retried and answered
is decided once, here.

shopifyapp's checks (session token, webhook HMAC) are pure and run inside the flows. Its token
exchange and Admin GraphQL request come in a blocking and an ``..._async`` form (over an
``httpx.AsyncClient``): the async backend awaits the latter, nothing runs in a thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from shopify_app import ShopifyApp
from shopify_app.types import (
    GQLResult,
    RequestInput,
    Res,
    ResultForReq,
    ResultWithExchangeableIdToken,
)

from shopify_sessions.domain.session import Session, offline_session_id, online_session_id
from shopify_sessions.errors import SessionConflictError
from shopify_sessions.integrations.shopifyapp import normalize_shop, session_from_shopifyapp
from shopify_sessions.tokens.refresh_errors import ReauthorizationRequiredError, TokenRefreshError

__all__ = [
    "API_VERSION",
    "DELETES_SESSIONS",
    "PATCH_ID_TOKEN_PATH",
    "PRIVACY_TOPICS",
    "SHOP_QUERY",
    "BackendBase",
    "Flow",
    "Operation",
    "ShopifyRefused",
    "Verified",
    "admin_call",
    "app_home_page",
    "call_for",
    "check_shop",
    "exchange",
    "install",
    "installed_shops",
    "offline_session",
    "shop_of",
    "update_scope",
    "verify_app_home",
    "webhook",
    "webhook_shop",
]

log = logging.getLogger("shopify_sessions.integrations.embedded_app")

API_VERSION = "2025-10"
PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # the route serving shopifyapp's patch page
SHOP_QUERY = "{ shop { name myshopifyDomain } }"

Verified = ResultWithExchangeableIdToken  # what verify_app_home_req returns
T = TypeVar("T")


class ShopifyRefused(Exception):
    """A response shopifyapp built (failed verify or exchange): send it back unchanged."""

    def __init__(self, response: Res) -> None:
        super().__init__(f"shopifyapp answered {response.status}")
        self.response = response


# --- the operations: what a flow asks its backend to do ---------------------------------------


@dataclass(frozen=True)
class LoadFresh:
    """``storage.load_fresh_session(id, refresher, rejected=rejected)``."""

    id: str
    rejected: Session | None = None


@dataclass(frozen=True)
class Load:
    """``storage.load_session(id)``."""

    id: str


@dataclass(frozen=True)
class StoreNewest:
    """``storage.store_newest(session, create=True)``: ``False`` when a later grant is stored."""

    session: Session


@dataclass(frozen=True)
class StoreIfUnchanged:
    """``storage.store_session(session, expected=expected)``: ``SessionConflictError`` when
    the stored tokens are no longer ``expected``'s."""

    session: Session
    expected: Session


@dataclass(frozen=True)
class DeleteShop:
    """``storage.delete_sessions_by_shop(shop)``."""

    shop: str


@dataclass(frozen=True)
class Exchange:
    """shopifyapp's token exchange of the verified request's session token."""

    verified: Verified
    mode: str  # "offline" or "online"


@dataclass(frozen=True)
class AdminQuery:
    """shopifyapp's Admin GraphQL request (``SHOP_QUERY``) with the session's token."""

    session: Session
    verified: Verified | None  # in a request; None in a job


Operation = LoadFresh | Load | StoreNewest | StoreIfUnchanged | DeleteShop | Exchange | AdminQuery
Flow = Generator[Operation, Any, T]


# --- the flows --------------------------------------------------------------------------------


def verify_app_home(shopify: ShopifyApp, request: RequestInput) -> Verified:
    """The verified App Home request, or ``ShopifyRefused`` with shopifyapp's answer (401 with
    App Bridge's retry header, or the 302 to the patch page). No I/O."""
    verified = shopify.verify_app_home_req(request, PATCH_ID_TOKEN_PATH)
    if not verified.ok:
        log.info("app home request refused: %s", verified.log.code)
        raise ShopifyRefused(verified.response)
    return verified


def exchange(verified: Verified, mode: str) -> Flow[Session]:
    """Token exchange of the request's session token; the new session is stored."""
    result = yield Exchange(verified, mode)
    if not result.ok or result.access_token is None:
        log.warning("token exchange failed: %s", result.log.code)
        raise ShopifyRefused(result.response)
    session = session_from_shopifyapp(result.access_token)
    # Concurrent first opens each exchange; each exchange revokes the one before. Only the
    # latest grant (the later expiry) is stored, and every request uses that one.
    if not (yield StoreNewest(session)):
        stored: Session | None = yield Load(session.id)
        return stored or session
    return session


def install(verified: Verified, online_tokens: bool) -> Flow[Session]:
    """On every App Home load: the shop's offline session (exchanged on first open), and the
    user's online one when the app asks for online tokens (those are not refreshed)."""
    session = yield from offline_session(shop_of(verified), verified)
    assert session is not None  # with a verified request, a missing one is exchanged
    if online_tokens and verified.user_id:
        online = yield Load(online_session_id(session.shop, verified.user_id))
        if online is None or not online.is_active():
            yield from exchange(verified, "online")
    return session


def offline_session(
    shop: str, verified: Verified | None = None, rejected: Session | None = None
) -> Flow[Session | None]:
    """The shop's offline session with a usable token, refreshed once for the fleet.

    In a request (``verified``), a missing session or a dead grant is replaced by a token
    exchange: the merchant is in the app right now. In a job it is ``None`` / raises.
    """
    try:
        session: Session | None = yield LoadFresh(offline_session_id(shop), rejected)
    except ReauthorizationRequiredError:
        if verified is None:
            raise
        session = None
    if session is None and verified is not None:
        session = yield from exchange(verified, "offline")
    return session


def admin_call(shop: str, verified: Verified | None = None) -> Flow[GQLResult | None]:
    """A tiny Admin GraphQL query; on a 401 the token is refreshed now and retried once.

    ``None``: the shop has no session (uninstalled). ``verified`` is the request's verify
    result, or ``None`` in a background job.
    """
    session = yield from offline_session(shop, verified)
    if session is None:
        return None
    result: GQLResult = yield AdminQuery(session, verified)
    if result.log.code == "unauthorized":  # revoked early: refresh now, retry once
        session = yield from offline_session(shop, verified, rejected=session)
        if session is not None:
            result = yield AdminQuery(session, verified)
    return result


# Shopify retries a webhook until it is answered 2xx (for 48 hours), then drops it. These are
# answered from the storage alone: never a fresh session, so a dead grant, Shopify down or a
# throttled refresh cannot fail them. The three privacy topics are mandatory for public apps.
DELETES_SESSIONS = frozenset({"app/uninstalled", "shop/redact"})
PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


def webhook(shopify: ShopifyApp, request: RequestInput, topic: str | None) -> Flow[Res]:
    """Verify the HMAC (bad: shopifyapp's 401, nothing changed), act on the topic, answer.

    ``app/uninstalled`` and ``shop/redact`` delete every session of the shop (offline and
    online: Shopify has revoked their tokens); ``customers/redact`` and
    ``customers/data_request`` are answered 200 with nothing to do here (sessions hold no
    customer's data: an online session's user is a staff member); ``app/scopes_update``
    stores the new scope. None of them loads a fresh session or calls Shopify: only a
    storage that cannot delete (DynamoDB failing past its retries) answers 5xx, so that
    Shopify sends the webhook again.
    """
    verified = shopify.verify_webhook_req(request)
    if not verified.ok:
        log.warning("webhook refused: %s", verified.log.code)
        return verified.response
    if topic not in DELETES_SESSIONS and topic != "app/scopes_update":
        if topic in PRIVACY_TOPICS:
            log.info("webhook %s: no customer data in the sessions", topic)
        return verified.response  # nothing of the sessions to change
    payload = _json_object(request["body"])
    try:
        shop = webhook_shop(verified, payload)
    except ValueError as error:
        log.warning("webhook %s refused: %s", topic, error)
        return _bad_request()
    if topic in DELETES_SESSIONS:
        deleted = yield DeleteShop(shop)
        log.info("webhook %s: deleted %s sessions of %s", topic, deleted, shop)
        return verified.response
    current = payload.get("current")  # app/scopes_update
    if not isinstance(current, list) or not all(isinstance(s, str) for s in current):
        log.warning("webhook app/scopes_update refused: no 'current' list of scopes")
        return _bad_request()
    yield from update_scope(shop, ",".join(current))
    return verified.response


def webhook_shop(verified: ResultForReq, payload: dict[str, Any]) -> str:
    """The shop a verified webhook is about: the one its signed body names (``shop_domain``,
    or ``myshopify_domain`` for ``app/uninstalled``), else the ``X-Shopify-Shop-Domain``
    header. The HMAC covers the body only: a header changed on a replayed body never
    chooses the shop. ``ValueError`` when neither names a shop."""
    for key in ("shop_domain", "myshopify_domain"):
        if isinstance(payload.get(key), str):
            return normalize_shop(payload[key])
    return normalize_shop(verified.shop or "")


def _bad_request() -> Res:
    return Res(status=400, body="Bad Request", headers={})


def _json_object(body: str) -> dict[str, Any]:
    """The webhook's JSON body as an object; ``{}`` when it is not one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def update_scope(shop: str, scope: str) -> Flow[bool]:
    """``app/scopes_update``: store the new scope, conditionally, so a token refreshed meanwhile
    is never overwritten by the one read here. ``False``: no session."""
    session = yield Load(offline_session_id(shop))
    while session is not None:
        updated = session.copy()
        updated.scope = scope
        try:
            stored: bool = yield StoreIfUnchanged(updated, expected=session)
            return stored
        except SessionConflictError:  # refreshed meanwhile: apply to the new pair
            session = yield Load(session.id)
    return False


def check_shop(shop: str) -> Flow[str]:
    """The background job's Admin call for one shop, as the line it reports."""
    try:
        result = yield from admin_call(shop)
    except ReauthorizationRequiredError:
        return "needs reauthorization"  # the merchant must open the app again
    except TokenRefreshError:
        return "refresh failed"  # transient: the next run tries again
    if result is None:
        return "uninstalled"
    return "ok" if result.ok else result.log.code


def installed_shops(sessions: Iterable[Session]) -> list[str]:
    """The shops the job calls: every shop with an offline session, in order."""
    return sorted({session.shop for session in sessions if not session.is_online})


def shop_of(verified: Verified) -> str:
    """``name.myshopify.com`` from shopifyapp's bare shop name: our sessions' form."""
    return normalize_shop(verified.shop or "")


APP_HOME_PAGE = """<!doctype html>
<html><head>
<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js" data-api-key="{api_key}"></script>
<script src="https://cdn.shopify.com/shopifycloud/polaris.js"></script>
</head><body><s-page heading="{shop}">Installed.</s-page></body></html>
"""


def app_home_page(api_key: str, shop: str) -> str:
    """The App Home document: App Bridge (with the app's API key) and Polaris web components."""
    return APP_HOME_PAGE.format(api_key=api_key, shop=shop)


# --- carrying an operation out ----------------------------------------------------------------


def call_for(operation: Operation, backend: BackendBase[Any, Any, Any]) -> Callable[[], Any]:
    """The call that carries ``operation`` out on ``backend``: its result is the answer for
    the blocking backend, an awaitable giving it for the async one."""
    storage, op = backend.storage, operation
    if isinstance(op, LoadFresh):
        return partial(storage.load_fresh_session, op.id, backend.refresher, rejected=op.rejected)
    if isinstance(op, Load):
        return partial(storage.load_session, op.id)
    if isinstance(op, StoreNewest):
        return partial(storage.store_newest, op.session, create=True)
    if isinstance(op, StoreIfUnchanged):
        return partial(storage.store_session, op.session, expected=op.expected)
    if isinstance(op, DeleteShop):
        return partial(storage.delete_sessions_by_shop, op.shop)
    if isinstance(op, Exchange):
        return partial(
            backend.token_exchange,
            backend.shopify,
            op.mode,
            id_token=op.verified.id_token,
            invalid_token_response=op.verified.invalid_token_response,
            http_client=backend.http,
        )
    if isinstance(op, AdminQuery):
        return partial(
            backend.admin_graphql,
            backend.shopify,
            SHOP_QUERY,
            shop=op.session.shop.removesuffix(".myshopify.com"),  # shopifyapp's form
            access_token=op.session.access_token or "",
            api_version=API_VERSION,
            # in a request, a final 401 answers with App Bridge's retry; in a job, plain 401
            invalid_token_response=op.verified.invalid_token_response if op.verified else None,
            http_client=backend.http,
        )
    raise TypeError(f"unknown operation {op!r}")  # pragma: no cover


# --- what both backends are made of -----------------------------------------------------------

StorageT = TypeVar("StorageT")
RefresherT = TypeVar("RefresherT")
HttpT = TypeVar("HttpT")
BackendT = TypeVar("BackendT", bound="BackendBase[Any, Any, Any]")


@dataclass
class BackendBase(Generic[StorageT, RefresherT, HttpT]):
    """Everything requests and jobs share, made once per process (or event loop): shopifyapp,
    the storage, the refresher, and the HTTP client every call to Shopify goes through (tests
    route it to a fake)."""

    shopify: ShopifyApp
    storage: StorageT
    refresher: RefresherT
    http: HttpT
    online_tokens: bool = False  # also keep an online (per-user) token for each user

    # what a subclass sends with: the classes of its client and refresher, and shopifyapp's
    # token exchange and Admin GraphQL request (``ShopifyApp`` methods, blocking or async)
    http_class: ClassVar[Callable[..., Any]]
    refresher_class: ClassVar[Callable[..., Any]]
    token_exchange: ClassVar[Callable[..., Any]]
    admin_graphql: ClassVar[Callable[..., Any]]

    @classmethod
    def create(
        cls: type[BackendT],
        client_id: str,
        client_secret: str,
        storage: StorageT,
        http: HttpT | None = None,
        online_tokens: bool = False,
    ) -> BackendT:
        """The backend for the app's credentials; ``http`` defaults to a new client with a
        10-second timeout, shared by shopifyapp's calls and the refresher."""
        client = http if http is not None else cls.http_class(timeout=10.0)
        return cls(
            shopify=ShopifyApp(client_id=client_id, client_secret=client_secret),
            storage=storage,
            refresher=cls.refresher_class(client_id, client_secret, http_client=client),
            http=client,
            online_tokens=online_tokens,
        )

    def verify_app_home(self, request: RequestInput) -> Verified:
        """The verified request, or ``ShopifyRefused`` with shopifyapp's answer (401, 302)."""
        return verify_app_home(self.shopify, request)
