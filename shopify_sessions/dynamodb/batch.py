"""Batches that finish: resend what DynamoDB leaves unprocessed, while it makes progress.

BatchGetItem and BatchWriteItem may process only part of a request (throttling, size limits)
and return the rest as ``UnprocessedKeys`` / ``UnprocessedItems``. PynamoDB's helpers retry
those with no backoff, and its batch write gives up after a few rounds; here each round waits
(see :class:`~shopify_sessions.dynamodb.retry.RetryPolicy`) and we stop only when rounds
stop helping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from .ops import Plan, Sleep
from .retry import RetryPolicy

__all__ = ["chunked", "until_done"]

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def until_done(
    send: Callable[[list[T]], Plan[list[T]]], items: list[T], policy: RetryPolicy
) -> Plan[list[T]]:
    """Run ``send(pending)`` -> still-unprocessed items, until none are left or it stalls.

    Returns what is left after ``policy.stalled_rounds`` rounds in a row processed nothing
    (empty when everything went through). Rounds are spaced by the policy's backoff.
    """
    pending = items
    stalled = 0
    round_number = 0
    while pending:
        left = yield from send(pending)
        stalled = 0 if len(left) < len(pending) else stalled + 1
        if not left or stalled >= policy.stalled_rounds:
            return left
        pending = left
        yield Sleep(policy.delay(round_number))
        round_number += 1
    return []
