"""The contract every session storage keeps (the Node ``SessionStorage`` interface)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from .session import Session

__all__ = ["SessionStorage"]


@runtime_checkable
class SessionStorage(Protocol):
    """Store, load, find and delete sessions. Methods return ``True`` or raise on failure."""

    def store_session(self, session: Session) -> bool:
        """Create or fully replace the session stored under ``session.id``."""
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

    def find_sessions_by_shop(self, shop: str) -> list[Session]:
        """Every session of ``shop``, in no particular order."""
        ...
