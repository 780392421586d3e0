"""The in-process storage for asyncio apps' tests: ``MemorySessionStorage``, awaited.

Every method is a ``MemorySessionStorage`` method (or a ``MemoryLeaseStore`` one) made awaitable
by :func:`_awaited`, with its signature and docstring: those methods never block for long (they
take a threading lock briefly), so the contract, the checks and the lease steps exist once.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from shopify_sessions.domain.session import Session
from shopify_sessions.tokens.fresh_async import AsyncSingleFlight
from shopify_sessions.tokens.fresh_methods import AsyncLoadsFreshSessions

from .lease import MemoryLeaseStore
from .storage import MemorySessionStorage

__all__ = ["AsyncMemoryLeaseStore", "AsyncMemorySessionStorage"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)


class _Wrapper(Protocol[S_co]):
    @property
    def sync(self) -> S_co: ...


def _awaited(
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[_Wrapper[S], P], Coroutine[Any, Any, R]]:
    """``method`` of the wrapped object (``self.sync``), as a coroutine method."""

    @functools.wraps(method)
    async def call(self: _Wrapper[S], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self.sync, *args, **kwargs)

    return call


class AsyncMemoryLeaseStore:
    """A memory storage's lease operations, awaited (an ``AsyncLeaseStore``)."""

    def __init__(self, storage: MemorySessionStorage) -> None:
        self.sync = MemoryLeaseStore(storage)

    read = _awaited(MemoryLeaseStore.read)
    take_lease = _awaited(MemoryLeaseStore.take_lease)
    store_newest = _awaited(MemoryLeaseStore.store_newest)
    store_over = _awaited(MemoryLeaseStore.store_over)
    mark_dead = _awaited(MemoryLeaseStore.mark_dead)
    release_lease = _awaited(MemoryLeaseStore.release_lease)


class AsyncMemorySessionStorage(AsyncLoadsFreshSessions):
    """The ``AsyncSessionStorage`` contract in process, for testing an asyncio app.

    ``storage``: the ``MemorySessionStorage`` to keep the sessions in (default: a new one), so
    blocking code (an admin script, a sync test helper) and async code can share them; it is
    :attr:`sync`. Tasks of one event loop share a refresh; others meet through the lease.
    """

    def __init__(self, storage: MemorySessionStorage | None = None) -> None:
        self.sync = storage if storage is not None else MemorySessionStorage()
        self._lease_store = AsyncMemoryLeaseStore(self.sync)
        self._flights = AsyncSingleFlight()

    def _refreshing(self) -> tuple[AsyncMemoryLeaseStore, AsyncSingleFlight]:
        return self._lease_store, self._flights

    def __repr__(self) -> str:
        return f"AsyncMemorySessionStorage({len(self.sync)} sessions)"

    store_session = _awaited(MemorySessionStorage.store_session)
    store_newest = _awaited(MemorySessionStorage.store_newest)
    load_session = _awaited(MemorySessionStorage.load_session)
    delete_session = _awaited(MemorySessionStorage.delete_session)
    delete_sessions = _awaited(MemorySessionStorage.delete_sessions)
    delete_sessions_by_shop = _awaited(MemorySessionStorage.delete_sessions_by_shop)
    find_sessions_by_shop = _awaited(MemorySessionStorage.find_sessions_by_shop)
    find_session_ids_by_shop = _awaited(MemorySessionStorage.find_session_ids_by_shop)
    create_table = _awaited(MemorySessionStorage.create_table)
    verify_table = _awaited(MemorySessionStorage.verify_table)
    aclose = _awaited(MemorySessionStorage.close)
    close = aclose  # for code ported from the blocking storage: ``await storage.close()``

    def iter_sessions(self, *, strict: bool = False) -> AsyncIterator[Session]:
        """Every session, as ``async for`` goes (a snapshot taken at the call)."""
        return _each(self.sync.iter_sessions(strict=strict))

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
