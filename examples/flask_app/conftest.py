"""How your app's own tests use the plugin: a fake Shopify and an in-memory storage."""

from typing import Any

import httpx
import pytest
from app import create_app
from flask import Flask

from shopify_sessions import MemorySessionStorage
from shopify_sessions.testing import FakeShopify

pytest_plugins = ["shopify_sessions.testing.pytest_plugin"]


@pytest.fixture
def fake_shopify_options() -> dict[str, Any]:
    # the app's credentials; shopifyapp wants a secret of 32+ bytes for session tokens
    return {"client_id": "test-api-key", "client_secret": "test-api-secret-0123456789abcdef"}


@pytest.fixture
def app(
    fake_shopify: FakeShopify,
    fake_shopify_client: httpx.Client,
    memory_storage: MemorySessionStorage,
) -> Flask:
    return create_app(
        storage=memory_storage,
        http_client=fake_shopify_client,  # token exchange, refresh, Admin API: all to the fake
        SHOPIFY_API_KEY=fake_shopify.client_id,
        SHOPIFY_API_SECRET=fake_shopify.client_secret,
    )
