"""A stored item's token health: the one decision ``doctor``, ``keep-warm`` and
``migrate-to-expiring`` share.

:func:`classify` puts a raw item (as a Scan returns it) in exactly one :data:`CATEGORIES`
entry, the first that matches in that order. It is pure (no I/O, ``now`` given) and needs no
token key: only the presence of tokens and their dates count, never their values.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal, NamedTuple, get_args

from shopify_sessions.errors import CorruptSessionError
from shopify_sessions.tokens.lease_protocol import DEAD_REFRESH_TOKEN, fingerprint

from .codec import item_to_session

__all__ = [
    "CATEGORIES",
    "DEADLINE",
    "PROBLEMS",
    "Category",
    "Checked",
    "classify",
    "days_until_deadline",
]

Category = Literal[
    "unreadable",
    "online_active",
    "online_expired",
    "dead",
    "missing_expiry",
    "refresh_due",
    "unrefreshable",
    "non_expiring",
    "expiring_ok",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)  # in the order they are tried
# what an operator must act on (doctor exits 1 while any is counted)
PROBLEMS: frozenset[Category] = frozenset(
    ("unreadable", "dead", "missing_expiry", "refresh_due", "unrefreshable", "non_expiring")
)
# Shopify rejects non-expiring offline tokens of public apps from this moment
DEADLINE = datetime(2027, 1, 1, tzinfo=timezone.utc)


class Checked(NamedTuple):
    """One item's verdict: its id and shop as stored (``None`` when unreadable) and category."""

    id: str
    shop: str | None
    category: Category


def classify(item: dict[str, Any], *, now: datetime, days: int) -> Checked:
    """The item's category (first match wins); ``days``: how close a refresh token's expiry
    makes it ``refresh_due``."""
    try:
        session = item_to_session(item)
    except (CorruptSessionError, TypeError, ValueError):
        return Checked(_raw_text(item, "id") or "<no id>", _raw_text(item, "shop"), "unreadable")
    checked = Checked(session.id, session.shop, "expiring_ok")
    if session.is_online:
        active = session.expires is None or session.expires > now
        return checked._replace(category="online_active" if active else "online_expired")
    refresh = session.refresh_token
    refresh_expires = session.refresh_token_expires
    if refresh and (_marked_dead(item) or (refresh_expires is not None and refresh_expires <= now)):
        return checked._replace(category="dead")
    if refresh and session.expires is None:
        return checked._replace(category="missing_expiry")
    if refresh and refresh_expires is not None and refresh_expires <= now + timedelta(days=days):
        return checked._replace(category="refresh_due")
    if not refresh and session.expires is not None:
        return checked._replace(category="unrefreshable")
    if not refresh and session.access_token and session.expires is None:
        return checked._replace(category="non_expiring")
    return checked


def days_until_deadline(now: datetime) -> int:
    """Whole days left before :data:`DEADLINE` (0 once it has passed)."""
    return max((DEADLINE - now).days, 0)


def _marked_dead(item: dict[str, Any]) -> bool:
    """A refresher recorded ``invalid_grant`` for the refresh token the item holds now."""
    mark = _raw_text(item, DEAD_REFRESH_TOKEN)
    stored = _raw_text(item, "refreshToken")
    return mark is not None and stored is not None and mark == fingerprint(stored)


def _raw_text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name) if isinstance(item, dict) else None
    text = value.get("S") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None
