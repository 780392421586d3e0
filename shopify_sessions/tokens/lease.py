"""One refresh per expiry for a whole fleet, as decisions without I/O.

:func:`fresh_session` is a generator in the sans-IO style: it yields operations (read the item,
take the lease, refresh, store the newest pair, ...) and is sent their results; a driver
(``fresh.py``) carries them out against a storage. The protocol, in the session's own item:

- a caller that finds the token within ``within`` of expiry (or rejected by a 401) takes a
  lease: ``refreshLeaseHolder`` and ``refreshLeaseExpires`` (epoch ms), set by one conditional
  write that succeeds only while the stored refresh token is the one it read and no live lease
  exists. Only the holder calls Shopify;
- the others poll the item with short backoff until a new pair is stored or the lease lapses
  (a holder that died loses it after ``lease``), then one of them may take it;
- the holder stores the new pair in one conditional write (the item still exists and its
  ``expires`` is not later than the new one), which also drops the lease: the newest pair
  always wins, whoever stored it;
- after ``invalid_grant`` the holder records a fingerprint of the dead refresh token in
  ``refreshTokenDead``, so every caller raises ``ReauthorizationRequiredError`` without a call
  until a new pair is stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from shopify_sessions.domain.session import Session
from shopify_sessions.errors import SessionStorageError

from .errors import ReauthorizationRequiredError, TokenRefreshError
from .grants import refresh_blocker
from .steps import Sleep

__all__ = [
    "DEAD_REFRESH_TOKEN",
    "LEASE_ATTRIBUTES",
    "LEASE_EXPIRES",
    "LEASE_HOLDER",
    "WRITE_MARGIN",
    "AsyncTokenRefresher",
    "MarkDead",
    "Operation",
    "Read",
    "Refresh",
    "ReleaseLease",
    "Snapshot",
    "StoreNewest",
    "TakeLease",
    "TokenRefresher",
    "check_lease",
    "fingerprint",
    "fresh_session",
    "needs_refresh",
]

logger = logging.getLogger("shopify_sessions")

LEASE_HOLDER = "refreshLeaseHolder"
LEASE_EXPIRES = "refreshLeaseExpires"
DEAD_REFRESH_TOKEN = "refreshTokenDead"
LEASE_ATTRIBUTES = (LEASE_HOLDER, LEASE_EXPIRES, DEAD_REFRESH_TOKEN)
WRITE_MARGIN = timedelta(seconds=2)  # what a lease must leave, past the refresh, for the write
FIRST_PAUSE = 0.02  # seconds between a waiter's reads, doubling up to MAX_PAUSE
MAX_PAUSE = 0.1  # the most a waiter sees the new pair late; one GetItem per pause


class TokenRefresher(Protocol):
    """What the fleet protocol needs of a refresher (``ShopifyTokenRefresher`` is one)."""

    timeout: float

    def refresh(self, session: Session) -> Session: ...


class AsyncTokenRefresher(Protocol):
    """``TokenRefresher`` for the async driver (``AsyncShopifyTokenRefresher`` is one)."""

    timeout: float

    async def refresh(self, session: Session) -> Session: ...


@dataclass(frozen=True)
class Snapshot:
    """A stored session and the lease state of its item, as one read saw them."""

    session: Session
    stored_refresh_token: str | None = field(default=None, repr=False)  # as stored: maybe sealed
    lease_holder: str | None = None
    lease_expires_ms: int | None = None
    dead_refresh_token: str | None = None  # fingerprint of a refresh token Shopify refused

    def lease_live(self, now_ms: int) -> bool:
        """Live up to and including its last millisecond, as the stores' conditions see it
        (``refreshLeaseExpires < :now`` lapses it): one boundary, or a caller would spin."""
        return self.lease_expires_ms is not None and self.lease_expires_ms >= now_ms

    def refresh_token_dead(self) -> bool:
        token = self.stored_refresh_token
        return token is not None and self.dead_refresh_token == fingerprint(token)


def fingerprint(stored_refresh_token: str) -> str:
    """Names a refresh token without revealing it (a truncated SHA-256)."""
    return "sha256:" + hashlib.sha256(stored_refresh_token.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Read:
    id: str


@dataclass(frozen=True)
class TakeLease:
    snapshot: Snapshot
    holder: str
    expires_ms: int
    now_ms: int


@dataclass(frozen=True)
class Refresh:
    session: Session


@dataclass(frozen=True)
class StoreNewest:
    session: Session


@dataclass(frozen=True)
class MarkDead:
    snapshot: Snapshot


@dataclass(frozen=True)
class ReleaseLease:
    snapshot: Snapshot
    holder: str


Operation = Read | TakeLease | Refresh | StoreNewest | MarkDead | ReleaseLease | Sleep
Flow = Generator[Operation, Any, Session | None]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def check_lease(lease: timedelta, within: timedelta, refresher_timeout: float) -> None:
    """``lease`` must outlast the refresher's ``timeout`` with room for the write."""
    if within < timedelta(0):
        raise ValueError("within must not be negative")
    needed = timedelta(seconds=refresher_timeout) + WRITE_MARGIN
    if lease <= needed:
        raise ValueError(
            f"lease ({lease.total_seconds():g} s) must exceed the refresher's timeout "
            f"({refresher_timeout:g} s) by more than {WRITE_MARGIN.total_seconds():g} s, "
            f"the time left to store the new pair"
        )


def needs_refresh(
    session: Session, within: timedelta, rejected_token: str | None, now: datetime
) -> bool:
    """The token expires within ``within``, or the Admin API rejected this very token."""
    if rejected_token is not None and session.access_token == rejected_token:
        return True
    return session.expires is not None and session.expires - within < now


def _usable(session: Session, rejected_token: str | None, now: datetime) -> bool:
    """Still works now, though it cannot be refreshed: better than nothing."""
    return (
        bool(session.access_token)
        and session.access_token != rejected_token
        and (session.expires is None or session.expires > now)
    )


def fresh_session(
    id: str,
    *,
    within: timedelta,
    lease: timedelta,
    wait_limit: timedelta,
    rejected_token: str | None,
    holder: str,
    first: Snapshot | None = None,
    now: Callable[[], datetime] = _utcnow,
) -> Flow:
    """The session under ``id``, refreshed once for the fleet when it needs it."""
    started = now()
    pause = FIRST_PAUSE
    snapshot = first if first is not None else (yield Read(id))
    while snapshot is not None:
        at = now()
        session = snapshot.session
        if not needs_refresh(session, within, rejected_token, at):
            return session
        if snapshot.refresh_token_dead():  # a holder met invalid_grant: dead for everyone
            raise ReauthorizationRequiredError(session.shop, "Shopify refused its refresh token")
        blocker = refresh_blocker(session, at)
        if blocker is not None:
            if _usable(session, rejected_token, at):
                return session
            raise ReauthorizationRequiredError(session.shop, blocker)
        at_ms = _ms(at)
        if snapshot.lease_holder == holder and snapshot.lease_live(at_ms):
            return (yield from _refresh_holding(snapshot, holder))  # a retried take that landed
        if not snapshot.lease_live(at_ms):
            lease_ms = int(lease.total_seconds() * 1000)
            if (yield TakeLease(snapshot, holder, at_ms + lease_ms, at_ms)):
                return (yield from _refresh_holding(snapshot, holder))
        elif now() - started > wait_limit:
            raise TokenRefreshError(
                f"gave up waiting for another process to refresh session {id!r} "
                f"(waited {(now() - started).total_seconds():.1f} s)",
                shop=session.shop,
            )
        else:
            yield Sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
        snapshot = yield Read(id)
    return None


def _refresh_holding(snapshot: Snapshot, holder: str) -> Flow:
    """As the lease holder: refresh, then store the new pair unless a newer one is stored."""
    try:
        fresh: Session = yield Refresh(snapshot.session)
    except ReauthorizationRequiredError:
        yield from _best_effort(MarkDead(snapshot))
        latest: Snapshot | None = yield Read(snapshot.session.id)
        if latest is None:
            return None
        if latest.stored_refresh_token != snapshot.stored_refresh_token:
            return latest.session  # reinstalled meanwhile: the new grant is the answer
        raise
    except TokenRefreshError:
        yield from _best_effort(ReleaseLease(snapshot, holder))
        raise
    if (yield StoreNewest(fresh)):
        return fresh
    latest = yield Read(snapshot.session.id)  # a newer pair won, or it was uninstalled
    return latest.session if latest is not None else None


def _best_effort(operation: Operation) -> Generator[Operation, Any, None]:
    """A bookkeeping write whose failure must not hide the error that caused it."""
    try:
        yield operation
    except SessionStorageError as error:
        logger.warning("token refresh: %s failed: %s", type(operation).__name__, error)
