"""How your app's own tests use the plugin: a fake Shopify and an in-memory storage, the app
in the test's event loop through httpx's ASGI transport (anyio's pytest plugin runs them)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from app import Settings, create_app

from shopify_sessions import AsyncMemorySessionStorage, MemorySessionStorage
from shopify_sessions.testing import FakeShopify

pytest_plugins = ["shopify_sessions.testing.pytest_plugin"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_shopify_options() -> dict[str, Any]:
    # the app's credentials; shopifyapp wants a secret of 32+ bytes for session tokens
    return {"client_id": "test-api-key", "client_secret": "test-api-secret-0123456789abcdef"}


@pytest.fixture
async def client(
    fake_shopify: FakeShopify, memory_storage: MemorySessionStorage
) -> AsyncIterator[httpx.AsyncClient]:
    """The app, started (its lifespan), with its storage on ``memory_storage`` and every call
    to Shopify (token exchange, refresh, Admin API) going to the fake."""
    settings = Settings(fake_shopify.client_id, fake_shopify.client_secret)
    async with httpx.AsyncClient(transport=fake_shopify.async_transport()) as to_shopify:
        storage = AsyncMemorySessionStorage(memory_storage)  # the same sessions, awaited
        app = create_app(settings, storage=storage, http_client=to_shopify)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            yield client
