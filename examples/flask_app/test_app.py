"""Tests of the app with the plugin's fixtures: ``pytest`` in this directory runs them."""

from datetime import datetime, timedelta, timezone

from flask import Flask

from shopify_sessions import MemorySessionStorage
from shopify_sessions.testing import FakeShopify

SHOP = "test-shop.myshopify.com"


def open_app(app: Flask, fake: FakeShopify) -> int:
    token = fake.session_token(SHOP)
    return app.test_client().get(f"/?shop={SHOP}&id_token={token}").status_code


def test_opening_the_app_stores_its_token(
    app: Flask, fake_shopify: FakeShopify, memory_storage: MemorySessionStorage
) -> None:
    assert open_app(app, fake_shopify) == 200

    session = memory_storage.load_session(f"offline_{SHOP}")
    assert session is not None and session.access_token == fake_shopify.active_token(SHOP)


def test_an_expired_token_is_refreshed(
    app: Flask, fake_shopify: FakeShopify, memory_storage: MemorySessionStorage
) -> None:
    open_app(app, fake_shopify)
    session = memory_storage.load_session(f"offline_{SHOP}")
    assert session is not None
    session.expires = datetime.now(timezone.utc) - timedelta(minutes=1)
    memory_storage.store_session(session)
    headers = {"Authorization": f"Bearer {fake_shopify.session_token(SHOP)}"}

    response = app.test_client().get("/api/shop", headers=headers)

    assert response.status_code == 200
    assert response.json == {"shop": {"name": SHOP, "myshopifyDomain": SHOP}}
    assert fake_shopify.call_count(grant="refresh_token") == 1
