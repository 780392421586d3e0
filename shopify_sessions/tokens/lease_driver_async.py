"""The asyncio driver of the fleet refresh protocol, and single flight within one event loop.

The twin of ``lease_driver.py``: the same checks, the same ``lease_protocol.fresh_session``
flow and the same mapping of its operations to calls (``lease_driver.call_for``); here each
call is awaited, against an
:class:`AsyncLeaseStore` and an ``AsyncShopifyTokenRefresher``. Tasks of one event loop share a
refresh through :class:`AsyncSingleFlight`; other loops, threads, processes and hosts meet
through the lease in the item, as blocking callers do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from shopify_sessions.domain.session import Session
from shopify_sessions.steps import Steps

from .lease_driver import call_for, check_load, refresh_flow
from .lease_protocol import AsyncTokenRefresher, Flow, Snapshot

__all__ = [
    "AsyncLeaseStore",
    "AsyncSingleFlight",
    "drive_async",
    "load_fresh_async",
]

T = TypeVar("T")


class AsyncLeaseStore(Protocol):
    """``fresh.LeaseStore``'s operations, awaited; each must do what that one says."""

    async def read(self, id: str) -> Snapshot | None: ...

    async def take_lease(
        self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int
    ) -> bool: ...

    async def store_newest(self, session: Session, holder: str | None = None) -> bool: ...

    async def store_over(self, session: Session, latest: Snapshot) -> bool: ...

    async def mark_dead(self, snapshot: Snapshot) -> None: ...

    async def release_lease(self, snapshot: Snapshot, holder: str) -> None: ...


class AsyncSingleFlight:
    """Concurrent tasks of one event loop for one key share one run.

    The run is a task of its own, awaited through ``asyncio.shield``: a caller that is
    cancelled (a request timing out) leaves the refresh to finish and be stored for the others,
    instead of dropping a pair Shopify has already rotated to. Runs are kept per event loop,
    since a task of one loop cannot be awaited from another.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # loops in several threads may share one storage
        self._runs: dict[asyncio.AbstractEventLoop, dict[str, asyncio.Task[Any]]] = {}

    async def run(self, key: str, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        loop = asyncio.get_running_loop()
        with self._lock:
            for closed in [other for other in self._runs if other.is_closed()]:
                del self._runs[closed]
            runs = self._runs.setdefault(loop, {})
            task = runs.get(key)
            if task is None:
                task = runs[key] = loop.create_task(work())
                task.add_done_callback(partial(self._finished, runs, key))
        result: T = await asyncio.shield(task)
        return result

    def _finished(
        self, runs: dict[str, asyncio.Task[Any]], key: str, task: asyncio.Task[Any]
    ) -> None:
        with self._lock:
            if runs.get(key) is task:
                del runs[key]
        if not task.cancelled():
            task.exception()  # retrieved, even when every caller was cancelled: no warning


async def load_fresh_async(
    store: AsyncLeaseStore,
    flights: AsyncSingleFlight,
    id: str,
    refresher: AsyncTokenRefresher,
    *,
    within: timedelta,
    lease: timedelta,
    rejected: Session | None,
) -> Session | None:
    """See ``AsyncDynamoDBSessionStorage.load_fresh_session``: ``load_fresh``, awaited."""
    rejected_token = check_load(id, refresher, within, lease, rejected)
    first = await store.read(id)
    flow = refresh_flow(first, refresher.timeout, within, lease, rejected_token)
    if flow is None:
        return first.session if first is not None else None
    result = await flights.run(id, lambda: drive_async(flow, store, refresher))
    return result.copy() if result is not None else None


async def drive_async(
    flow: Flow, store: AsyncLeaseStore, refresher: AsyncTokenRefresher
) -> Session | None:
    """Carry out the flow's operations, awaiting each; results go back in, errors are thrown."""
    steps = Steps(flow)
    for operation in steps:
        try:
            steps.reply(await call_for(operation, store, refresher, asyncio.sleep)())
        except Exception as failure:
            steps.fail(failure)
    return steps.result
