"""The ``Session`` domain object: what a Shopify app knows about one OAuth grant.

It mirrors ``Session`` from ``@shopify/shopify-api`` so that Python and Node agree on what a
stored session means (expiry, scopes, activity). Storage-specific code lives elsewhere.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from .online_access import AssociatedUser, OnlineAccessInfo, normalize_datetime
from .scopes import AuthScopes, ScopesLike

__all__ = [
    "AssociatedUser",
    "OnlineAccessInfo",
    "Session",
    "normalize_datetime",
    "offline_session_id",
    "online_session_id",
]

_DATE_FIELDS = frozenset({"expires", "refresh_token_expires"})
# Node's Session.toObject() drops these when falsy, so "" and None mean the same: absent.
_OPTIONAL_STR_FIELDS = frozenset({"scope", "access_token", "refresh_token"})
_REQUIRED_STR_FIELDS = frozenset({"id", "shop", "state"})
_SECRET_FIELDS = frozenset({"access_token", "refresh_token"})


def offline_session_id(shop: str) -> str:
    """The id Shopify's libraries give a shop's offline session: ``offline_{shop}``."""
    return f"offline_{shop}"


def online_session_id(shop: str, user_id: int | str) -> str:
    """The id Shopify's libraries give a user's online session: ``{shop}_{user_id}``."""
    return f"{shop}_{user_id}"


@dataclass(eq=False)
class Session:
    """One stored OAuth session, with the behaviour of the Node ``Session``.

    Dates are normalised on every assignment (UTC, milliseconds) and empty optional strings
    become ``None``, so a session loaded from storage is ``==`` to the one stored. ``==``
    compares only persisted fields; ``repr`` never shows a token.
    """

    id: str
    shop: str
    state: str
    is_online: bool
    scope: str | None = None
    expires: datetime | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    refresh_token_expires: datetime | None = None
    online_access_info: OnlineAccessInfo | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, _checked(name, value))

    # --- behaviour mirrored from @shopify/shopify-api -------------------------------------

    def is_expired(self, within: timedelta = timedelta(0)) -> bool:
        """True when the access token expires before ``now + within``."""
        # a difference of two datetimes never overflows, even for years 1 and 9999
        return self.expires is not None and self.expires - _utcnow() < within

    def is_scope_included(self, scopes: ScopesLike) -> bool:
        """True when this session's scopes grant every scope in ``scopes``."""
        return AuthScopes(self.scope).has(scopes)

    def is_scope_changed(self, scopes: ScopesLike) -> bool:
        """True when ``scopes`` is given and this session does not grant all of it."""
        return scopes is not None and not self.is_scope_included(scopes)

    def is_active(
        self, scopes: ScopesLike = None, within: timedelta = timedelta(milliseconds=500)
    ) -> bool:
        """Usable now: has an access token, not expiring within ``within``, scopes unchanged."""
        return (
            bool(self.access_token)
            and not self.is_expired(within)
            and not self.is_scope_changed(scopes)
        )

    def to_property_array(self, return_user_data: bool = False) -> list[tuple[str, Any]]:
        """``(key, value)`` pairs in the row format of Shopify's SQL session storages."""
        from shopify_sessions.formats.property_array import to_property_array

        return to_property_array(self, return_user_data)

    @classmethod
    def from_property_array(cls, entries: Any, return_user_data: bool = False) -> Session:
        """Rebuild a session from :meth:`to_property_array` output (keys case-insensitive)."""
        from shopify_sessions.formats.property_array import session_fields

        return cls(**session_fields(entries, return_user_data))

    def equals(self, other: object) -> bool:
        """Node's ``equals``: same id, shop, state and is_online, and the same property array
        with user data (so ``expires_in`` and ``associated_user_scope`` take no part)."""
        if not isinstance(other, Session):
            return False
        if (self.id, self.shop, self.state, self.is_online) != (
            other.id,
            other.shop,
            other.state,
            other.is_online,
        ):
            return False
        mine, theirs = (
            sorted(session.to_property_array(True), key=lambda pair: pair[0])
            for session in (self, other)
        )
        # typed comparison, like Node's JSON.stringify: 1 is not True, 1 is not "1"
        return [(k, type(v), v) for k, v in mine] == [(k, type(v), v) for k, v in theirs]

    def copy(self) -> Session:
        """A deep copy: changing it never changes this session."""
        return copy.deepcopy(self)

    # --- value semantics ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Session):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(Session))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for f in fields(Session):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value is not None:
                parts.append(f"{f.name}='***'")
            elif value is not None or f.name in _REQUIRED_STR_FIELDS:
                parts.append(f"{f.name}={value!r}")
        return f"Session({', '.join(parts)})"

    __str__ = __repr__


def _utcnow() -> datetime:
    """The clock of ``is_expired`` / ``is_active`` (tests replace it to freeze time)."""
    return datetime.now(timezone.utc)


def _checked(name: str, value: Any) -> Any:
    """Validate and normalise one Session field; errors name the field, never its value."""
    if name in _REQUIRED_STR_FIELDS:
        if not isinstance(value, str):
            raise TypeError(f"Session.{name} must be a str, got {type(value).__name__}")
    elif name == "is_online":
        if not isinstance(value, bool):
            raise TypeError(f"Session.is_online must be a bool, got {type(value).__name__}")
    elif name in _OPTIONAL_STR_FIELDS:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"Session.{name} must be a str or None, got {type(value).__name__}")
        return value or None
    elif name in _DATE_FIELDS:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(
                f"Session.{name} must be a datetime or None, got {type(value).__name__}"
            )
        try:
            return normalize_datetime(value)
        except OverflowError:
            raise ValueError(f"Session.{name} is out of range once converted to UTC") from None
    elif (
        name == "online_access_info"
        and value is not None
        and not isinstance(value, OnlineAccessInfo)
    ):
        raise TypeError(
            "Session.online_access_info must be an OnlineAccessInfo or None, "
            f"got {type(value).__name__}"
        )
    return value
