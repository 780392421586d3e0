"""pytest fixtures for a fake Shopify token endpoint (see ``FakeShopify``).

Enable them in your ``conftest.py``::

    pytest_plugins = ["shopify_sessions.testing.pytest_plugin"]

then ask for ``fake_shopify`` (a started ``FakeShopify``, stopped after the test) or
``fake_shopify_client`` (an ``httpx.Client`` whose requests to any ``https://{shop}/...`` reach
it). The fake is imported only when a test uses a fixture, so enabling the plugin is cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

    from .fake_shopify import FakeShopify

__all__ = ["fake_shopify", "fake_shopify_client"]


@pytest.fixture
def fake_shopify() -> Iterator[FakeShopify]:
    """A started fake Shopify, with fresh state for each test."""
    from .fake_shopify import FakeShopify

    with FakeShopify() as fake:
        yield fake


@pytest.fixture
def fake_shopify_client(fake_shopify: FakeShopify) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` routed to ``fake_shopify``, closed after the test."""
    with fake_shopify.client() as client:
        yield client
