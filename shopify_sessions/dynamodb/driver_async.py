"""The asyncio driver: carries the same plans out with an aiobotocore client, awaited.

``Send`` becomes an awaited call of the aiobotocore client (at most ``max_pool_connections``
prepared and in flight at once, so a thousand concurrent calls never sign a thousand requests
in one loop turn), ``Sleep`` an ``asyncio.sleep``, ``Each`` a bounded ``gather``. Single-item
requests of one loop turn can be coalesced into batches (:mod:`.coalesce`). The client is made
lazily, once per event loop, with the service data loaded in a thread: nothing here blocks the
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore import xform_name

from shopify_sessions.tokens.steps import Steps

from .clients import client_arguments
from .coalesce import Coalescer, coalescable
from .ops import Each, Emit, Op, Plan, Send, Sleep
from .service_data import use_dynamodb_loader
from .settings import ConnectionSettings
from .table_requests import TableRequests
from .wire import speed_up

__all__ = ["AsyncDriver"]

R = TypeVar("R")

DEFAULT_POOL_CONNECTIONS = 10  # aiobotocore's default, as botocore's


class _LoopState:
    """What belongs to one event loop: the client, the request slots, the coalescer."""

    def __init__(self, driver: AsyncDriver, connections: int) -> None:
        self.client: Any = None
        self.stack = contextlib.AsyncExitStack()
        self.making = asyncio.Lock()
        self.slots = asyncio.Semaphore(connections)
        self.coalescer = Coalescer(driver.requests, driver.run_alone, connections)


class AsyncDriver:
    """Runs plans awaited, against one table's settings; ``coalesce`` batches single-item
    requests issued in the same loop turn."""

    def __init__(
        self, settings: ConnectionSettings, requests: TableRequests, *, coalesce: bool
    ) -> None:
        self.settings = settings
        self.requests = requests
        self.coalesce = coalesce
        self._lock = threading.Lock()  # loops in several threads may share one storage
        self._states: dict[asyncio.AbstractEventLoop, _LoopState] = {}

    async def run(self, plan: Plan[R], *, coalesce: bool = True) -> R:
        """Carry ``plan`` out to its end: its return value, or its error."""
        if coalesce and self.coalesce:
            coalescer = self._state().coalescer
            if coalescer.full():
                await coalescer.room()
        steps = Steps(plan)
        for op in steps:
            await self._answer(steps, op, coalesce)
        return steps.result

    async def run_alone(self, plan: Plan[R]) -> R:
        """Run ``plan`` with each request sent as it is (what the coalescer itself sends)."""
        return await self.run(plan, coalesce=False)

    async def stream(self, plan: Plan[None]) -> AsyncIterator[Any]:
        """Carry a streaming plan out, yielding what it emits as it emits it."""
        steps = Steps(plan)
        for op in steps:
            if isinstance(op, Emit):
                yield op.value
            else:
                await self._answer(steps, op, True)

    async def _answer(self, steps: Steps[Op, Any], op: Op, coalesce: bool) -> None:
        try:
            steps.reply(await self._carry(op, coalesce))
        except Exception as error:
            steps.fail(error)

    async def _carry(self, op: Op, coalesce: bool) -> Any:
        if isinstance(op, Send):
            if coalesce and self.coalesce and coalescable(op, self.requests):
                return await self._state().coalescer.send(op)
            return await self._send(op)
        if isinstance(op, Sleep):
            return await asyncio.sleep(op.seconds)
        if isinstance(op, Each):
            return await self._each(op, coalesce)
        raise TypeError(f"a plan yielded {op!r}, which this driver does not carry out")

    async def _send(self, op: Send) -> Any:
        state = self._state()
        async with state.slots:
            client = state.client or await self._make_client(state)
            return await getattr(client, xform_name(op.action))(**op.request)

    async def _each(self, op: Each, coalesce: bool) -> list[Any]:
        """The sub-plans, at most ``op.limit`` at once; all run to their end, then the first
        error in order is raised."""
        limit = asyncio.Semaphore(op.limit)

        async def one(plan: Plan[Any]) -> Any:
            async with limit:
                return await self.run(plan, coalesce=coalesce)

        results = await asyncio.gather(*(one(plan) for plan in op.plans), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    # --- the client, one per event loop --------------------------------------------------------

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)  # the common case, without the lock
        if state is not None:
            return state
        with self._lock:
            state = self._states.get(loop)
            if state is None:
                for closed in [other for other in self._states if other.is_closed()]:
                    del self._states[closed]
                connections = self.settings.max_pool_connections or DEFAULT_POOL_CONNECTIONS
                state = self._states[loop] = _LoopState(self, connections)
            return state

    async def _make_client(self, state: _LoopState) -> Any:
        async with state.making:
            if state.client is None:
                session = await asyncio.to_thread(_loaded_session)  # file reads off the loop
                arguments = client_arguments(self.settings, AioConfig)
                context = session.create_client("dynamodb", **arguments)
                client = await state.stack.enter_async_context(context)
                speed_up(client)
                state.client = client
            return state.client

    async def close(self) -> None:
        """Close this event loop's client (idempotent); the next call makes a new one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._states.pop(loop, None)
        if state is not None:
            await state.stack.aclose()


_shared_session: AioSession | None = None
_shared_session_lock = threading.Lock()


def _loaded_session() -> AioSession:
    """The process's aiobotocore session, DynamoDB's service data read once (blocking file
    reads: called in a thread). Shared, as the blocking storages share their botocore client:
    a storage made per request or per test then costs no second read of the service model."""
    global _shared_session
    with _shared_session_lock:
        if _shared_session is None:
            session = get_session()
            use_dynamodb_loader(session)
            session.warm_up_loader_caches("dynamodb")
            _shared_session = session
        return _shared_session


def _forget_session_after_fork() -> None:
    global _shared_session, _shared_session_lock
    _shared_session, _shared_session_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_session_after_fork)
