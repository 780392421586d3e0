"""``DynamoDBSessionStorage``: the Node adapter's storage, in Python, on the same table.

Every method runs one plan of :class:`~.table_plans.TablePlans` (the decisions: codec, conditions,
batches, retries) with the blocking :class:`~.driver.Driver` and PynamoDB's botocore client.
``AsyncDynamoDBSessionStorage`` awaits the very same plans.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from shopify_sessions import redact
from shopify_sessions.domain.session import Session
from shopify_sessions.tokens.load_fresh import (
    DEFAULT_LEASE,
    DEFAULT_WITHIN,
    load_fresh_session,
)

from .clients import shared_client
from .driver import Driver
from .ops import Plan
from .table_plans import Progress
from .table_storage import TableStorage

if TYPE_CHECKING:
    from shopify_sessions.tokens.lease_driver import SingleFlight
    from shopify_sessions.tokens.lease_protocol import TokenRefresher

    from .lease_plans import DynamoDBLeaseStore

__all__ = ["DynamoDBSessionStorage"]

R = TypeVar("R")

logger = logging.getLogger("shopify_sessions")
redact.install()


class DynamoDBSessionStorage(TableStorage["DynamoDBLeaseStore", "SingleFlight"]):
    """Sessions in a DynamoDB table shared, item for item, with Shopify's Node adapter.

    The blocking storage: each call sends its requests in the calling thread (a large batch
    fans out over a few worker threads) and returns the answer. Use it in Flask, Django,
    scripts and jobs; asyncio apps use ``AsyncDynamoDBSessionStorage``, which takes the same
    arguments and keeps the same contract. See :class:`~.table_storage.TableStorage` for the
    arguments (table and index names, endpoint, credentials, retries, encryption, TTL).

    Example:
        ``storage = DynamoDBSessionStorage("sessions", region="us-east-1")``
    """

    driver: Driver

    def _start(self) -> None:
        self.driver = Driver(self._client, self.retry.sleep)

    def _refresh_parts(self) -> tuple[DynamoDBLeaseStore, SingleFlight]:
        from shopify_sessions.tokens.lease_driver import SingleFlight

        from .lease_plans import DynamoDBLeaseStore

        return DynamoDBLeaseStore(self._lease_plans(), self.driver), SingleFlight()

    def _client(self) -> Any:
        """The botocore client for these settings (one per process, shared with the models)."""
        return shared_client(self.connection)

    # --- the SessionStorage contract ------------------------------------------------------------

    def store_session(self, session: Session, *, expected: Session | None = None) -> bool:
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
        return self.driver.run(self.plans.store_session(session, expected=expected))

    def store_newest(self, session: Session, *, create: bool = False) -> bool:
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
        return self.driver.run(self.plans.store_newest(session, create=create))

    def load_session(self, id: str) -> Session | None:
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
        return self.driver.run(self.plans.load_session(id))

    def delete_session(self, id: str) -> bool:
        """Delete the session stored under ``id`` (one DeleteItem).

        Args:
            id: The session id; deleting an id that is not stored is not an error.

        Returns:
            ``True`` (failures raise).

        Raises:
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return self.driver.run(self.plans.delete_session(id))

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete every session in ``ids`` (BatchWriteItem, 25 per request, duplicates dropped).

        Args:
            ids: The session ids; ids that are not stored are not an error.

        Returns:
            ``True`` (failures raise).

        Raises:
            StorageUnavailableError: DynamoDB stopped making progress; names the ids not
                deleted.
        """
        return self.driver.run(self.plans.delete_sessions(ids))

    def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop``: what the ``app/uninstalled`` webhook calls.

        Args:
            shop: The shop's ``*.myshopify.com`` domain.

        Returns:
            How many sessions were deleted.

        Raises:
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return self.driver.run(self.plans.delete_sessions_by_shop(shop))

    def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]:
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
        return self.driver.run(self.plans.find_sessions_by_shop(shop, strict=strict))

    def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids of every session of ``shop``, from the shop index (no item is read).

        Args:
            shop: The shop's ``*.myshopify.com`` domain.

        Returns:
            The session ids, in no particular order.

        Raises:
            StorageUnavailableError: DynamoDB did not answer after the retries.
        """
        return self.driver.run(self.plans.find_session_ids_by_shop(shop))

    def load_fresh_session(
        self,
        id: str,
        refresher: TokenRefresher,
        *,
        within: timedelta = DEFAULT_WITHIN,
        lease: timedelta = DEFAULT_LEASE,
        rejected: Session | None = None,
    ) -> Session | None:
        """The session under ``id`` with a usable token: what a job calls before an Admin call.

        A session not expiring within ``within`` (or never expiring) is returned as stored
        (one GetItem). Otherwise, or when ``rejected`` still holds the stored token, the token
        is refreshed once for the whole fleet: callers in this process share one refresh,
        other processes and hosts wait on a lease in the item, and the new pair is stored
        only if no newer one is.

        Args:
            id: The session id.
            refresher: Calls Shopify's token endpoint (``ShopifyTokenRefresher``).
            within: Refresh a token that expires this soon.
            lease: How long a refresh may hold the lease; must exceed the refresher's
                ``timeout`` with room for the write.
            rejected: A session whose token the Admin API answered 401 to.

        Returns:
            The session with a usable token, or ``None`` when nothing is stored.

        Raises:
            ReauthorizationRequiredError: The merchant must open the app again.
            TokenRefreshError: The refresh failed for now; the stored pair is unchanged.
            ValueError: ``lease`` is too short for the refresher's ``timeout``.
        """
        return load_fresh_session(
            self._refreshing, id, refresher, within=within, lease=lease, rejected=rejected
        )

    # --- the table and whole-table work ---------------------------------------------------------

    def create_table(
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
        self.driver.run(
            self.plans.create_table(wait, read_capacity_units, write_capacity_units, ttl=ttl)
        )

    def verify_table(self) -> None:
        """Check the table against the Node adapter's schema (one DescribeTable).

        Raises:
            TableNotFoundError: The table does not exist.
            AccessDeniedError: The credentials may not describe it.
            SchemaMismatchError: Names every difference (hash key, index, projection).
        """
        self.driver.run(self.plans.verify_table())

    def enable_ttl(self, progress: Progress = None) -> int:
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
        return self.driver.run(self.plans.enable_ttl(progress))

    def re_encrypt(self, progress: Progress = None) -> int:
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
        return self.driver.run(self.plans.re_encrypt(progress))

    def iter_items(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every raw item of the table, as DynamoDB returns it (Scan): for backups and tools.

        Args:
            page_size: Items per Scan page; ``None``: DynamoDB's 1 MB pages.

        Returns:
            An iterator that reads the pages as it goes.
        """
        return self.driver.stream(self.plans.iter_items(page_size))

    def scan_pages(
        self, segment: int, total_segments: int, page_size: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """The raw items of one segment of a parallel Scan, a page (a list) at a time.

        The ``total_segments`` segments of one scan hold every item exactly once, so separate
        hosts, Lambda invocations or job indexes can each read one; a page at a time keeps a
        reader's memory bounded by ``page_size``, not by the table.

        Args:
            segment: Which segment, from 0 to ``total_segments - 1``.
            total_segments: How many segments the table is read in.
            page_size: Items per Scan page; ``None``: DynamoDB's 1 MB pages.

        Returns:
            An iterator over the pages, read as it goes.

        Raises:
            ValueError: ``segment`` is not in ``range(total_segments)``.
        """
        return self.driver.stream(self.plans.scan_pages(segment, total_segments, page_size))

    def iter_sessions(self, *, strict: bool = False) -> Iterator[Session]:
        """Every session of the table, tokens decrypted (Scan, page by page).

        Args:
            strict: Raise on a corrupt item instead of skipping it with a warning.

        Returns:
            An iterator that reads the pages as it goes.
        """
        return self.driver.stream(self.plans.iter_sessions(strict=strict))

    # --- plumbing -------------------------------------------------------------------------------

    def run(self, plan: Plan[R]) -> R:
        """Carry a plan of :attr:`plans` out (for admin tools composing their own)."""
        return self.driver.run(plan)

    def close(self) -> None:
        """Stop the worker threads (idempotent); the storage stays usable and restarts them."""
        self.driver.close()
