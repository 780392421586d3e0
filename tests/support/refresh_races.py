"""Refreshers whose calls to Shopify wait on the test, to play out a race step by step.

Each wait is bounded (``LIMIT``) and on an event the test sets, never a sleep that is
probably long enough.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

from shopify_sessions import Session

__all__ = ["LIMIT", "Gated", "node_dated", "until_leased"]

LIMIT = 10.0  # seconds any step waits for the test at most


class Gated:
    """A real refresher whose request leaves once ``go`` is set and whose answer comes back
    once ``release`` is set; ``issued`` is set when Shopify has answered it. ``is_active``
    (asking Shopify which token is active) is the inner refresher's, ungated."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.timeout = inner, inner.timeout
        self.go, self.issued, self.release = threading.Event(), threading.Event(), threading.Event()

    def refresh(self, session: Session) -> Session:
        self.go.wait(LIMIT)
        fresh: Session = self.inner.refresh(session)
        self.issued.set()
        self.release.wait(LIMIT)
        return fresh

    def is_active(self, session: Session) -> bool | None:
        active: bool | None = self.inner.is_active(session)
        return active


def node_dated(pair: Session, expires_in_s: float = 3600) -> Session:
    """``pair`` dated as Node's ``createSession`` dates it: from when its answer arrived."""
    from datetime import timedelta

    dated = pair.copy()
    dated.expires = datetime.now(timezone.utc) + timedelta(seconds=expires_in_s)
    return dated


def until_leased(storage: Any, id: str) -> None:
    """Return once a refresh holds the lease on ``id``'s item (``LIMIT`` at most)."""
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        snapshot = storage._lease_store.read(id)
        if snapshot is not None and snapshot.lease_holder is not None:
            return
        time.sleep(0.005)
