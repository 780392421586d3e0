"""Async storages for tests that count or fault requests through a loopback proxy."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from shopify_sessions import AsyncDynamoDBSessionStorage, RetryPolicy
from tests.support.proxy import DynamoProxy


@contextlib.asynccontextmanager
async def counted_storage(
    table_name: str, proxy: DynamoProxy, retry: RetryPolicy
) -> AsyncIterator[AsyncDynamoDBSessionStorage]:
    """An async storage through ``proxy``, its client made before anything is counted."""
    async with AsyncDynamoDBSessionStorage(table_name, host=proxy.endpoint, retry=retry) as made:
        await made.load_session("warm-up")
        proxy.reset()
        yield made
