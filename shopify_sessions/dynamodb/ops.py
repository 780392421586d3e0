"""What a request plan asks its driver to do: the whole vocabulary between logic and I/O.

A plan is a generator: it yields one of these operations, and the driver sends back what came
of it (a response, a list of results) or throws in the exception it raised. Plans decide
everything (requests, retries, batching, conditions, decoding); the blocking driver and the
asyncio driver only carry operations out, so each decision exists once.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Each", "Emit", "Op", "Plan", "Send", "Sleep"]

R = TypeVar("R")


@dataclass(frozen=True)
class Send:
    """One DynamoDB API request (``action`` as in the API reference, botocore's request
    dict): answered with the response dict, or the botocore error thrown in."""

    action: str
    request: dict[str, Any]


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` (a backoff); answered with ``None``."""

    seconds: float


@dataclass(frozen=True)
class Each:
    """Run these sub-plans, at most ``limit`` at once; answered with their results in order.

    Every sub-plan runs to its end; then the first error in order, if any, is thrown in.
    """

    plans: list[Plan[Any]]
    limit: int


@dataclass(frozen=True)
class Emit:
    """A value for the consumer of a streaming plan (a scan); answered with ``None``."""

    value: Any


Op = Send | Sleep | Each | Emit
Plan = Generator[Op, Any, R]
