"""Storage methods made from plan methods, once for the blocking and the async storages.

A storage (or lease store) holds ``plans`` and a ``driver``. A facade method builds the plan and
hands it to the driver's ``run`` (or ``stream``): the blocking driver returns the answer, the
asyncio driver the coroutine (or async iterator) to await. ``driver.py`` and ``driver_async.py``
give this one implementation its two precise types.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from .ops import Plan

__all__ = ["Facade", "PlanMethod", "facade"]

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")
PlanMethod = Callable[Concatenate[S, P], Plan[R]]  # a method of a plans object

S_co = TypeVar("S_co", covariant=True)
D_co = TypeVar("D_co", covariant=True)


class Facade(Protocol[S_co, D_co]):
    """What a facade method needs of its object: the plans and the driver that runs them."""

    @property
    def plans(self) -> S_co: ...

    @property
    def driver(self) -> D_co: ...


def facade(plan: Callable[..., Plan[Any]], via: str = "run", *, coroutine: bool = False) -> Any:
    """The plan method ``plan`` of ``self.plans`` as a method running it with ``self.driver``
    (``via``: ``"run"``, or ``"stream"`` for a streaming plan), signature and docstring kept.

    ``coroutine``: an ``async def`` method awaiting the driver, so that ``inspect`` (and
    ``AsyncMock``, frameworks) see a coroutine function.
    """

    def run(self: Any, args: Any, kwargs: Any) -> Any:
        return getattr(self.driver, via)(plan(self.plans, *args, **kwargs))

    async def awaited(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return await run(self, args, kwargs)

    def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return run(self, args, kwargs)

    return functools.wraps(plan)(awaited if coroutine else method)
