"""An in-process storage with the same contract, for an app's own tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from shopify_sessions.domain.newest import replaces
from shopify_sessions.domain.session import Session
from shopify_sessions.domain.validation import (
    check_expected,
    check_id,
    check_session,
    check_shop,
    unique_ids,
)
from shopify_sessions.errors import SessionConflictError
from shopify_sessions.tokens.lease_driver import SingleFlight
from shopify_sessions.tokens.load_fresh import (
    DEFAULT_LEASE,
    DEFAULT_WITHIN,
    load_fresh_session,
)

from .memory_lease import LeaseState, MemoryLeaseStore

if TYPE_CHECKING:
    from shopify_sessions.tokens.lease_protocol import TokenRefresher

__all__ = ["MemorySessionStorage"]


class MemorySessionStorage:
    """Sessions in a dict, for an app's tests: the ``SessionStorage`` contract without DynamoDB.

    Same contract as ``DynamoDBSessionStorage``, conditional stores, input checks and the
    refresh lease included, so an app's token-refresh logic can be tested without DynamoDB.
    It keeps copies: mutating a session after storing it changes nothing. Thread-safe.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._leases: dict[str, LeaseState] = {}  # a store or delete drops an id's lease
        self._lock = threading.Lock()
        self._lease_store = MemoryLeaseStore(self)
        self._flights = SingleFlight()

    def _refreshing(self) -> tuple[MemoryLeaseStore, SingleFlight]:
        return self._lease_store, self._flights

    def store_session(self, session: Session, *, expected: Session | None = None) -> bool:
        """Store a copy of ``session``, replacing what is stored under its id.

        Args:
            session: The session to store.
            expected: The session as loaded before a token refresh: store only if the stored
                tokens are still its tokens.

        Returns:
            ``True`` (failures raise).

        Raises:
            InvalidSessionError: ``session`` is not storable.
            SessionConflictError: ``expected``'s tokens are no longer the stored ones.
        """
        check_session(session)
        check_expected(session, expected)
        with self._lock:
            if expected is not None:
                stored = self._sessions.get(session.id)
                tokens = (stored.access_token, stored.refresh_token) if stored else (None, None)
                if tokens != (expected.access_token, expected.refresh_token):
                    raise SessionConflictError(session.id)
            self._put(session)
        return True

    def store_newest(self, session: Session, *, create: bool = False) -> bool:
        """Store ``session`` unless a later pair is stored; never recreate a deleted one.

        Same rules as ``DynamoDBSessionStorage.store_newest``: "later" compares ``expires``.

        Returns:
            ``True`` if written, ``False`` if not (nothing changed).
        """
        check_session(session)
        with self._lock:
            stored = self._sessions.get(session.id)
            if stored is None and not create:
                return False
            if stored is not None and not replaces(session.expires, stored.expires):
                return False
            self._put(session)
        return True

    def _put(self, session: Session) -> None:
        """A full replace (under the lock): the old item's lease goes with it."""
        self._sessions[session.id] = session.copy()
        self._leases.pop(session.id, None)

    def load_session(self, id: str) -> Session | None:
        """A copy of the session stored under ``id``, or ``None``."""
        check_id(id, allow_empty=True)
        with self._lock:
            session = self._sessions.get(id)
        return session.copy() if session is not None else None

    def delete_session(self, id: str) -> bool:
        """Delete one session; a missing id is not an error. Returns ``True``."""
        check_id(id)
        with self._lock:
            self._sessions.pop(id, None)
            self._leases.pop(id, None)
        return True

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete several sessions; missing ids are not an error. Returns ``True``."""
        unique = unique_ids(ids)
        with self._lock:
            for id in unique:
                self._sessions.pop(id, None)
                self._leases.pop(id, None)
        return True

    def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop``; returns how many."""
        check_shop(shop)
        with self._lock:
            ids = [id for id, s in self._sessions.items() if s.shop == shop]
            for id in ids:
                del self._sessions[id]
                self._leases.pop(id, None)
        return len(ids)

    def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]:
        """Every session of ``shop``; ``strict`` is accepted for parity (nothing is corrupt)."""
        check_shop(shop)
        with self._lock:
            found = [s for s in self._sessions.values() if s.shop == shop]
        return [session.copy() for session in found]

    def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids of every session of ``shop``."""
        check_shop(shop)
        with self._lock:
            return [id for id, session in self._sessions.items() if session.shop == shop]

    def iter_sessions(self, *, strict: bool = False) -> Iterator[Session]:
        """Every session (a snapshot taken at the call); ``strict`` is accepted for parity."""
        with self._lock:
            sessions = list(self._sessions.values())
        return (session.copy() for session in sessions)

    def load_fresh_session(
        self,
        id: str,
        refresher: TokenRefresher,
        *,
        within: timedelta = DEFAULT_WITHIN,
        lease: timedelta = DEFAULT_LEASE,
        rejected: Session | None = None,
    ) -> Session | None:
        """The session under ``id`` with a usable token, refreshed once if needed.

        The same protocol, arguments and errors as ``DynamoDBSessionStorage.load_fresh_session``,
        the lease kept in this process: an app's token logic is tested without DynamoDB.
        """
        return load_fresh_session(
            self._refreshing, id, refresher, within=within, lease=lease, rejected=rejected
        )

    # --- the table: nothing to create or check, so start-up code runs unchanged ---------------

    def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        *,
        ttl: bool = False,
    ) -> None:
        """Nothing to create: accepted so app start-up code takes either storage."""

    def verify_table(self) -> None:
        """Nothing to check: a memory storage always matches."""

    def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        """How many sessions are stored."""
        return len(self._sessions)

    def __bool__(self) -> bool:
        """Always true, empty or not: ``storage or DynamoDBSessionStorage()`` must keep it."""
        return True
