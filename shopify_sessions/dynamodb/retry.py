"""When and how long to retry: throttling, 5xx, dropped connections, unprocessed batch parts.

One policy serves both kinds of retry: a failed request is sent again up to ``attempts`` times;
an unprocessed part of a batch is sent again for as long as rounds make progress, giving up
after ``stalled_rounds`` rounds in a row with none. Waits grow exponentially with full jitter.
PynamoDB's own (botocore) retries are turned off so that this policy is the only one.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

__all__ = ["RETRYABLE_ERROR_CODES", "RetryPolicy", "is_retryable"]

RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry settings of a storage. ``RetryPolicy(attempts=1)`` turns request retries off.

    ``deadline``: seconds one call may spend in all; no retry starts after it (an attempt in
    flight can still take up to the connection's read timeout). ``None``: no limit.
    """

    attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 2.0
    stalled_rounds: int = 6
    deadline: float | None = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("attempts", "stalled_rounds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RetryPolicy.{name} must be a whole number of at least 1")
        for name in ("base_delay", "max_delay", "deadline"):
            value = getattr(self, name)
            if value is None and name == "deadline":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"RetryPolicy.{name} must be a number of seconds")
            if not math.isfinite(value) or value < 0 or (name == "deadline" and value == 0):
                raise ValueError(
                    f"RetryPolicy.{name} must be a finite number of seconds"
                    f"{', above 0' if name == 'deadline' else ', 0 or more'}"
                )

    def delay(self, retry_number: int) -> float:
        """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2**retry_number)]``."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** min(retry_number, 30)))

    def backoff(self, retry_number: int) -> None:
        self.sleep(self.delay(retry_number))


def is_retryable(error: BaseException) -> bool:
    """Throttling, a 5xx answer, or a connection that failed or dropped."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_ERROR_CODES or int(status or 0) >= 500
    return isinstance(error, (BotocoreConnectionError, HTTPClientError))
