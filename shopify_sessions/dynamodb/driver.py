"""The blocking driver: carries plans out with a botocore client, in the calling thread.

``Send`` becomes a call of the botocore client's method, ``Sleep`` a ``time.sleep`` (the retry
policy's), ``Each`` a fan-out over a bounded thread pool.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from botocore import xform_name

from shopify_sessions.steps import Steps

from .ops import Each, Emit, Op, Plan, Send, Sleep

__all__ = ["Driver"]

R = TypeVar("R")

_drivers: weakref.WeakSet[Driver] = weakref.WeakSet()
_in_worker = threading.local()


def _reset_after_fork() -> None:
    for driver in list(_drivers):
        driver._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


class Driver:
    """Runs plans blocking. ``client()`` gives the botocore client (made lazily, shared);
    ``sleep`` waits between retries; ``Each`` runs on up to ``Each.limit`` worker threads."""

    def __init__(self, client: Callable[[], Any], sleep: Callable[[float], None]) -> None:
        self._client = client
        self._sleep = sleep
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        _drivers.add(self)

    def run(self, plan: Plan[R]) -> R:
        """Carry ``plan`` out to its end: its return value, or its error."""
        steps = Steps(plan)
        for op in steps:
            self._answer(steps, op)
        return steps.result

    def stream(self, plan: Plan[None]) -> Iterator[Any]:
        """Carry a streaming plan out, yielding what it emits as it emits it."""
        steps = Steps(plan)
        for op in steps:
            if isinstance(op, Emit):
                yield op.value
            else:
                self._answer(steps, op)

    def _answer(self, steps: Steps[Op, Any], op: Op) -> None:
        try:
            steps.reply(self._carry(op))
        except Exception as error:
            steps.fail(error)

    def _carry(self, op: Op) -> Any:
        if isinstance(op, Send):
            return getattr(self._client(), xform_name(op.action))(**op.request)
        if isinstance(op, Sleep):
            return self._sleep(op.seconds)
        if isinstance(op, Each):
            return self._each(op)
        raise TypeError(f"a plan yielded {op!r}, which this driver does not carry out")

    def _each(self, op: Each) -> list[Any]:
        """The sub-plans on the pool (in this thread when alone, limited to one, or nested);
        all run to their end, then the first error in order is raised."""
        if len(op.plans) <= 1 or op.limit == 1 or getattr(_in_worker, "active", False):
            futures = [_settled(self.run, plan) for plan in op.plans]
        else:
            self._client()  # made once here, before the threads share it
            futures = [self._submit(plan, op.limit) for plan in op.plans]
        return [future.result() for future in futures]

    def _submit(self, plan: Plan[Any], limit: int) -> Future[Any]:
        while True:
            try:
                return self._worker_pool(limit).submit(self._run_in_worker, plan)
            except RuntimeError:  # close() shut that pool down meanwhile: use a new one
                continue

    def _run_in_worker(self, plan: Plan[R]) -> R:
        _in_worker.active = True
        return self.run(plan)

    def _worker_pool(self, size: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pool_size != size:
                self._pool = ThreadPoolExecutor(
                    max_workers=size, thread_name_prefix="shopify_sessions"
                )
                self._pool_size = size
            return self._pool

    def close(self) -> None:
        """Stop the worker threads (idempotent, safe while calls run); they start again when
        needed. Work already handed to the old pool finishes first."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _after_fork(self) -> None:
        """In a forked child the parent's threads are gone: a new lock and no pool."""
        self._lock = threading.Lock()
        self._pool = None


def _settled(run: Callable[[Plan[R]], R], plan: Plan[R]) -> Future[R]:
    """``run(plan)`` now, as a finished future (holding its result or its error)."""
    future: Future[R] = Future()
    try:
        future.set_result(run(plan))
    except Exception as error:
        future.set_exception(error)
    return future
