"""What ``keep-warm`` and ``migrate-to-expiring`` share for a whole fleet: which offline
sessions to work on (by :func:`~shopify_sessions.dynamodb.health.classify`, streamed from the
shared scan) and a rate limit that honours Shopify's 429 ``Retry-After`` for every worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import click

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.health import Category, classify
from shopify_sessions.tokens.grants import _retry_after

if TYPE_CHECKING:
    import httpx

__all__ = ["REPAIR_NOTE", "OfflineScan", "RateLimit", "days_option"]

logger = logging.getLogger("shopify_sessions")
F = TypeVar("F", bound=Callable[..., Any])

# what both commands say of the sessions a Node app stored without expires
REPAIR_NOTE = (
    "{count} offline session(s) had a refresh token but no expires (shopify-app-js#3400): "
    "refreshed to repair them, as a refresh sets expires again"
)


def days_option(help: str) -> Callable[[F], F]:
    """``--days``: how close a refresh token's expiry makes a session due (1 to 90, 14)."""
    return click.option(
        "--days", type=click.IntRange(1, 90), default=14, show_default=True, help=help
    )


class OfflineScan:
    """The offline sessions among raw ``items`` (a scan's, streamed) whose category is in
    ``wanted``, tokens opened; counts the other offline sessions (``skipped``) and each wanted
    category (``found``). Iterate it once."""

    def __init__(
        self,
        items: Iterable[dict[str, Any]],
        storage: DynamoDBSessionStorage,
        wanted: Collection[Category],
        *,
        days: int = 0,
    ) -> None:
        self.items = items
        self.storage = storage
        self.wanted = wanted
        self.days = days
        self.skipped = 0
        self.skipped_by: dict[Category, int] = {}  # the offline sessions not wanted, by category
        self.found: dict[Category, int] = dict.fromkeys(wanted, 0)
        self.category: dict[str, Category] = {}  # by shop, for what was found

    def __iter__(self) -> Iterator[Session]:
        now = datetime.now(timezone.utc)
        for item in self.items:
            checked = classify(item, now=now, days=self.days)
            if checked.category == "unreadable":
                logger.warning("skipped an unreadable session: %r", checked.id)
            elif checked.category.startswith("online_"):
                continue
            elif checked.category not in self.wanted:
                self.skipped += 1
                self.skipped_by[checked.category] = self.skipped_by.get(checked.category, 0) + 1
            else:
                session = self.storage.plans.decode(item)
                if isinstance(session, Session):
                    self.found[checked.category] += 1
                    self.category[session.shop] = checked.category
                    yield session
                else:
                    logger.warning("skipped an unreadable session: %s", session)


class RateLimit:
    """At most ``per_second`` starts a second across threads (``None``: no limit), and none
    before a ``Retry-After`` that Shopify sent with a 429 has passed."""

    def __init__(
        self,
        per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock()
        self.paused_for = 0.0  # seconds of Retry-After honoured, in all

    def wait(self) -> None:
        """Block until this caller may start (slots are handed out in order)."""
        with self._lock:
            now = self._clock()
            start = max(self._next, now)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        """No start before ``seconds`` from now (a 429's ``Retry-After``)."""
        with self._lock:
            until = self._clock() + seconds
            if until > self._next:
                self.paused_for += until - max(self._next, self._clock())
                self._next = until

    def on_response(self, response: httpx.Response) -> None:
        """An httpx response hook: a 429 pauses every worker for its ``Retry-After``."""
        if response.status_code == 429:
            after = _retry_after(response.headers)
            if after:
                self.pause(after)

    def http_hooks(self) -> dict[str, list[Any]]:
        return {"response": [self.on_response]}
