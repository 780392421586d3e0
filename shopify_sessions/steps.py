"""Stepping a sans-IO generator, shared by every blocking and async driver, and ``Sleep``.

A driver iterates over the flow's requests and answers each with :meth:`Steps.reply` (or
:meth:`Steps.fail`, which throws the error into the flow); the flow's return value is
:attr:`Steps.result`. So the drivers differ only in how they carry a request out (``await`` or
not), never in how they talk to the generator. :class:`Sleep` is the one operation every flow
shares (the DynamoDB plans' backoff, the token endpoint's retry, a lease waiter's poll): each
driver carries it out with its own ``time.sleep`` or ``asyncio.sleep``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = ["Sleep", "Steps"]

Y = TypeVar("Y")
R = TypeVar("R")


class Sleep(NamedTuple):
    """Wait ``seconds`` (a backoff, a poll); answered with ``None``."""

    seconds: float


class Steps(Generic[Y, R]):
    """Iterates over what ``flow`` yields; what is replied (or failed) goes into the next step."""

    def __init__(self, flow: Generator[Y, Any, R]) -> None:
        self._flow = flow
        self._reply: Any = None
        self._error: BaseException | None = None
        self._done = False
        self._result: R | None = None

    def __iter__(self) -> Steps[Y, R]:
        return self

    def __next__(self) -> Y:
        reply, error = self._reply, self._error
        self._reply = self._error = None  # a step nobody answered is sent None (a Sleep)
        try:
            return self._flow.throw(error) if error is not None else self._flow.send(reply)
        except StopIteration as done:
            self._done, self._result = True, done.value
            raise StopIteration from None

    def reply(self, value: object) -> None:
        """What the step just taken gave: sent into the flow by the next iteration."""
        self._reply = value

    def fail(self, error: BaseException) -> None:
        """Why the step just taken failed: thrown into the flow by the next iteration."""
        self._error = error

    @property
    def result(self) -> R:
        """The flow's return value, once the iteration has ended."""
        if not self._done:
            raise RuntimeError("the flow has not finished")
        return self._result  # type: ignore[return-value]  # R may itself include None
