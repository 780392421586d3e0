"""The contract every session storage keeps: the Node ``SessionStorage`` interface, and more.

``DynamoDBSessionStorage`` and ``MemorySessionStorage`` both implement all of it, so an app's
start-up code and tests take either. DynamoDB-only extras, not part of the protocol:
``iter_items`` (raw items), ``enable_ttl`` and ``re_encrypt``. :class:`AsyncSessionStorage` is
the same contract for asyncio (``AsyncMemorySessionStorage`` keeps it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from shopify_sessions.domain.session import Session

if TYPE_CHECKING:
    from shopify_sessions.dynamodb.async_dynamodb_storage import AsyncDynamoDBSessionStorage
    from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
    from shopify_sessions.memory.async_memory_storage import AsyncMemorySessionStorage
    from shopify_sessions.memory.memory_storage import MemorySessionStorage
    from shopify_sessions.tokens.lease_protocol import AsyncTokenRefresher, TokenRefresher

__all__ = ["AsyncSessionStorage", "SessionStorage"]


@runtime_checkable
class SessionStorage(Protocol):
    """Store, load, find and delete sessions. Methods return ``True`` or raise on failure."""

    def store_session(self, session: Session, *, expected: Session | None = None) -> bool:
        """Create or fully replace the session stored under ``session.id``; with ``expected``,
        only if the stored tokens are still ``expected``'s (else ``SessionConflictError``)."""
        ...

    def store_newest(self, session: Session, *, create: bool = False) -> bool:
        """Store unless a later pair is stored (``False``: nothing written)."""
        ...

    def load_session(self, id: str) -> Session | None:
        """The session stored under ``id``, or ``None``."""
        ...

    def delete_session(self, id: str) -> bool:
        """Delete one session; deleting a missing id is not an error."""
        ...

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete several sessions; missing ids are not an error."""
        ...

    def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]:
        """Every session of ``shop``, in no particular order."""
        ...

    def find_session_ids_by_shop(self, shop: str) -> list[str]: ...

    def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop`` (the uninstall webhook); returns how many."""
        ...

    def iter_sessions(self, *, strict: bool = False) -> Iterator[Session]: ...

    def load_fresh_session(
        self,
        id: str,
        refresher: TokenRefresher,
        *,
        within: timedelta = ...,
        lease: timedelta = ...,
        rejected: Session | None = None,
    ) -> Session | None:
        """The session with a usable token, refreshed once for the fleet when needed."""
        ...

    def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        *,
        ttl: bool = False,
    ) -> None: ...

    def verify_table(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncSessionStorage(Protocol):
    """``SessionStorage`` for asyncio: each method is awaited, with the same arguments, answers
    and errors; ``iter_sessions`` is an async iterator, and ``aclose`` (or ``async with``)
    releases the storage."""

    async def store_session(self, session: Session, *, expected: Session | None = None) -> bool: ...

    async def store_newest(self, session: Session, *, create: bool = False) -> bool: ...

    async def load_session(self, id: str) -> Session | None: ...

    async def delete_session(self, id: str) -> bool: ...

    async def delete_sessions(self, ids: Iterable[str]) -> bool: ...

    async def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]: ...

    async def find_session_ids_by_shop(self, shop: str) -> list[str]: ...

    async def delete_sessions_by_shop(self, shop: str) -> int: ...

    def iter_sessions(self, *, strict: bool = False) -> AsyncIterator[Session]: ...

    async def load_fresh_session(
        self,
        id: str,
        refresher: AsyncTokenRefresher,
        *,
        within: timedelta = ...,
        lease: timedelta = ...,
        rejected: Session | None = None,
    ) -> Session | None:
        """Tasks of one event loop share one refresh; the fleet shares it through the lease."""
        ...

    async def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        *,
        ttl: bool = False,
    ) -> None: ...

    async def verify_table(self) -> None: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> AsyncSessionStorage: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


if TYPE_CHECKING:  # mypy proves every storage keeps the whole contract

    def _conforms(
        memory: MemorySessionStorage, dynamodb: DynamoDBSessionStorage
    ) -> tuple[SessionStorage, SessionStorage]:
        return memory, dynamodb

    def _conforms_async(
        memory: AsyncMemorySessionStorage, dynamodb: AsyncDynamoDBSessionStorage
    ) -> tuple[AsyncSessionStorage, AsyncSessionStorage]:
        return memory, dynamodb
