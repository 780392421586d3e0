"""The asyncio driver: carries the same plans out with an aiobotocore client, awaited.

``Send`` becomes an awaited call of the aiobotocore client (at most ``max_pool_connections``
prepared and in flight at once, so a thousand concurrent calls never sign a thousand requests
in one loop turn), ``Sleep`` an ``asyncio.sleep``, ``Each`` a bounded ``gather``. Single-item
requests of one loop turn can be coalesced into batches (:mod:`.coalesce`). The client is made
lazily, once per event loop, with the service data loaded in a thread: nothing here blocks the
loop; ``close()`` lets the calls in flight finish on it, then closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from botocore import xform_name

try:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession, get_session
except ImportError as missing:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        f"AsyncDynamoDBSessionStorage needs aiobotocore ({missing.name or 'it'} is missing): "
        "pip install 'shopify-sessions[async]'",
        name=missing.name,
    ) from None

from shopify_sessions.steps import Steps

from .clients import client_arguments
from .coalesce import Coalescer, coalescable, written_id
from .ops import Each, Emit, Op, Plan, Send, Sleep
from .service_data import use_dynamodb_loader
from .settings import ConnectionSettings
from .table_requests import TableRequests
from .wire import speed_up

__all__ = ["AsyncDriver"]

R = TypeVar("R")

DEFAULT_POOL_CONNECTIONS = 10  # aiobotocore's default, as botocore's


class _LoopState:
    """What belongs to one event loop: the client, the request slots, the coalescer, and the
    calls running on them (a call keeps the state it started with to its end)."""

    def __init__(self, driver: AsyncDriver, connections: int) -> None:
        self.client: Any = None
        self.stack = contextlib.AsyncExitStack()
        self.making = asyncio.Lock()
        self.slots = asyncio.Semaphore(connections)
        self.calls = 0
        self.idle: asyncio.Future[None] | None = None  # set when calls falls to 0

        def run_alone(plan: Plan[R]) -> Coroutine[Any, Any, R]:
            return driver.run(plan, coalesce=False, state=self)

        self.coalescer = Coalescer(driver.requests, run_alone, connections)

    def left(self) -> None:
        """A call ended."""
        self.calls -= 1
        if not self.calls and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    async def settled(self) -> None:
        """Wait until no call runs here and no batch waits or flies."""
        while self.calls or self.coalescer.pending():
            if self.calls:
                self.idle = asyncio.get_running_loop().create_future()
                await self.idle
            else:
                await asyncio.sleep(0)  # a batch leaves at the end of this turn


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

    async def run(
        self,
        plan: Plan[R],
        *,
        coalesce: bool = True,
        state: _LoopState | None = None,
        method: str | None = None,
    ) -> R:
        """Carry ``plan`` out to its end: its return value, or its error. ``method``: the
        public method it stands for, named by errors (default: the plan's own name)."""
        state = state or self._state()
        state.calls += 1
        try:
            name = (method or _name_of(plan)) if coalesce and self.coalesce else None
            if name is not None and state.coalescer.full():
                await state.coalescer.room()
            steps = Steps(plan)
            for op in steps:
                await self._answer(steps, op, state, name)
            return steps.result
        finally:
            state.left()

    async def stream(self, plan: Plan[None]) -> AsyncIterator[Any]:
        """Carry a streaming plan out, yielding what it emits as it emits it."""
        name = _name_of(plan) if self.coalesce else None
        steps = Steps(plan)
        for op in steps:
            if isinstance(op, Emit):
                yield op.value  # not a call in flight: an abandoned scan never holds close()
                continue
            state = self._state()
            state.calls += 1
            try:
                await self._answer(steps, op, state, name)
            finally:
                state.left()

    async def _answer(
        self, steps: Steps[Op, Any], op: Op, state: _LoopState, method: str | None
    ) -> None:
        try:
            steps.reply(await self._carry(op, state, method))
        except Exception as error:
            steps.fail(error)

    async def _carry(self, op: Op, state: _LoopState, method: str | None) -> Any:
        """``method`` is ``None`` when nothing of ``op`` may be coalesced."""
        if isinstance(op, Send):
            if method is None:
                return await self._send(op, state)
            if coalescable(op, self.requests):
                return await state.coalescer.send(op, method)
            return await self._send_in_turn(op, state)
        if isinstance(op, Sleep):
            return await asyncio.sleep(op.seconds)
        if isinstance(op, Each):
            return await self._each(op, state, method)
        raise TypeError(f"a plan yielded {op!r}, which this driver does not carry out")

    async def _send_in_turn(self, op: Send, state: _LoopState) -> Any:
        """A request sent as it is; a write of one session waits for the coalesced writes of
        that id before it, so that writes of one id land in call order."""
        id = written_id(op, self.requests)
        if id is None:
            return await self._send(op, state)
        await state.coalescer.turn(id)
        try:
            return await self._send(op, state)
        finally:
            state.coalescer.release(id)

    async def _send(self, op: Send, state: _LoopState) -> Any:
        async with state.slots:
            client = state.client or await self._make_client(state)
            return await getattr(client, xform_name(op.action))(**op.request)

    async def _each(self, op: Each, state: _LoopState, method: str | None) -> list[Any]:
        """The sub-plans, at most ``op.limit`` at once; all run to their end, then the first
        error in order is raised."""
        limit = asyncio.Semaphore(op.limit)

        async def one(plan: Plan[Any]) -> Any:
            async with limit:
                return await self.run(plan, coalesce=method is not None, state=state, method=method)

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
        """Close this event loop's client (idempotent) once the calls in flight on it have
        ended; a call made meanwhile or later makes a new one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._states.pop(loop, None)
        if state is not None:
            await state.settled()
            await state.stack.aclose()


def _name_of(plan: Plan[Any]) -> str:
    """A plan's name: the public method it stands for (a generator is named for its
    function, ``store_session``)."""
    return str(getattr(plan, "__name__", "call"))


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
