"""When DynamoDB's TTL may remove a session: its natural end plus a grace period.

A session ends when nothing in it can be used any more: with a refresh token, when the refresh
token expires; otherwise when the access token expires. Offline sessions with no expiry never
end and get no TTL. The Node adapter ignores the attribute when it reads and drops it when it
re-stores an item (until Python stores that session again).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shopify_sessions.domain.session import Session

__all__ = ["DEFAULT_TTL_GRACE", "TTL_ATTRIBUTE", "natural_end", "ttl_for"]

TTL_ATTRIBUTE = "ttl"
DEFAULT_TTL_GRACE = timedelta(days=7)


def natural_end(session: Session) -> datetime | None:
    """The moment the session stops being usable, or ``None`` if it never does."""
    if session.refresh_token:
        return session.refresh_token_expires
    return session.expires


def ttl_for(session: Session, grace: timedelta | None = DEFAULT_TTL_GRACE) -> int | None:
    """Epoch seconds for the TTL attribute, or ``None`` (no TTL, or TTL disabled)."""
    end = natural_end(session)
    if grace is None or end is None:
        return None
    # (end - epoch) + grace: adding grace to a date near year 9999 first would overflow
    return int(((end - datetime(1970, 1, 1, tzinfo=timezone.utc)) + grace).total_seconds())
