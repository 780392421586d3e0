"""An async storage driven from blocking test code, so one test suite covers both kinds.

Each awaited method runs on one long-lived event loop in a thread of its own (an anyio
blocking portal, as a web server's loop would be); async iterators are collected there.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

from anyio.from_thread import BlockingPortal


class Blocking:
    """``storage``'s coroutine methods as blocking ones; ``wrapped`` is the async storage."""

    def __init__(self, storage: Any, portal: BlockingPortal) -> None:
        self.wrapped = storage
        self.portal = portal

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.wrapped, name)
        if inspect.iscoroutinefunction(value):
            return lambda *args, **kwargs: self.portal.call(
                functools.partial(value, *args, **kwargs)
            )
        if name in ("iter_sessions", "iter_items"):
            return lambda *args, **kwargs: self._collected(value(*args, **kwargs))
        return value

    def _collected(self, values: AsyncIterator[Any]) -> Iterator[Any]:
        return iter(self.portal.call(_collect, values))

    def __repr__(self) -> str:
        return f"Blocking({self.wrapped!r})"


async def _collect(values: AsyncIterator[Any]) -> list[Any]:
    return [value async for value in values]
