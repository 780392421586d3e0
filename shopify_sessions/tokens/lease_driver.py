"""The blocking driver of the fleet refresh protocol, and single flight within one process.

``load_fresh_session`` (on every storage) is :func:`load_fresh`: one read; when the token needs
a refresh, concurrent callers in this process share one run of
``lease_protocol.fresh_session``, whose operations this module carries out against a
:class:`LeaseStore`. ``lease_driver_async`` is the same for asyncio: both share the checks,
the flow and the mapping of operations to calls below.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from shopify_sessions.domain.session import Session
from shopify_sessions.steps import Sleep, Steps

from .lease_protocol import (
    AskActive,
    Flow,
    MarkDead,
    Operation,
    Read,
    Refresh,
    ReleaseLease,
    Snapshot,
    StoreNewest,
    StoreOver,
    TakeLease,
    TokenRefresher,
    check_lease,
    fresh_session,
    needs_refresh,
)
from .telemetry import observed

if TYPE_CHECKING:
    from .lease_driver_async import AsyncLeaseStore
    from .lease_protocol import AsyncTokenRefresher

__all__ = [
    "LeaseStore",
    "SingleFlight",
    "call_for",
    "check_load",
    "holder_id",
    "load_fresh",
    "refresh_flow",
]

T = TypeVar("T")


class LeaseStore(Protocol):
    """The item operations the protocol needs; each storage implements them once."""

    def read(self, id: str) -> Snapshot | None: ...

    def take_lease(self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int) -> bool:
        """Set the lease if the refresh token is still the snapshot's and no lease is live."""
        ...

    def store_newest(self, session: Session, holder: str | None = None) -> bool:
        """Store the pair (dropping the lease): over the item if it still holds ``holder``'s
        lease, else unless the item is gone or holds a later pair."""
        ...

    def store_over(self, session: Session, latest: Snapshot) -> bool:
        """Store the pair if the item still holds exactly ``latest``'s (its ``version``)."""
        ...

    def mark_dead(self, snapshot: Snapshot) -> None: ...

    def release_lease(self, snapshot: Snapshot, holder: str) -> None: ...


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class SingleFlight:
    """Concurrent calls for one key in this process share the first caller's run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._pid = os.getpid()

    def run(self, key: str, work: Callable[[], T]) -> T:
        if self._pid != os.getpid():  # forked: the parent's leaders do not exist here
            self._lock, self._flights, self._pid = threading.Lock(), {}, os.getpid()
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result  # type: ignore[no-any-return]
        try:
            flight.result = work()
            return flight.result  # type: ignore[no-any-return]
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()


def holder_id() -> str:
    """Who holds a lease: host and process (for people reading the item), and a nonce."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def load_fresh(
    store: LeaseStore,
    flights: SingleFlight,
    id: str,
    refresher: TokenRefresher,
    *,
    within: timedelta,
    lease: timedelta,
    rejected: Session | None,
) -> Session | None:
    """See ``DynamoDBSessionStorage.load_fresh_session``."""
    rejected_token = check_load(id, refresher, within, lease, rejected)
    first = store.read(id)
    flow = refresh_flow(first, refresher.timeout, within, lease, rejected_token)
    if flow is None:
        return first.session if first is not None else None
    result = flights.run(id, lambda: drive(flow, store, refresher))
    return result.copy() if result is not None else None


def check_load(
    id: str, refresher: Any, within: timedelta, lease: timedelta, rejected: Session | None
) -> str | None:
    """The rejected token, once the arguments of ``load_fresh_session`` are checked (no I/O).

    ``refresher`` is a ``TokenRefresher`` or its async twin; its ``token_life``, when it has
    one (custom refreshers may not), bounds ``within``.
    """
    check_lease(lease, within, refresher.timeout, getattr(refresher, "token_life", None))
    if rejected is not None and not isinstance(rejected, Session):
        raise TypeError(f"rejected must be a Session or None, got {type(rejected).__name__}")
    if rejected is not None and rejected.id != id:
        raise ValueError(f"rejected is session {rejected.id!r}, not {id!r}")
    return rejected.access_token if rejected is not None else None


def refresh_flow(
    first: Snapshot | None,
    timeout: float,
    within: timedelta,
    lease: timedelta,
    rejected_token: str | None,
) -> Flow | None:
    """The fleet flow from the first read; ``None`` when there is nothing to refresh."""
    if first is None:
        return None
    if not needs_refresh(first.session, within, rejected_token, datetime.now(timezone.utc)):
        return None
    flow = fresh_session(
        first.session.id,
        within=within,
        lease=lease,
        wait_limit=lease + timedelta(seconds=timeout),
        rejected_token=rejected_token,
        holder=holder_id(),
        first=first,
    )
    return observed(flow, first.session)  # its outcome logged and measured (telemetry.py)


def drive(flow: Flow, store: LeaseStore, refresher: TokenRefresher) -> Session | None:
    """Carry out the flow's operations, sending back results and throwing back errors."""
    steps = Steps(flow)
    for operation in steps:
        try:
            steps.reply(call_for(operation, store, refresher, time.sleep)())
        except Exception as failure:
            steps.fail(failure)
    return steps.result


@overload
def call_for(
    operation: Operation,
    store: LeaseStore,
    refresher: TokenRefresher,
    sleep: Callable[[float], None],
) -> Callable[[], object]: ...


@overload
def call_for(
    operation: Operation,
    store: AsyncLeaseStore,
    refresher: AsyncTokenRefresher,
    sleep: Callable[[float], Awaitable[None]],
) -> Callable[[], Awaitable[object]]: ...


def call_for(
    operation: Operation,
    store: LeaseStore | AsyncLeaseStore,
    refresher: TokenRefresher | AsyncTokenRefresher,
    sleep: Callable[[float], object],
) -> Callable[[], object]:
    """The call that carries ``operation`` out: its result, or awaitable, is the answer.

    ``store`` and ``refresher`` are a ``LeaseStore`` and a ``TokenRefresher`` (the answer is
    the call's result), or their async twins (``lease_driver_async``: the answer is what the call's
    awaitable gives). One mapping for both drivers; the overloads keep the two kinds apart.
    """
    if isinstance(operation, Read):
        return partial(store.read, operation.id)
    if isinstance(operation, TakeLease):
        op = operation
        return partial(store.take_lease, op.snapshot, op.holder, op.expires_ms, op.now_ms)
    if isinstance(operation, Refresh):
        return partial(refresher.refresh, operation.session)
    if isinstance(operation, StoreNewest):
        return partial(store.store_newest, operation.session, operation.holder)
    if isinstance(operation, AskActive):
        ask = getattr(refresher, "is_active", None)
        if ask is None:  # a refresher that cannot ask: "cannot tell", awaitable for either driver
            return partial(sleep, 0)
        return partial(ask, operation.session)
    if isinstance(operation, StoreOver):
        return partial(store.store_over, operation.session, operation.latest)
    if isinstance(operation, MarkDead):
        return partial(store.mark_dead, operation.snapshot)
    if isinstance(operation, ReleaseLease):
        return partial(store.release_lease, operation.snapshot, operation.holder)
    if isinstance(operation, Sleep):
        return partial(sleep, operation.seconds)
    raise TypeError(f"unknown operation {operation!r}")  # pragma: no cover
