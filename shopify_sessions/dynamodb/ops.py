"""What a request plan asks its driver to do: the whole vocabulary between logic and I/O.

A plan is a generator: it yields one of these operations, and the driver sends back what came
of it (a response, a list of results) or throws in the exception it raised. Plans decide
everything (requests, retries, batching, conditions, decoding); the blocking driver and the
asyncio driver only carry operations out, so each decision exists once.

Named tuples rather than frozen dataclasses: as immutable, and a fifth of the import time
(these four cost 1.8 ms of a Lambda's cold start as dataclasses). ``Sleep`` is the one operation
shared with the token flows (``steps.Sleep``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from shopify_sessions.steps import Sleep

__all__ = ["Each", "Emit", "Op", "Plan", "Send", "Sleep"]

R = TypeVar("R")


class Send(NamedTuple):
    """One DynamoDB API request (``action`` as in the API reference, botocore's request
    dict): answered with the response dict, or the botocore error thrown in."""

    action: str
    request: dict[str, Any]


class Each(NamedTuple):
    """Run these sub-plans, at most ``limit`` at once; answered with their results in order.

    Every sub-plan runs to its end; then the first error in order, if any, is thrown in.
    """

    plans: list[Plan[Any]]
    limit: int


class Emit(NamedTuple):
    """A value for the consumer of a streaming plan (a scan); answered with ``None``."""

    value: Any


Op = Send | Sleep | Each | Emit
Plan = Generator[Op, Any, R]
