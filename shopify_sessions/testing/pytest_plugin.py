"""pytest fixtures for a fake Shopify token endpoint (see ``FakeShopify``).

Enable them in your ``conftest.py``::

    pytest_plugins = ["shopify_sessions.testing.pytest_plugin"]

then ask for ``fake_shopify`` (a started ``FakeShopify``, stopped after the test; its token
endpoint and an Admin GraphQL endpoint answering 401 to revoked tokens), ``fake_shopify_client``
(an ``httpx.Client`` whose requests to any ``https://{shop}/...`` reach it) or
``memory_storage`` (an empty ``MemorySessionStorage``), ``async_memory_storage`` (an
``AsyncMemorySessionStorage`` over that same one: sessions stored by either are seen by both)
and ``fake_shopify_async_client`` (an ``httpx.AsyncClient`` routed like the blocking one, for
``AsyncShopifyTokenRefresher``; close it yourself, or leave it to the test's end). Override
``fake_shopify_options`` to give the fake your app's client id and secret (shopifyapp verifies
session tokens with them).
The fake is imported only when a test uses a fixture, so enabling the plugin is cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from shopify_sessions.memory.async_memory_storage import AsyncMemorySessionStorage
    from shopify_sessions.memory.memory_storage import MemorySessionStorage

    from .fake_shopify import FakeShopify

__all__ = [
    "async_memory_storage",
    "fake_shopify",
    "fake_shopify_async_client",
    "fake_shopify_client",
    "fake_shopify_options",
    "memory_storage",
]


@pytest.fixture
def fake_shopify_options() -> dict[str, Any]:
    """Keyword arguments of ``FakeShopify`` (``client_id``, ``client_secret``, ``latency``, ...);
    override this fixture in your conftest.py to match your app's configuration."""
    return {}


@pytest.fixture
def fake_shopify(fake_shopify_options: dict[str, Any]) -> Iterator[FakeShopify]:
    """A started fake Shopify, with fresh state for each test."""
    from .fake_shopify import FakeShopify

    with FakeShopify(**fake_shopify_options) as fake:
        yield fake


@pytest.fixture
def fake_shopify_client(fake_shopify: FakeShopify) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` routed to ``fake_shopify``, closed after the test."""
    with fake_shopify.client() as client:
        yield client


@pytest.fixture
def memory_storage() -> Iterator[MemorySessionStorage]:
    """An empty in-process storage with the DynamoDB storage's contract, closed after the test."""
    from shopify_sessions.memory.memory_storage import MemorySessionStorage

    storage = MemorySessionStorage()
    yield storage
    storage.close()


@pytest.fixture
def async_memory_storage(memory_storage: MemorySessionStorage) -> AsyncMemorySessionStorage:
    """``memory_storage`` for asyncio code: the same sessions, every method awaited."""
    from shopify_sessions.memory.async_memory_storage import AsyncMemorySessionStorage

    return AsyncMemorySessionStorage(memory_storage)


@pytest.fixture
def fake_shopify_async_client(fake_shopify: FakeShopify) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` routed to ``fake_shopify``. Made outside any event loop, it
    binds to the loop of its first request; its connections end with the fake."""
    import httpx

    return httpx.AsyncClient(transport=fake_shopify.async_transport())
