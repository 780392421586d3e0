"""Which of two pairs of one session is the newer: the one rule every store applies.

Dates are compared as instants, never as text, so an ``expires`` stored as an epoch-ms number
or as an ISO string with an offset (both read fine) orders like Node's own format.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["replaces"]


def replaces(new_expires: datetime | None, stored_expires: datetime | None) -> bool:
    """Whether a pair expiring at ``new_expires`` may replace one expiring at ``stored_expires``.

    An absent expiry counts as older than any; the same expiry replaces (a store repeated is
    idempotent); a pair without expiry replaces only another without one.
    """
    if stored_expires is None:
        return True
    return new_expires is not None and new_expires >= stored_expires
