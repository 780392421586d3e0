"""The refresh lease for ``MemorySessionStorage``: the same steps as in a DynamoDB item.

Threads of one process share it, so an app's tests see the fleet protocol (one refresh,
waiting, dead grants, newest pair wins) without DynamoDB.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from shopify_sessions.domain.session import Session
from shopify_sessions.domain.validation import check_session
from shopify_sessions.tokens.lease_protocol import Snapshot, fingerprint

__all__ = ["LeaseState", "MemoryLeaseStore"]


@dataclass
class LeaseState:
    holder: str | None = None
    expires_ms: int | None = None
    dead: str | None = None


class _Held(Protocol):
    """What the lease needs of ``MemorySessionStorage``: its dicts, its lock, its store."""

    @property
    def _lock(self) -> AbstractContextManager[bool]: ...
    @property
    def _sessions(self) -> dict[str, Session]: ...
    @property
    def _leases(self) -> dict[str, LeaseState]: ...

    def store_newest(self, session: Session, *, create: bool = False) -> bool: ...

    def _put(self, session: Session) -> None: ...


class MemoryLeaseStore:
    """Lease operations on a memory storage's dict, under its lock."""

    def __init__(self, storage: _Held) -> None:
        self.storage = storage

    def read(self, id: str) -> Snapshot | None:
        with self.storage._lock:
            session = self.storage._sessions.get(id)
            state = self.storage._leases.get(id, LeaseState())
            if session is None:
                return None
            return Snapshot(
                session.copy(),
                session.refresh_token,
                state.holder,
                state.expires_ms,
                state.dead,
                version=session,  # stored sessions are replaced, never changed in place
            )

    def take_lease(self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int) -> bool:
        id = snapshot.session.id
        with self.storage._lock:
            stored = self.storage._sessions.get(id)
            state = self.storage._leases.setdefault(id, LeaseState())
            token = snapshot.stored_refresh_token
            if stored is None or token is None or stored.refresh_token != token:
                return False
            if state.expires_ms is not None and state.expires_ms >= now_ms:
                return False
            if state.dead == fingerprint(token):
                return False
            state.holder, state.expires_ms = holder, expires_ms
            return True

    def store_newest(self, session: Session, holder: str | None = None) -> bool:
        """Over the item if it still holds ``holder``'s lease, else the storage's newest rule."""
        check_session(session)
        with self.storage._lock:
            state = self.storage._leases.get(session.id)
            leased = holder is not None and state is not None and state.holder == holder
            if leased and session.id in self.storage._sessions:
                self.storage._put(session)
                return True
        return self.storage.store_newest(session)

    def store_over(self, session: Session, latest: Snapshot) -> bool:
        check_session(session)
        with self.storage._lock:
            if self.storage._sessions.get(session.id) is not latest.version:
                return False
            self.storage._put(session)
            return True

    def mark_dead(self, snapshot: Snapshot) -> None:
        id = snapshot.session.id
        with self.storage._lock:
            stored = self.storage._sessions.get(id)
            token = snapshot.stored_refresh_token
            if stored is not None and token is not None and stored.refresh_token == token:
                self.storage._leases[id] = LeaseState(dead=fingerprint(token))

    def release_lease(self, snapshot: Snapshot, holder: str) -> None:
        with self.storage._lock:
            state = self.storage._leases.get(snapshot.session.id)
            if state is not None and state.holder == holder:
                state.holder = state.expires_ms = None
