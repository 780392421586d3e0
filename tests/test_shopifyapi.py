"""``Session`` <-> ``shopify.Session``, with the real ``ShopifyAPI`` package installed; the last
tests make Admin GraphQL calls through ``ShopifyAPI``'s own client against the fake Shopify."""

from __future__ import annotations

import importlib
import socket
import sys
import urllib.error
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

shopify = pytest.importorskip("shopify")

from shopify_sessions import (  # noqa: E402
    MemorySessionStorage,
    Session,
    ShopifyTokenRefresher,
    offline_session_id,
)
from shopify_sessions.integrations.shopifyapi import (  # noqa: E402
    session_from_shopify_session,
    to_shopify_session,
)
from shopify_sessions.testing import FakeShopify  # noqa: E402

SHOP = "shop1.myshopify.com"
TOKEN = "shpat_fake-test-token-not-a-secret"
NOW = datetime.now(timezone.utc)


def session(**overrides: Any) -> Session:
    fields: dict[str, Any] = dict(
        id=offline_session_id(SHOP),
        shop=SHOP,
        state="",
        is_online=False,
        scope="read_products,write_orders",
        expires=NOW + timedelta(hours=1),
        access_token=TOKEN,
        refresh_token="shprt_refresh",
        refresh_token_expires=NOW + timedelta(days=90),
    )
    fields.update(overrides)
    return Session(**fields)


# --- Session -> shopify.Session ------------------------------------------------------------------


def test_to_shopify_session_carries_shop_token_version_and_scopes() -> None:
    converted = to_shopify_session(session(), "2025-01")

    assert isinstance(converted, shopify.Session)
    assert converted.url == SHOP
    assert converted.token == TOKEN
    assert converted.api_version.name == "2025-01"
    assert converted.site == "https://shop1.myshopify.com/admin/api/2025-01"
    assert converted.valid
    assert converted.access_scopes == shopify.ApiAccess("read_products,write_orders")
    assert converted.access_scopes.covers(shopify.ApiAccess("read_orders"))  # implied


@pytest.mark.parametrize("version", ["2024-10", "2030-04", "unstable"])
def test_known_future_and_unstable_versions(version: str) -> None:
    assert to_shopify_session(session(), version).api_version.name == version


def test_online_and_non_expiring_sessions_convert_too() -> None:
    online = session(id=f"{SHOP}_42", is_online=True, refresh_token=None)
    assert to_shopify_session(online, "2025-01").token == TOKEN
    legacy = session(expires=None, refresh_token=None, refresh_token_expires=None)
    assert to_shopify_session(legacy, "2025-01").token == TOKEN


@pytest.mark.parametrize("version", ["latest", "2025-1", ""])
def test_a_version_shopifyapi_refuses_is_a_value_error(version: str) -> None:
    with pytest.raises(ValueError, match="not a version ShopifyAPI accepts"):
        to_shopify_session(session(), version)


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="expected a Session"):
        to_shopify_session({"shop": SHOP}, "2025-01")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="api_version must be a str"):
        to_shopify_session(session(), None)  # type: ignore[arg-type]


def test_no_token_or_an_expired_one_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match="has no access token"):
        to_shopify_session(session(access_token=None), "2025-01")
    with pytest.raises(ValueError, match="load_fresh_session") as error:
        to_shopify_session(session(expires=NOW - timedelta(seconds=1)), "2025-01")
    assert TOKEN not in str(error.value)


def test_scopes_apiaccess_refuses_need_with_scopes_false() -> None:
    customer = session(scope="read_products,customer_read_orders")
    with pytest.raises(ValueError, match="with_scopes=False") as error:
        to_shopify_session(customer, "2025-01")
    assert TOKEN not in str(error.value)
    converted = to_shopify_session(customer, "2025-01", with_scopes=False)
    assert converted.access_scopes is None and converted.token == TOKEN
    assert to_shopify_session(session(scope=None), "2025-01").access_scopes is None


# --- shopify.Session -> Session ------------------------------------------------------------------


def test_session_from_shopifyapi_oauth_result() -> None:
    # what ShopifyAPI holds after its OAuth request_token: shop, token, scopes, no expiry
    oauth = shopify.Session("https://SHOP1.myshopify.com/admin", "2025-01", TOKEN)
    oauth.access_scopes = "write_orders,read_products,read_orders"

    assert session_from_shopify_session(oauth, state="st") == Session(
        id="offline_shop1.myshopify.com",
        shop=SHOP,
        state="st",
        is_online=False,
        scope="read_products,write_orders",  # ApiAccess drops read_orders (implied)
        access_token=TOKEN,
    )


def test_round_trip_of_a_non_expiring_offline_session() -> None:
    legacy = session(
        scope="read_products,write_orders",
        expires=None,
        refresh_token=None,
        refresh_token_expires=None,
    )
    assert session_from_shopify_session(to_shopify_session(legacy, "2025-01")) == legacy


def test_port_is_not_part_of_the_shop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shopify.Session, "port", 8443)
    converted = shopify.Session(SHOP, "2025-01", TOKEN)
    assert converted.url == f"{SHOP}:8443"
    assert session_from_shopify_session(converted).shop == SHOP


def test_from_refuses_a_session_without_token_or_shop() -> None:
    with pytest.raises(ValueError, match="has no token"):
        session_from_shopify_session(shopify.Session(SHOP, "2025-01"))
    with pytest.raises(ValueError, match="no shop URL"):
        session_from_shopify_session(shopify.Session("", "2025-01", TOKEN))
    with pytest.raises(TypeError, match=r"expected a shopify\.Session"):
        session_from_shopify_session(session())


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "shopify_sessions.integrations.shopifyapi"
    monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "shopify", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'shopify-sessions\[shopifyapi\]'"):
        importlib.import_module(name)


# --- end to end: ShopifyAPI's GraphQL client against the fake Shopify ---------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShopify]:
    """The fake Shopify, reached by ShopifyAPI's urllib calls: http, the fake's port, and every
    *.myshopify.com resolved to 127.0.0.1 (the Host header still names the shop)."""
    with FakeShopify() as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        real_getaddrinfo = socket.getaddrinfo

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(host, str) and host.endswith(".myshopify.com"):
                host = "127.0.0.1"
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(shopify.Session, "protocol", "http")
        monkeypatch.setattr(shopify.Session, "port", port)
        yield fake
        shopify.ShopifyResource.clear_session()


def shop_name(session: Session) -> str:
    shopify.ShopifyResource.activate_session(to_shopify_session(session, "2025-01"))
    answer: str = shopify.GraphQL().execute("{ shop { name } }")
    return answer


def test_shopifyapi_calls_with_a_stored_session(fake: FakeShopify) -> None:
    storage = MemorySessionStorage()
    grant = fake.install(SHOP)
    storage.store_session(
        session(access_token=grant.access_token, refresh_token=grant.refresh_token)
    )
    with (
        fake.client() as http,
        ShopifyTokenRefresher(fake.client_id, fake.client_secret, http_client=http) as refresher,
    ):
        loaded = storage.load_fresh_session(offline_session_id(SHOP), refresher)
        assert loaded is not None

        assert SHOP in shop_name(loaded)
    assert [c.grant for c in fake.calls] == ["admin_api"]  # fresh: no refresh


def test_shopifyapi_401_refresh_and_retry_once(
    fake: FakeShopify, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's pattern: a 401 from ShopifyAPI -> load_fresh_session(rejected=...) -> retry."""
    storage = MemorySessionStorage()
    grant = fake.install(SHOP)
    storage.store_session(
        session(access_token=grant.access_token, refresh_token=grant.refresh_token)
    )
    with (
        fake.client() as http,
        ShopifyTokenRefresher(fake.client_id, fake.client_secret, http_client=http) as refresher,
    ):
        loaded = storage.load_fresh_session(offline_session_id(SHOP), refresher)
        assert loaded is not None
        refresher.refresh(loaded)  # someone else refreshed: the loaded token is revoked

        with pytest.raises(urllib.error.HTTPError) as error:
            shop_name(loaded)
        assert error.value.code == 401
        fresh = storage.load_fresh_session(loaded.id, refresher, rejected=loaded)
        assert fresh is not None

        assert SHOP in shop_name(fresh)
    assert [c.status for c in fake.calls if c.grant == "admin_api"] == [401, 200]
    capsys.readouterr()  # ShopifyAPI prints the 401 body to stdout
