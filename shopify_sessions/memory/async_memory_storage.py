"""The in-process storage for asyncio apps' tests: ``MemorySessionStorage``, awaited.

Every method awaits the ``MemorySessionStorage`` method (or ``MemoryLeaseStore`` one) of the
same name: those never block for long (they take a threading lock briefly), so the contract,
the checks and the lease steps exist once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta

from shopify_sessions.domain.session import Session
from shopify_sessions.tokens.lease_driver_async import AsyncSingleFlight
from shopify_sessions.tokens.lease_protocol import AsyncTokenRefresher, Snapshot
from shopify_sessions.tokens.load_fresh import (
    DEFAULT_LEASE,
    DEFAULT_WITHIN,
    load_fresh_session_async,
)

from .memory_lease import MemoryLeaseStore
from .memory_storage import MemorySessionStorage

__all__ = ["AsyncMemoryLeaseStore", "AsyncMemorySessionStorage"]


class AsyncMemoryLeaseStore:
    """A memory storage's lease operations, awaited (an ``AsyncLeaseStore``)."""

    def __init__(self, storage: MemorySessionStorage) -> None:
        self.sync = MemoryLeaseStore(storage)

    async def read(self, id: str) -> Snapshot | None:
        """The session and its lease state."""
        return self.sync.read(id)

    async def take_lease(
        self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int
    ) -> bool:
        """Set the lease if the refresh token is still the snapshot's and no lease is live."""
        return self.sync.take_lease(snapshot, holder, expires_ms, now_ms)

    async def store_newest(self, session: Session, holder: str | None = None) -> bool:
        """Store the pair (dropping the lease) unless the item is gone or holds a later one;
        with ``holder``, only while that holder's lease is still on the item."""
        return self.sync.store_newest(session, holder)

    async def store_over(self, session: Session, latest: Snapshot) -> bool:
        """Store ``session`` over exactly the pair ``latest`` read."""
        return self.sync.store_over(session, latest)

    async def mark_dead(self, snapshot: Snapshot) -> None:
        """Record that Shopify refused the snapshot's refresh token, dropping the lease."""
        self.sync.mark_dead(snapshot)

    async def release_lease(self, snapshot: Snapshot, holder: str) -> None:
        """Drop the lease if ``holder`` still holds it."""
        self.sync.release_lease(snapshot, holder)


class AsyncMemorySessionStorage:
    """The ``AsyncSessionStorage`` contract in process, for testing an asyncio app.

    Same contract as ``AsyncDynamoDBSessionStorage``, conditional stores, input checks and the
    refresh lease included, so an app's token logic is tested without DynamoDB. Tasks of one
    event loop share a refresh; other loops and threads meet through the lease.

    Args:
        storage: The ``MemorySessionStorage`` to keep the sessions in (default: a new one), so
            blocking code (an admin script, a sync test helper) and async code can share
            them; it is :attr:`sync`.
    """

    def __init__(self, storage: MemorySessionStorage | None = None) -> None:
        self.sync = storage if storage is not None else MemorySessionStorage()
        self._lease_store = AsyncMemoryLeaseStore(self.sync)
        self._flights = AsyncSingleFlight()

    def _refreshing(self) -> tuple[AsyncMemoryLeaseStore, AsyncSingleFlight]:
        return self._lease_store, self._flights

    def __repr__(self) -> str:
        return f"AsyncMemorySessionStorage({len(self.sync)} sessions)"

    async def store_session(self, session: Session, *, expected: Session | None = None) -> bool:
        """Create or fully replace the session under ``session.id``; see
        ``MemorySessionStorage.store_session``.

        Raises:
            SessionConflictError: ``expected``'s tokens are no longer the stored ones.
        """
        return self.sync.store_session(session, expected=expected)

    async def store_newest(self, session: Session, *, create: bool = False) -> bool:
        """Store unless a later pair is stored (``False``: nothing written); see
        ``MemorySessionStorage.store_newest``."""
        return self.sync.store_newest(session, create=create)

    async def load_session(self, id: str) -> Session | None:
        """A copy of the session stored under ``id``, or ``None``."""
        return self.sync.load_session(id)

    async def delete_session(self, id: str) -> bool:
        """Delete one session; a missing id is not an error. Returns ``True``."""
        return self.sync.delete_session(id)

    async def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete several sessions; missing ids are not an error. Returns ``True``."""
        return self.sync.delete_sessions(ids)

    async def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop``; returns how many."""
        return self.sync.delete_sessions_by_shop(shop)

    async def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]:
        """Copies of every session of ``shop``; ``strict`` is accepted for parity."""
        return self.sync.find_sessions_by_shop(shop, strict=strict)

    async def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids of every session of ``shop``."""
        return self.sync.find_session_ids_by_shop(shop)

    async def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        *,
        ttl: bool = False,
    ) -> None:
        """Nothing to create: accepted so app start-up code takes either storage."""
        self.sync.create_table(wait, read_capacity_units, write_capacity_units, ttl=ttl)

    async def verify_table(self) -> None:
        """Nothing to check: a memory storage always matches."""
        self.sync.verify_table()

    async def load_fresh_session(
        self,
        id: str,
        refresher: AsyncTokenRefresher,
        *,
        within: timedelta = DEFAULT_WITHIN,
        lease: timedelta = DEFAULT_LEASE,
        rejected: Session | None = None,
    ) -> Session | None:
        """The session under ``id`` with a usable token, refreshed once if needed.

        The same protocol, arguments and errors as ``DynamoDBSessionStorage.load_fresh_session``,
        the lease kept in this process: an app's token logic is tested without DynamoDB.
        """
        return await load_fresh_session_async(
            self._refreshing, id, refresher, within=within, lease=lease, rejected=rejected
        )

    def iter_sessions(self, *, strict: bool = False) -> AsyncIterator[Session]:
        """Every session, as ``async for`` goes (a snapshot taken at the call)."""
        return _each(self.sync.iter_sessions(strict=strict))

    async def close(self) -> None:
        """Nothing to release (for code ported from the blocking storage)."""
        self.sync.close()

    async def aclose(self) -> None:
        """Nothing to release (the name ``contextlib.aclosing`` expects)."""
        self.sync.close()

    async def __aenter__(self) -> AsyncMemorySessionStorage:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __len__(self) -> int:
        return len(self.sync)

    def __bool__(self) -> bool:
        """Always true, empty or not: ``storage or make_storage()`` must keep it."""
        return True


async def _each(sessions: Iterator[Session]) -> AsyncIterator[Session]:
    for session in sessions:
        yield session
