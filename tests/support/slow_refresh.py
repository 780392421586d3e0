"""Refreshes that hold their lease while a test acts: no sleep that is probably long enough.

:func:`while_leased` runs an action once a refresh holds the lease; :class:`AnsweredAfter` and
:class:`SlowReturn` wrap a real refresher so that Shopify's answer, or its return to the
caller, waits for the test's signal.
"""

from __future__ import annotations

import threading
from typing import Any

from shopify_sessions import Session
from tests.support.leases import until_leased

__all__ = ["AnsweredAfter", "SlowReturn", "while_leased"]


def while_leased(
    storage: Any, id: str, action: Any, done: threading.Event | None = None
) -> threading.Thread:
    """Run ``action`` once a refresh holds the lease (its call to Shopify is under way), then
    set ``done``."""

    def run() -> None:
        try:
            until_leased(storage, id)
            action()
        finally:
            if done is not None:
                done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class AnsweredAfter:
    """A real refresh whose call to Shopify is answered only after ``meanwhile`` is set (5 s at
    most): what the test does meanwhile happens while the lease is held and the refresh is
    unanswered, as during a slow call to Shopify, with no sleep that is probably long enough."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.timeout = inner, inner.timeout
        self.meanwhile = threading.Event()

    def refresh(self, session: Session) -> Session:
        self.meanwhile.wait(5)  # Shopify answers from its state after it: as after a latency
        fresh: Session = self.inner.refresh(session)
        return fresh


class SlowReturn:
    """A real refresh whose answer is slow to come back: once Shopify rotated the pair
    (``rotated``), it comes back only when the test sets ``meanwhile`` (5 s at most), so what
    the test does meanwhile is done before, not a fixed sleep that is probably long enough."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.timeout = inner, inner.timeout
        self.rotated = threading.Event()
        self.meanwhile = threading.Event()

    def refresh(self, session: Session) -> Session:
        fresh: Session = self.inner.refresh(session)
        self.rotated.set()
        self.meanwhile.wait(5)
        return fresh
