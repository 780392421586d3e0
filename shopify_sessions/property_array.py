"""Sessions as ``(key, value)`` rows: the format Shopify's SQL-backed Node storages use.

Useful when moving sessions in from those storages (see ``migrations_notes.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from .session import AssociatedUser, OnlineAccessInfo, Session

__all__ = ["from_property_array", "to_property_array"]

_USER_KEYS = {  # property-array key -> AssociatedUser field
    "userid": "id",
    "firstname": "first_name",
    "lastname": "last_name",
    "email": "email",
    "locale": "locale",
    "emailverified": "email_verified",
    "accountowner": "account_owner",
    "collaborator": "collaborator",
}
_SESSION_KEYS = {  # lower-cased property-array key -> Session field
    "id": "id",
    "shop": "shop",
    "state": "state",
    "isonline": "is_online",
    "scope": "scope",
    "expires": "expires",
    "accesstoken": "access_token",
    "refreshtoken": "refresh_token",
    "refreshtokenexpires": "refresh_token_expires",
}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def to_property_array(session: Session, return_user_data: bool = False) -> list[tuple[str, Any]]:
    """Pairs for the saved properties, absent ones skipped, dates as epoch milliseconds."""
    pairs: list[tuple[str, Any]] = [
        ("id", session.id),
        ("shop", session.shop),
        ("state", session.state),
        ("isOnline", session.is_online),
        ("scope", session.scope),
        ("expires", _epoch_ms(session.expires) if session.expires else None),
        ("accessToken", session.access_token),
    ]
    info = session.online_access_info
    user = info.associated_user if info else None
    if info is not None:
        if not return_user_data:
            pairs.append(("onlineAccessInfo", user.id if user else None))
        elif user is not None:
            pairs += [
                ("userId", user.id),
                ("firstName", user.first_name),
                ("lastName", user.last_name),
                ("email", user.email),
                ("locale", user.locale),
                ("emailVerified", user.email_verified),
                ("accountOwner", user.account_owner),
                ("collaborator", user.collaborator),
            ]
    pairs += [
        ("refreshToken", session.refresh_token),
        (
            "refreshTokenExpires",
            _epoch_ms(session.refresh_token_expires) if session.refresh_token_expires else None,
        ),
    ]
    return [(key, value) for key, value in pairs if value is not None]


def _to_bool(key: str, value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, (bool, int, float)):
        return bool(value)
    raise TypeError(f"property {key!r} must be a bool, 'true'/'false' or 0/1")


def _to_date(key: str, value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        millis = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"property {key!r} must be epoch milliseconds") from None
    return _EPOCH + timedelta(milliseconds=millis) if millis else None


def from_property_array(entries: Iterable[Any], return_user_data: bool = False) -> Session:
    """Rebuild a Session from pairs; keys are case-insensitive and unknown keys ignored."""
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Iterable):
        raise TypeError("from_property_array expects a sequence of (key, value) pairs")
    data: dict[str, Any] = {}
    user: dict[str, Any] = {}
    for entry in entries:
        key, value = entry
        if value is None:
            continue
        lower = str(key).lower()
        if lower == "onlineaccessinfo":
            user["id"] = int(value)
        elif lower in _USER_KEYS:
            if return_user_data:
                name = _USER_KEYS[lower]
                if name == "id":
                    user[name] = int(value)
                elif name in ("email_verified", "account_owner", "collaborator"):
                    user[name] = _to_bool(str(key), value)
                else:
                    user[name] = str(value)
        elif lower in _SESSION_KEYS:
            name = _SESSION_KEYS[lower]
            if name == "is_online":
                value = _to_bool(str(key), value)
            elif name in ("expires", "refresh_token_expires"):
                value = _to_date(str(key), value)
            elif name == "scope":
                value = str(value)
            data[name] = value
    missing = [name for name in ("id", "shop", "state", "is_online") if name not in data]
    if missing:
        raise ValueError(f"property array is missing {', '.join(missing)}")
    if data["is_online"]:
        data["online_access_info"] = OnlineAccessInfo(
            associated_user=AssociatedUser(**user) if "id" in user else None
        )
    return Session(**data)
