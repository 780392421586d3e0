"""``AsyncDynamoDBSessionStorage``: the DynamoDB storage for asyncio apps, over aiobotocore.

Every method awaits one plan of :class:`~.table_plans.TablePlans`, the same plans
``DynamoDBSessionStorage`` runs (one codec, one place for each retry, batch, condition and lease
decision), with :class:`~.driver_async.AsyncDriver`; concurrent single-item calls are coalesced
into batches unless ``coalesce=False``. Needs the ``async`` extra:
``pip install 'shopify-sessions[async]'``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from shopify_sessions import redact
from shopify_sessions.domain.session import Session
from shopify_sessions.tokens.load_fresh import (
    DEFAULT_LEASE,
    DEFAULT_WITHIN,
    load_fresh_session_async,
)

from .driver_async import AsyncDriver
from .ops import Plan
from .table_plans import Progress
from .table_storage import TableStorage

if TYPE_CHECKING:
    from shopify_sessions.tokens.lease_driver_async import AsyncSingleFlight
    from shopify_sessions.tokens.lease_protocol import AsyncTokenRefresher

    from .lease_plans import AsyncDynamoDBLeaseStore

__all__ = ["AsyncDynamoDBSessionStorage"]

R = TypeVar("R")

redact.install()


class AsyncDynamoDBSessionStorage(TableStorage["AsyncDynamoDBLeaseStore", "AsyncSingleFlight"]):
    """Sessions in a DynamoDB table shared with Shopify's Node adapter, for asyncio apps.

    The same arguments, contract and items as ``DynamoDBSessionStorage`` (see
    :class:`~.table_storage.TableStorage`); every method is awaited, and ``iter_sessions`` and
    ``iter_items`` are async iterators. Plain loads, stores and deletes issued by concurrent
    tasks in one event-loop turn go out as one BatchGetItem / BatchWriteItem unless
    ``coalesce=False``, each caller getting its own answer. One aiobotocore client per event
    loop, made at the first call; ``async with`` or ``await storage.close()`` closes it (the
    storage stays usable).

    Example:
        ``async with AsyncDynamoDBSessionStorage("sessions") as storage: ...``
    """

    driver: AsyncDriver

    def _start(self) -> None:
        self.driver = AsyncDriver(self.connection, self.requests, coalesce=self.coalesce)

    def _refresh_parts(self) -> tuple[AsyncDynamoDBLeaseStore, AsyncSingleFlight]:
        from shopify_sessions.tokens.lease_driver_async import AsyncSingleFlight

        from .lease_plans import AsyncDynamoDBLeaseStore

        return AsyncDynamoDBLeaseStore(self._lease_plans(), self.driver), AsyncSingleFlight()

    # --- the AsyncSessionStorage contract -------------------------------------------------------

    async def store_session(self, session: Session, *, expected: Session | None = None) -> bool:
        """Create or fully replace the session stored under ``session.id`` (one PutItem).

        The whole item is replaced, as the Node adapter does. Pass ``expected`` (the session
        as loaded before a token refresh) to write only if the stored item still holds
        ``expected``'s access and refresh tokens, so a refresh never overwrites a newer pair.

        Args:
            session: The session to store.
            expected: The session as it was loaded, for a conditional write; ``None`` writes
                unconditionally.

        Returns:
            ``True`` (failures raise).

        Raises:
            InvalidSessionError: ``session`` is not storable (bad id, shop, or over 400 KB).
            SessionConflictError: ``expected`` no longer matches what is stored; nothing was
                written.
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return await self.driver.run(self.plans.store_session(session, expected=expected))

    async def store_newest(self, session: Session, *, create: bool = False) -> bool:
        """Store ``session`` unless a later token pair is stored; never recreate a deleted one.

        For writers racing to store refreshed tokens (and imports): "later" compares
        ``expires``, an absent ``expires`` counting as older than any. One conditional PutItem.

        Args:
            session: The session to store.
            create: Also write when nothing is stored under ``session.id`` (imports).

        Returns:
            ``True`` if written; ``False`` if a later pair is stored (or, without ``create``,
            nothing is), in which case nothing was written.

        Raises:
            InvalidSessionError: ``session`` is not storable.
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return await self.driver.run(self.plans.store_newest(session, create=create))

    async def load_session(self, id: str) -> Session | None:
        """The session stored under ``id``, tokens decrypted (one strongly consistent GetItem).

        Args:
            id: The session id; an empty id is never stored, so it returns ``None`` with no
                request.

        Returns:
            The session, or ``None`` when nothing is stored under ``id``.

        Raises:
            CorruptSessionError: The stored item cannot be read as a session.
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return await self.driver.run(self.plans.load_session(id))

    async def delete_session(self, id: str) -> bool:
        """Delete the session stored under ``id`` (one DeleteItem).

        Args:
            id: The session id; deleting an id that is not stored is not an error.

        Returns:
            ``True`` (failures raise).

        Raises:
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return await self.driver.run(self.plans.delete_session(id))

    async def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete every session in ``ids`` (BatchWriteItem, 25 per request, duplicates dropped).

        Args:
            ids: The session ids; ids that are not stored are not an error.

        Returns:
            ``True`` (failures raise).

        Raises:
            StorageUnavailableError: DynamoDB stopped making progress; names the ids not
                deleted.
        """
        return await self.driver.run(self.plans.delete_sessions(ids))

    async def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop``: what the ``app/uninstalled`` webhook calls.

        Args:
            shop: The shop's ``*.myshopify.com`` domain.

        Returns:
            How many sessions were deleted.

        Raises:
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return await self.driver.run(self.plans.delete_sessions_by_shop(shop))

    async def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]:
        """Every session of ``shop``: the shop index's pages, then BatchGetItem (100 a request).

        A session deleted between the query and the read is not returned.

        Args:
            shop: The shop's ``*.myshopify.com`` domain.
            strict: Raise on a corrupt item instead of skipping it with a warning.

        Returns:
            The sessions, in no particular order.

        Raises:
            CorruptSessionError: With ``strict``, an item cannot be read as a session.
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return await self.driver.run(self.plans.find_sessions_by_shop(shop, strict=strict))

    async def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids of every session of ``shop``, from the shop index (no item is read).

        Args:
            shop: The shop's ``*.myshopify.com`` domain.

        Returns:
            The session ids, in no particular order.

        Raises:
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return await self.driver.run(self.plans.find_session_ids_by_shop(shop))

    async def load_fresh_session(
        self,
        id: str,
        refresher: AsyncTokenRefresher,
        *,
        within: timedelta = DEFAULT_WITHIN,
        lease: timedelta = DEFAULT_LEASE,
        rejected: Session | None = None,
    ) -> Session | None:
        """The session under ``id`` with a usable token, refreshed once for the fleet if needed.

        The protocol, arguments and errors are those of
        ``DynamoDBSessionStorage.load_fresh_session``; tasks of this event loop share one
        refresh.

        Args:
            id: The session id.
            refresher: Calls Shopify's token endpoint (``AsyncShopifyTokenRefresher``).
            within: Refresh a token that expires this soon.
            lease: How long a refresh may hold the lease.
            rejected: A session whose token the Admin API answered 401 to.

        Returns:
            The session with a usable token, or ``None`` when nothing is stored.

        Raises:
            ReauthorizationRequiredError: The merchant must open the app again.
            TokenRefreshError: The refresh failed for now; the stored pair is unchanged.
        """
        return await load_fresh_session_async(
            self._refreshing, id, refresher, within=within, lease=lease, rejected=rejected
        )

    # --- the table and whole-table work ---------------------------------------------------------

    async def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        *,
        ttl: bool = False,
    ) -> None:
        """Create the table and its shop index as the Node adapter expects, if missing.

        Args:
            wait: Return only once the table is active.
            read_capacity_units: Provisioned reads; ``None`` (with ``write_capacity_units``
                ``None``) makes an on-demand table.
            write_capacity_units: Provisioned writes; give both or neither.
            ttl: Also turn on DynamoDB's TTL on the ``ttl`` attribute.

        Raises:
            ValueError: Only one of the capacities is given.
            AccessDeniedError: The credentials may not create tables.
        """
        await self.driver.run(
            self.plans.create_table(wait, read_capacity_units, write_capacity_units, ttl=ttl)
        )

    async def verify_table(self) -> None:
        """Check the table against the Node adapter's schema (one DescribeTable).

        Raises:
            TableNotFoundError: The table does not exist.
            AccessDeniedError: The credentials may not describe it.
            SchemaMismatchError: Names every difference (hash key, index, projection).
        """
        await self.driver.run(self.plans.verify_table())

    async def enable_ttl(self, progress: Progress = None) -> int:
        """Turn on DynamoDB's TTL and give every stored item the ``ttl`` it should carry.

        For tables written before ``ttl_grace`` was set, or by the Node adapter. One Scan;
        an item whose ``ttl`` is missing or stale gets one conditional UpdateItem.

        Args:
            progress: Called with ``1`` after each item scanned.

        Returns:
            How many items were updated.

        Raises:
            ValueError: This storage writes no ``ttl`` (``ttl_grace=None``).
        """
        return await self.driver.run(self.plans.enable_ttl(progress))

    async def re_encrypt(self, progress: Progress = None) -> int:
        """Rewrite every item whose tokens are plaintext, v1, or under a retired key.

        Run after adding a key to the ``token_cipher``. Only the token attributes change, in
        one UpdateItem conditioned on their stored values, so a token refreshed meanwhile is
        never overwritten; unreadable items are skipped with a warning.

        Args:
            progress: Called with ``1`` after each item scanned.

        Returns:
            How many items were rewritten.

        Raises:
            ValueError: This storage has no ``token_cipher``.
        """
        return await self.driver.run(self.plans.re_encrypt(progress))

    def iter_items(self, page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every raw item of the table, as DynamoDB returns it (Scan): for backups and tools.

        Args:
            page_size: Items per Scan page; ``None``: DynamoDB's 1 MB pages.

        Returns:
            An async iterator that reads the pages as it goes.
        """
        return self.driver.stream(self.plans.iter_items(page_size))

    def scan_pages(
        self, segment: int, total_segments: int, page_size: int | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The raw items of one segment of a parallel Scan, a page (a list) at a time.

        The ``total_segments`` segments of one scan hold every item exactly once, so separate
        hosts, Lambda invocations or job indexes can each read one; a page at a time keeps a
        reader's memory bounded by ``page_size``, not by the table.

        Args:
            segment: Which segment, from 0 to ``total_segments - 1``.
            total_segments: How many segments the table is read in.
            page_size: Items per Scan page; ``None``: DynamoDB's 1 MB pages.

        Returns:
            An async iterator over the pages, read as it goes.

        Raises:
            ValueError: ``segment`` is not in ``range(total_segments)``.
        """
        return self.driver.stream(self.plans.scan_pages(segment, total_segments, page_size))

    def iter_sessions(self, *, strict: bool = False) -> AsyncIterator[Session]:
        """Every session of the table, tokens decrypted (Scan, page by page).

        Args:
            strict: Raise on a corrupt item instead of skipping it with a warning.

        Returns:
            An async iterator that reads the pages as it goes.
        """
        return self.driver.stream(self.plans.iter_sessions(strict=strict))

    # --- plumbing -------------------------------------------------------------------------------

    async def run(self, plan: Plan[R]) -> R:
        """Carry a plan of :attr:`plans` out (for admin tools composing their own)."""
        return await self.driver.run(plan)

    async def close(self) -> None:
        """Close this event loop's client (idempotent); the next call makes a new one."""
        await self.driver.close()

    async def aclose(self) -> None:
        """The same as :meth:`close` (the name ``contextlib.aclosing`` expects)."""
        await self.driver.close()

    async def __aenter__(self) -> AsyncDynamoDBSessionStorage:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
