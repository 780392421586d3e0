"""The contract every session storage keeps: the Node ``SessionStorage`` interface, and more.

``DynamoDBSessionStorage`` and ``MemorySessionStorage`` both implement all of it, so an app's
start-up code and tests take either. DynamoDB-only extras, not part of the protocol:
``iter_items`` (raw items), ``enable_ttl`` and ``re_encrypt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .session import Session
from .tokens.lease import TokenRefresher

if TYPE_CHECKING:
    from .dynamodb import DynamoDBSessionStorage
    from .memory import MemorySessionStorage

__all__ = ["SessionStorage"]


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


if TYPE_CHECKING:  # mypy proves both storages keep the whole contract

    def _conforms(
        memory: MemorySessionStorage, dynamodb: DynamoDBSessionStorage
    ) -> tuple[SessionStorage, SessionStorage]:
        return memory, dynamodb
