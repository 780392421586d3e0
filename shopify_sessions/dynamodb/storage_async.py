"""``AsyncDynamoDBSessionStorage``: the DynamoDB storage for asyncio apps, over aiobotocore.

The same plans as ``DynamoDBSessionStorage`` (one codec, one place for each retry, batch,
condition and lease decision), awaited by :class:`~.driver_async.AsyncDriver`; concurrent
single-item calls are coalesced into batches unless ``coalesce=False``. Needs the ``async``
extra: ``pip install 'shopify-sessions[async]'``.
"""

from __future__ import annotations

from typing import Any

from shopify_sessions import redact
from shopify_sessions.tokens.fresh_methods import AsyncLoadsFreshSessions

from .admin import TablePlans
from .driver_async import AsyncDriver, awaited, streamed_async
from .ops import Plan
from .options import TableStorage

__all__ = ["AsyncDynamoDBSessionStorage"]

redact.install()


class AsyncDynamoDBSessionStorage(TableStorage, AsyncLoadsFreshSessions):
    __doc__ = (
        (TableStorage.__doc__ or "")
        + """
    Every method is awaited; ``iter_sessions`` and ``iter_items`` are async iterators. One
    aiobotocore client per event loop, made at the first call; ``async with`` or ``await
    storage.close()`` closes it (the storage stays usable).
    """
    )

    def _start(self) -> None:
        self.driver = AsyncDriver(self.connection, self.requests, coalesce=self.coalesce)

    def _new_flights(self) -> Any:
        from shopify_sessions.tokens.fresh_async import AsyncSingleFlight

        return AsyncSingleFlight()

    async def run(self, plan: Plan[object]) -> object:
        """Carry a plan of :attr:`plans` out (for admin tools composing their own)."""
        return await self.driver.run(plan)

    async def close(self) -> None:
        """Close this event loop's client (idempotent); the next call makes a new one."""
        await self.driver.close()

    aclose = close

    async def __aenter__(self) -> AsyncDynamoDBSessionStorage:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # the AsyncSessionStorage contract
    store_session = awaited(TablePlans.store_session)
    store_newest = awaited(TablePlans.store_newest)
    load_session = awaited(TablePlans.load_session)
    delete_session = awaited(TablePlans.delete_session)
    delete_sessions = awaited(TablePlans.delete_sessions)
    delete_sessions_by_shop = awaited(TablePlans.delete_sessions_by_shop)
    find_sessions_by_shop = awaited(TablePlans.find_sessions_by_shop)
    find_session_ids_by_shop = awaited(TablePlans.find_session_ids_by_shop)
    # the table and whole-table work
    create_table = awaited(TablePlans.create_table)
    verify_table = awaited(TablePlans.verify_table)
    enable_ttl = awaited(TablePlans.enable_ttl)
    re_encrypt = awaited(TablePlans.re_encrypt)
    iter_items = streamed_async(TablePlans.iter_items)
    scan_pages = streamed_async(TablePlans.scan_pages)
    iter_sessions = streamed_async(TablePlans.iter_sessions)
