"""Batches that finish: retry what DynamoDB leaves unprocessed, while it makes progress.

BatchGetItem and BatchWriteItem may process only part of a request (throttling, size limits) and
return the rest as ``UnprocessedKeys`` / ``UnprocessedItems``. PynamoDB's own batch helpers retry
those with no backoff, and its batch write gives up after a few rounds; here each round waits with
exponential backoff and full jitter, and we give up only after several rounds in a row with no
progress at all.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

__all__ = ["RetryPolicy", "chunked", "send_until_done"]

T = TypeVar("T")


class RetryPolicy:
    """How long to keep resending unprocessed parts of a batch."""

    def __init__(
        self,
        max_stalled_rounds: int = 6,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_stalled_rounds < 1:
            raise ValueError("max_stalled_rounds must be at least 1")
        self.max_stalled_rounds = max_stalled_rounds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep

    def delay(self, round_number: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**round_number)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**round_number))


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def send_until_done(
    send: Callable[[list[T]], list[T]], items: list[T], policy: RetryPolicy
) -> list[T]:
    """Call ``send(pending)`` -> still-unprocessed items, until none are left or it stalls.

    Returns the items left when ``policy.max_stalled_rounds`` rounds in a row processed
    nothing (empty when everything went through).
    """
    pending = items
    stalled = 0
    round_number = 0
    while pending:
        left = send(pending)
        stalled = 0 if len(left) < len(pending) else stalled + 1
        if not left or stalled >= policy.max_stalled_rounds:
            return left
        pending = left
        policy.sleep(policy.delay(round_number))
        round_number += 1
    return []
