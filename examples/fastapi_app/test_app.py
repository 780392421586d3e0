"""Tests of the app with the plugin's fixtures: ``pytest`` in this directory runs them."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from shopify_sessions import MemorySessionStorage
from shopify_sessions.testing import FakeShopify

pytestmark = pytest.mark.anyio

SHOP = "test-shop.myshopify.com"


async def open_app(client: httpx.AsyncClient, fake: FakeShopify) -> int:
    token = fake.session_token(SHOP)
    return (await client.get(f"/?shop={SHOP}&id_token={token}")).status_code


async def test_opening_the_app_stores_its_token(
    client: httpx.AsyncClient, fake_shopify: FakeShopify, memory_storage: MemorySessionStorage
) -> None:
    assert await open_app(client, fake_shopify) == 200

    session = memory_storage.load_session(f"offline_{SHOP}")
    assert session is not None and session.access_token == fake_shopify.active_token(SHOP)


async def test_an_expired_token_is_refreshed(
    client: httpx.AsyncClient, fake_shopify: FakeShopify, memory_storage: MemorySessionStorage
) -> None:
    await open_app(client, fake_shopify)
    session = memory_storage.load_session(f"offline_{SHOP}")
    assert session is not None
    session.expires = datetime.now(timezone.utc) - timedelta(minutes=1)
    memory_storage.store_session(session)
    headers = {"Authorization": f"Bearer {fake_shopify.session_token(SHOP)}"}

    response = await client.get("/api/shop", headers=headers)

    assert response.status_code == 200
    assert response.json() == {"shop": {"name": SHOP, "myshopifyDomain": SHOP}}
    assert fake_shopify.call_count(grant="refresh_token") == 1
