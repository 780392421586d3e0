"""An async storage driven from blocking tests with a time limit on every awaited call.

``Blocking`` waits for as long as a coroutine takes: a call that never ends (an answer the
storage forgets to settle) would stall the whole run. ``time_limited(storage, portal)`` makes
such a call fail its test with ``TimeoutError`` instead.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from anyio.from_thread import BlockingPortal

from .blocking import Blocking

__all__ = ["CALL_LIMIT_S", "TimeLimited", "time_limited"]

CALL_LIMIT_S = 30.0


class TimeLimited:
    """``storage`` with each coroutine method bounded by ``asyncio.wait_for(.., seconds)``."""

    def __init__(self, storage: Any, seconds: float = CALL_LIMIT_S) -> None:
        self.storage = storage
        self.seconds = seconds

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.storage, name)
        if not inspect.iscoroutinefunction(value):
            return value

        async def limited(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.wait_for(value(*args, **kwargs), self.seconds)

        return limited

    def __repr__(self) -> str:
        return f"TimeLimited({self.storage!r}, {self.seconds:g})"


def time_limited(storage: Any, portal: BlockingPortal, seconds: float = CALL_LIMIT_S) -> Blocking:
    """``storage`` (async) as a blocking storage whose every call ends within ``seconds``."""
    return Blocking(TimeLimited(storage, seconds), portal)
