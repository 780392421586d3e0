"""An in-process storage with the same contract, for an app's own tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .session import Session

__all__ = ["MemorySessionStorage"]


class MemorySessionStorage:
    """Keeps copies of sessions in a dict: mutating a session after storing it changes nothing."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def store_session(self, session: Session) -> bool:
        with self._lock:
            self._sessions[session.id] = session.copy()
        return True

    def load_session(self, id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(id)
        return session.copy() if session is not None else None

    def delete_session(self, id: str) -> bool:
        with self._lock:
            self._sessions.pop(id, None)
        return True

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        with self._lock:
            for id in ids:
                self._sessions.pop(id, None)
        return True

    def delete_sessions_by_shop(self, shop: str) -> int:
        with self._lock:
            ids = [id for id, s in self._sessions.items() if s.shop == shop]
            for id in ids:
                del self._sessions[id]
        return len(ids)

    def find_sessions_by_shop(self, shop: str) -> list[Session]:
        with self._lock:
            found = [s for s in self._sessions.values() if s.shop == shop]
        return [session.copy() for session in found]

    def __len__(self) -> int:
        return len(self._sessions)
