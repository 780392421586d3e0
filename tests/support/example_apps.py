"""What the framework example tests share: the fake Shopify, a table on moto's server, webhook
signatures, moves that put a stored token into a given state, and the scenarios themselves.

Each example's test module drives its app through its framework's own test client behind an
``AppDriver``; the scenarios (``SCENARIOS``) are the same for every framework. They are blocking
code: an async app's driver runs its app in the test's event loop and is called from a thread.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

import pytest

from shopify_sessions import (
    DynamoDBSessionStorage,
    ReauthorizationRequiredError,
    Session,
    ShopifyTokenRefresher,
    StorageUnavailableError,
    offline_session_id,
    online_session_id,
)
from shopify_sessions.testing import FakeShopify

T = TypeVar("T")

CLIENT_ID = "example-app-client-id"
# 32+ bytes: pyjwt warns about shorter HMAC keys (shopifyapp verifies session tokens with it)
CLIENT_SECRET = "example-app-client-secret-0123456789abcdef"
SHOP = "example-shop.myshopify.com"
OTHER_SHOP = "other-shop.myshopify.com"
OFFLINE_ID = offline_session_id(SHOP)


# --- the pieces -------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_shopify() -> Iterator[FakeShopify]:
    with FakeShopify(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        yield fake


@contextlib.contextmanager
def moto_table(endpoint: str, prefix: str) -> Iterator[DynamoDBSessionStorage]:
    """A fresh sessions table on moto's server, dropped afterwards."""
    storage = DynamoDBSessionStorage(f"{prefix}_{uuid.uuid4().hex[:10]}", host=endpoint)
    storage.create_table()
    try:
        yield storage
    finally:
        storage.model.delete_table()
        storage.close()


def webhook(
    topic: str, shop: str, payload: dict[str, Any], *, secret: str = CLIENT_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its headers, signed as Shopify signs: base64 HMAC-SHA256 of the body."""
    body = json.dumps(payload).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Hmac-Sha256": signature.decode(),
        "X-Shopify-Webhook-Id": uuid.uuid4().hex,
        "X-Shopify-API-Version": "2025-10",
    }
    return body, headers


def expire(storage: Any, session_id: str) -> Session:
    """Move the stored access token's expiry into the past (Shopify still accepts it)."""
    session: Session = storage.load_session(session_id)
    session.expires = datetime.now(timezone.utc) - timedelta(minutes=1)
    storage.store_session(session)
    return session


def revoke_behind_the_apps_back(fake: FakeShopify, storage: Any, session_id: str) -> None:
    """Another client refreshes the stored grant and drops the answer: the stored access token
    is revoked, its refresh token still in Shopify's replay window."""
    with (
        fake.client() as http,
        ShopifyTokenRefresher(fake.client_id, fake.client_secret, http_client=http) as refresher,
    ):
        refresher.refresh(storage.load_session(session_id))


def all_at_once(n: int, call: Callable[[], T]) -> list[T]:
    """``call`` in ``n`` threads released together; the results (re-raises the first error)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


# --- the app under test, whatever its framework ---------------------------------------------------


@dataclass
class Answer:
    """An HTTP answer as any framework's test client gives it."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (the clients' own header types)
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class AppDriver(Protocol):
    """One example app behind its framework's test client, wired to ``shopify``."""

    shopify: FakeShopify

    @property
    def storage(self) -> Any:
        """The storage the app itself uses (for assertions, and to patch)."""
        ...

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer: ...

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer: ...

    def run_job(self, concurrency: int) -> list[str]:
        """The background job's output lines."""
        ...

    def online(self) -> AppDriver:
        """The same app, configured to also keep online tokens."""
        ...


def patch_storage(
    app: AppDriver, mp: pytest.MonkeyPatch, name: str, replacement: Callable[..., Any]
) -> None:
    """Replace method ``name`` of the storage the app itself calls. An async app's driver has
    ``patch_storage`` (its ``storage`` is a blocking one on the same table, which the app never
    calls): it puts ``replacement`` on the app's async storage, awaited."""
    patch = getattr(app, "patch_storage", None)
    if patch is not None:
        patch(mp, name, replacement)
    else:
        mp.setattr(app.storage, name, replacement)


def open_app(app: AppDriver, shop: str = SHOP, user_id: str = "42") -> Answer:
    """The merchant opens the app in the admin: a document request with an id_token."""
    token = app.shopify.session_token(shop, user_id=user_id)
    return app.get(f"/?shop={shop}&embedded=1&id_token={token}")


def fetch_shop(app: AppDriver, shop: str = SHOP) -> Answer:
    """App Bridge's fetch to /api/shop with a fresh session token."""
    return app.get("/api/shop", {"Authorization": f"Bearer {app.shopify.session_token(shop)}"})


def stored(app: AppDriver, id: str = OFFLINE_ID) -> Session:
    session: Session | None = app.storage.load_session(id)
    assert session is not None
    return session


# --- the scenarios ------------------------------------------------------------------------------


def install_stores_an_expiring_offline_token(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    answer = open_app(app)

    assert answer.status == 200, answer.body
    csp = answer.headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{SHOP}" in csp
    session = stored(app)
    assert session.access_token == app.shopify.active_token(SHOP)
    assert session.refresh_token and session.expires and session.refresh_token_expires
    assert app.storage.find_session_ids_by_shop(SHOP) == [OFFLINE_ID]  # no online token asked

    assert open_app(app).status == 200  # opened again: nothing exchanged
    assert app.shopify.call_count(grant="token_exchange") == 1


def install_with_online_tokens_stores_both(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    app = app.online()

    assert open_app(app, user_id="42").status == 200

    online = stored(app, online_session_id(SHOP, 42))
    assert online.is_online and online.access_token
    assert app.shopify.is_active(SHOP, online.access_token)
    assert stored(app).access_token == app.shopify.active_token(SHOP)
    assert open_app(app, user_id="42").status == 200
    assert app.shopify.call_count(grant="token_exchange") == 2  # offline + online, once each


def bad_session_token_is_refused_and_nothing_stored(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    answer = app.get("/api/shop", {"Authorization": "Bearer not-a-jwt"})

    assert answer.status == 401
    assert answer.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert app.storage.load_session(OFFLINE_ID) is None


def expired_token_is_refreshed_once_for_10_concurrent_requests(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    open_app(app)
    before = expire(app.storage, OFFLINE_ID)
    # a slow refresh: every request arrives while it runs; admin calls slow enough to overlap
    # even when a waiter learns of the new pair a poll later
    app.shopify.latency = 0.5

    answers = all_at_once(10, lambda: fetch_shop(app))

    assert [a.status for a in answers] == [200] * 10, answers[0].body
    assert all(a.json()["shop"]["myshopifyDomain"] == SHOP for a in answers)
    assert app.shopify.call_count(grant="refresh_token") == 1
    admin = [c for c in app.shopify.calls if c.grant == "admin_api"]
    first_done = min(c.finished for c in admin)
    overlapped = sum(c.started < first_done for c in admin)
    timeline = [(c.grant, round(c.started, 3), round(c.finished, 3)) for c in app.shopify.calls]
    assert overlapped > 1, timeline  # the requests really overlapped
    session = stored(app)
    assert session.access_token == app.shopify.active_token(SHOP) != before.access_token
    assert not session.is_expired()


def admin_401_is_refreshed_and_retried_once(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    open_app(app)
    revoke_behind_the_apps_back(app.shopify, app.storage, OFFLINE_ID)

    answer = fetch_shop(app)

    assert answer.status == 200, answer.body
    assert [c.status for c in app.shopify.calls if c.grant == "admin_api"] == [401, 200]
    assert app.shopify.call_count(grant="refresh_token") == 2  # the other client's, then ours
    assert stored(app).access_token == app.shopify.active_token(SHOP)


def dead_grant_in_a_request_is_replaced_by_a_token_exchange(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    open_app(app)
    expire(app.storage, OFFLINE_ID)
    app.shopify.expire_refresh_token(SHOP)  # 90 idle days: the refresh answers invalid_grant

    answer = fetch_shop(app)

    assert answer.status == 200, answer.body
    assert app.shopify.call_count(grant="token_exchange") == 2
    assert stored(app).access_token == app.shopify.active_token(SHOP)


def uninstall_webhook_deletes_every_session_of_the_shop(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    app = app.online()
    open_app(app, user_id="42")
    open_app(app, OTHER_SHOP)
    assert len(app.storage.find_session_ids_by_shop(SHOP)) == 2
    body, headers = webhook("app/uninstalled", SHOP, {"id": 1, "myshopify_domain": SHOP})

    answer = app.post("/webhooks", body, headers)

    assert answer.status == 200
    assert app.storage.find_sessions_by_shop(SHOP) == []
    assert len(app.storage.find_session_ids_by_shop(OTHER_SHOP)) == 2  # other shops kept


def webhook_with_a_bad_hmac_is_401_and_changes_nothing(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    open_app(app)
    before = stored(app)
    body, headers = webhook("app/uninstalled", SHOP, {"id": 1}, secret="not-the-app-secret")

    answer = app.post("/webhooks", body, headers)

    assert answer.status == 401
    assert app.storage.find_sessions_by_shop(SHOP) == [before]


def scopes_update_webhook_stores_the_scope(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    open_app(app)
    payload = {"id": 1, "previous": ["read_products"], "current": ["read_products", "read_orders"]}
    body, headers = webhook("app/scopes_update", SHOP, payload)

    answer = app.post("/webhooks", body, headers)

    assert answer.status == 200
    session = stored(app)
    assert session.scope == "read_products,read_orders"
    assert session.access_token == app.shopify.active_token(SHOP)  # tokens untouched


def scopes_update_never_overwrites_a_token_refreshed_meanwhile(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    open_app(app)
    storage = app.storage
    stale = stored(app)
    real_load = storage.load_session
    first = [True]

    def load_then_refresh(id: str) -> Session | None:
        if not first[0]:
            return real_load(id)
        first[0] = False
        # the webhook has read the pair; a worker stores a refreshed one before it writes
        refreshed = stale.copy()
        refreshed.access_token, refreshed.refresh_token = "shpat_newer", "shprt_newer"
        storage.store_session(refreshed)
        return stale

    patch_storage(app, mp, "load_session", load_then_refresh)
    body, headers = webhook("app/scopes_update", SHOP, {"current": ["write_products"]})

    assert app.post("/webhooks", body, headers).status == 200

    mp.undo()
    session = stored(app)
    assert (session.access_token, session.refresh_token) == ("shpat_newer", "shprt_newer")
    assert session.scope == "write_products"


# --- webhooks that never need a token -----------------------------------------------------------

CUSTOMER = {"id": 7, "email": "customer@example.com", "phone": "+15555550123"}
WEBHOOK_PAYLOADS: dict[str, dict[str, Any]] = {
    "app/uninstalled": {"id": 1, "name": "Example", "myshopify_domain": SHOP, "domain": SHOP},
    "shop/redact": {"shop_id": 1, "shop_domain": SHOP},
    "customers/redact": {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": CUSTOMER,
        "orders_to_redact": [11, 12],
    },
    "customers/data_request": {
        "shop_id": 1,
        "shop_domain": SHOP,
        "orders_requested": [11],
        "customer": CUSTOMER,
        "data_request": {"id": 9},
    },
}
DELETES_SESSIONS = ("app/uninstalled", "shop/redact")


def _installed_with_a_token_due(app: AppDriver) -> AppDriver:
    """SHOP with an offline and an online session, its offline token due for a refresh (a
    handler that loaded a fresh session would refresh now), and OTHER_SHOP."""
    app = app.online()
    open_app(app, user_id="42")
    open_app(app, OTHER_SHOP)
    expire(app.storage, OFFLINE_ID)
    return app


def _refreshes_throttled(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    """DynamoDB throttles every refresh: a handler that needs one would answer 5xx."""

    def throttled(*args: Any, **kwargs: Any) -> Session | None:
        raise StorageUnavailableError("UpdateItem", "sessions", 8, "ThrottlingException")

    patch_storage(app, mp, "load_fresh_session", throttled)


def _shopify_down(app: AppDriver) -> None:
    app.shopify.stop()  # every call to Shopify now fails to connect


def _dead_grant(app: AppDriver) -> None:
    """Shopify refuses the shop's refresh token; a refresh has recorded it in the item."""
    app.shopify.expire_refresh_token(SHOP)
    with (
        app.shopify.client() as http,
        ShopifyTokenRefresher(
            app.shopify.client_id, app.shopify.client_secret, http_client=http
        ) as refresher,
        pytest.raises(ReauthorizationRequiredError),
    ):
        app.storage.load_fresh_session(OFFLINE_ID, refresher)


def _answered_without_a_token(topic: str, condition: Callable[[AppDriver], None]) -> Scenario:
    def scenario(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
        app = _installed_with_a_token_due(app)
        condition(app)
        _refreshes_throttled(app, mp)
        calls = len(app.shopify.calls)
        body, headers = webhook(topic, SHOP, WEBHOOK_PAYLOADS[topic])

        answer = app.post("/webhooks", body, headers)

        assert answer.status == 200, answer.body
        assert len(app.shopify.calls) == calls  # Shopify was not asked for anything
        mp.undo()
        left = len(app.storage.find_session_ids_by_shop(SHOP))
        assert left == (0 if topic in DELETES_SESSIONS else 2)  # offline and online, or none
        assert len(app.storage.find_session_ids_by_shop(OTHER_SHOP)) == 2  # other shops kept

    what = condition.__name__.strip("_")
    scenario.__name__ = f"{topic.replace('/', '_')}_webhook_is_answered_with_{what}"
    return scenario


def webhooks_with_a_bad_hmac_are_401_and_change_nothing(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    open_app(app)
    before = stored(app)
    for topic, payload in WEBHOOK_PAYLOADS.items():
        body, headers = webhook(topic, SHOP, payload, secret="not-the-app-secret")
        assert app.post("/webhooks", body, headers).status == 401, topic
        body, headers = webhook(topic, SHOP, payload)
        tampered = body.replace(b'"shop_id": 1', b'"shop_id": 2').replace(b'"id": 1', b'"id": 2')
        assert app.post("/webhooks", tampered, headers).status == 401, topic
    assert app.storage.find_sessions_by_shop(SHOP) == [before]


def webhooks_for_a_shop_with_no_session_are_answered(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    """shop/redact comes 48 hours after app/uninstalled: nothing is left to delete."""
    for topic, payload in WEBHOOK_PAYLOADS.items():
        body, headers = webhook(topic, SHOP, payload)
        assert app.post("/webhooks", body, headers).status == 200, topic


def a_verified_webhook_naming_no_shop_is_400(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    open_app(app)
    body, headers = webhook("app/uninstalled", SHOP, {"id": 1})
    del headers["X-Shopify-Shop-Domain"]

    assert app.post("/webhooks", body, headers).status == 400

    assert app.storage.find_session_ids_by_shop(SHOP) == [OFFLINE_ID]


def a_webhook_acts_on_the_shop_its_signed_body_names(
    app: AppDriver, mp: pytest.MonkeyPatch
) -> None:
    """The HMAC covers the body, not the headers: a signed app/uninstalled or shop/redact
    replayed under another shop's header deletes the signed shop's sessions, never the
    header's."""
    open_app(app, OTHER_SHOP)
    for topic in DELETES_SESSIONS:
        open_app(app)
        body, headers = webhook(topic, SHOP, WEBHOOK_PAYLOADS[topic])
        headers["X-Shopify-Shop-Domain"] = OTHER_SHOP

        assert app.post("/webhooks", body, headers).status == 200

        assert app.storage.find_session_ids_by_shop(SHOP) == [], topic
        assert app.storage.find_session_ids_by_shop(OTHER_SHOP) == [
            offline_session_id(OTHER_SHOP)
        ], topic


WEBHOOK_SCENARIOS: list[Scenario] = [
    *(
        _answered_without_a_token(topic, condition)
        for topic in WEBHOOK_PAYLOADS
        for condition in (_shopify_down, _dead_grant)
    ),
    webhooks_with_a_bad_hmac_are_401_and_change_nothing,
    webhooks_for_a_shop_with_no_session_are_answered,
    a_verified_webhook_naming_no_shop_is_400,
    a_webhook_acts_on_the_shop_its_signed_body_names,
]


def job_calls_every_installed_shop(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    shops = [f"shop{i}.myshopify.com" for i in range(4)]
    for shop in shops:
        open_app(app, shop)
    expire(app.storage, offline_session_id(shops[1]))  # refreshed by the job
    revoke_behind_the_apps_back(app.shopify, app.storage, offline_session_id(shops[2]))  # 401
    expire(app.storage, offline_session_id(shops[3]))
    app.shopify.expire_refresh_token(shops[3])  # the merchant must open the app again

    lines = app.run_job(concurrency=2)

    assert lines == [
        "shop0.myshopify.com: ok",
        "shop1.myshopify.com: ok",
        "shop2.myshopify.com: ok",
        "shop3.myshopify.com: needs reauthorization",
    ]
    # shop1's, shop2's two (one behind the app's back), shop3's refused one
    assert app.shopify.call_count(grant="refresh_token") == 4
    assert stored(app, offline_session_id(shops[1])).access_token == app.shopify.active_token(
        shops[1]
    )


def job_calls_at_most_concurrency_shops_at_once(app: AppDriver, mp: pytest.MonkeyPatch) -> None:
    shops = [f"shop{i}.myshopify.com" for i in range(6)]
    for shop in shops:
        open_app(app, shop)
    app.shopify.latency = 0.1  # slow Admin calls: without a bound, all six would overlap

    lines = app.run_job(concurrency=2)

    assert lines == [f"{shop}: ok" for shop in shops]
    admin = [c for c in app.shopify.calls if c.grant == "admin_api"]
    # calls in flight when each started, itself included
    in_flight = [sum(o.started <= c.started < o.finished for o in admin) for c in admin]
    assert max(in_flight) == 2


Scenario = Callable[[AppDriver, pytest.MonkeyPatch], None]

SCENARIOS: list[Scenario] = [
    install_stores_an_expiring_offline_token,
    install_with_online_tokens_stores_both,
    bad_session_token_is_refused_and_nothing_stored,
    expired_token_is_refreshed_once_for_10_concurrent_requests,
    admin_401_is_refreshed_and_retried_once,
    dead_grant_in_a_request_is_replaced_by_a_token_exchange,
    uninstall_webhook_deletes_every_session_of_the_shop,
    webhook_with_a_bad_hmac_is_401_and_changes_nothing,
    scopes_update_webhook_stores_the_scope,
    scopes_update_never_overwrites_a_token_refreshed_meanwhile,
    job_calls_every_installed_shop,
    job_calls_at_most_concurrency_shops_at_once,
    *WEBHOOK_SCENARIOS,
]


def scenario_id(scenario: Scenario) -> str:
    return scenario.__name__
