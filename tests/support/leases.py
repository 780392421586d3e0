"""Waiting for a refresh to hold the lease, so a test acts while its call is under way."""

from __future__ import annotations

import time
from typing import Any


def until_leased(storage: Any, id: str) -> None:
    """Returns once a refresh holds the lease on ``id`` in ``storage`` (a blocking one)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snapshot = storage._lease_store.read(id)
        if snapshot is not None and snapshot.lease_holder is not None:
            return
        time.sleep(0.005)
    raise AssertionError(f"no refresh took the lease on {id!r}")
