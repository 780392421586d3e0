"""One refresh per expiry for a whole fleet, as decisions without I/O.

:func:`fresh_session` is a generator in the sans-IO style: it yields operations (read the item,
take the lease, refresh, store the newest pair, ...) and is sent their results; a driver
(``lease_driver.py``) carries them out against a storage. The protocol, in the session's own item:

- a caller that finds the token within ``within`` of expiry (or rejected by a 401) takes a
  lease: ``refreshLeaseHolder`` and ``refreshLeaseExpires`` (epoch ms), set by one conditional
  write that succeeds only while the stored refresh token is the one it read and no live lease
  exists. Only the holder calls Shopify;
- the others poll the item with short backoff until a new pair is stored or the lease lapses
  (a holder that died loses it after ``lease``), then one of them may take it;
- the holder stores the new pair in one conditional write, which also drops the lease: over
  the item as it leased it (still holding its lease: nothing was stored since), or else only
  if the stored pair is not later (``expires`` compared as instants, whatever its spelling).
  A pair that looks later may only be dated differently (Node dates from the answer's
  arrival): Shopify is asked whether it still accepts the holder's token, and if it does,
  the holder's pair goes over the one it read. The newest pair always wins, whoever stored it;
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
from shopify_sessions.steps import Sleep

from .grants import refresh_blocker
from .refresh_errors import ReauthorizationRequiredError, TokenRefreshError

__all__ = [
    "DEAD_REFRESH_TOKEN",
    "LEASE_ATTRIBUTES",
    "LEASE_EXPIRES",
    "LEASE_HOLDER",
    "WRITE_MARGIN",
    "AskActive",
    "AsyncTokenRefresher",
    "MarkDead",
    "Operation",
    "Read",
    "Refresh",
    "ReleaseLease",
    "Snapshot",
    "StoreNewest",
    "StoreOver",
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
SETTLE_ROUNDS = 3  # a refused pair: reads, asks and conditional writes before giving in
MAX_PAUSE = 0.1  # the most a waiter sees the new pair late; one GetItem per pause


class TokenRefresher(Protocol):
    """What the fleet protocol needs of a refresher (``ShopifyTokenRefresher`` is one).

    Optional, used when present: ``is_active(session) -> bool | None`` (whether Shopify
    accepts the session's token now) and ``token_life`` (a ``timedelta``).
    """

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
    version: Any = field(default=None, repr=False, compare=False)  # the pair as stored: opaque

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
    """Store the holder's new pair: over the item it leased, or only if no later pair is."""

    session: Session
    holder: str | None = None


@dataclass(frozen=True)
class AskActive:
    """Whether Shopify accepts this session's access token now (``None``: cannot tell)."""

    session: Session


@dataclass(frozen=True)
class StoreOver:
    """Store ``session`` if the item still holds exactly ``latest``'s pair."""

    session: Session
    latest: Snapshot


@dataclass(frozen=True)
class MarkDead:
    snapshot: Snapshot


@dataclass(frozen=True)
class ReleaseLease:
    snapshot: Snapshot
    holder: str


Operation = (
    Read
    | TakeLease
    | Refresh
    | StoreNewest
    | AskActive
    | StoreOver
    | MarkDead
    | ReleaseLease
    | Sleep
)
Flow = Generator[Operation, Any, Session | None]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def check_lease(
    lease: timedelta,
    within: timedelta,
    refresher_timeout: float,
    token_life: timedelta | None = None,
) -> None:
    """``lease`` must outlast the refresher's ``timeout`` with room for the write, and
    ``within`` must be shorter than the tokens' life (``token_life``, when known)."""
    if within < timedelta(0):
        raise ValueError("within must not be negative")
    if token_life is not None and within >= token_life:
        raise _within_error(within, token_life)
    needed = timedelta(seconds=refresher_timeout) + WRITE_MARGIN
    if lease <= needed:
        raise ValueError(
            f"lease ({lease.total_seconds():g} s) must exceed the refresher's timeout "
            f"({refresher_timeout:g} s) by more than {WRITE_MARGIN.total_seconds():g} s, "
            f"the time left to store the new pair"
        )


def _within_error(within: timedelta, life: timedelta) -> ValueError:
    return ValueError(
        f"within ({within.total_seconds():g} s) must be shorter than the access token's life "
        f"({life.total_seconds():g} s): a token refreshed just now would already be due, so "
        f"every call would refresh; pass a shorter within (the default is 5 minutes)"
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
            return (yield from _refresh_holding(snapshot, holder, within, now))  # a retried take
        if not snapshot.lease_live(at_ms):
            lease_ms = int(lease.total_seconds() * 1000)
            if (yield TakeLease(snapshot, holder, at_ms + lease_ms, at_ms)):
                return (yield from _refresh_holding(snapshot, holder, within, now))
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


def _refresh_holding(
    snapshot: Snapshot, holder: str, within: timedelta, now: Callable[[], datetime]
) -> Flow:
    """As the lease holder: refresh, then store the new pair unless a newer one is stored.

    A new token already due within ``within`` is stored (Shopify rotated to it), then refused
    with a ``ValueError``: that ``within`` would refresh on every call.
    """
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
    if (yield StoreNewest(fresh, holder)):
        at = now()
        if needs_refresh(fresh, within, None, at):
            assert fresh.expires is not None  # needs_refresh: it expires
            raise _within_error(within, fresh.expires - at)
        return fresh
    yield from _best_effort(ReleaseLease(snapshot, holder))  # if no write took it with it
    return (yield from _settle(snapshot.session.id, fresh))


def _settle(id: str, fresh: Session) -> Flow:
    """Our new pair was refused: the item holds one whose expiry is as late or later.

    Expiries cannot tell which Shopify issued last (a Node app dates its pair from when the
    answer arrived, we from when the request left), Shopify can: it keeps one token active.
    If it still accepts ours, ours is the newest and goes over the stored pair (only while the
    item holds exactly that pair); if not, or it cannot tell, the stored pair is the answer.
    """
    latest: Snapshot | None = None
    for _ in range(SETTLE_ROUNDS):
        latest = yield Read(id)
        if latest is None:
            return None  # uninstalled meanwhile
        if latest.session.access_token == fresh.access_token or not (yield AskActive(fresh)):
            return latest.session
        if (yield StoreOver(fresh, latest)):
            return fresh
    return latest.session if latest is not None else None


def _best_effort(operation: Operation) -> Generator[Operation, Any, None]:
    """A bookkeeping write whose failure must not hide the error that caused it."""
    try:
        yield operation
    except SessionStorageError as error:
        logger.warning("token refresh: %s failed: %s", type(operation).__name__, error)
