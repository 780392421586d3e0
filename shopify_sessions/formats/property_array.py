"""Sessions as ``(key, value)`` rows: the format Shopify's SQL-backed Node storages use.

Useful when moving sessions in from those storages (see ``migrations_notes.md``). Both
directions follow ``Session.toPropertyArray`` / ``Session.fromPropertyArray`` of
``@shopify/shopify-api`` 15, conversions included (JavaScript's ``Number`` and ``String``);
where Python refuses what Node accepts, README's "Differences from Node, on purpose" says why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from shopify_sessions.domain._js import MAX_SAFE_INTEGER, js_lower, js_number, js_string, js_truthy
from shopify_sessions.domain._jsdate import date_from_epoch_ms, epoch_ms
from shopify_sessions.domain.flags import flag_from_text
from shopify_sessions.domain.online_access import AssociatedUser, OnlineAccessInfo


class SessionFields(Protocol):
    """What the rows are made of: a ``Session``'s persisted fields (read only here)."""

    @property
    def id(self) -> str: ...
    @property
    def shop(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def is_online(self) -> bool: ...
    @property
    def scope(self) -> str | None: ...
    @property
    def expires(self) -> datetime | None: ...
    @property
    def access_token(self) -> str | None: ...
    @property
    def refresh_token(self) -> str | None: ...
    @property
    def refresh_token_expires(self) -> datetime | None: ...
    @property
    def online_access_info(self) -> OnlineAccessInfo | None: ...


__all__ = ["SessionFields", "session_fields", "to_property_array"]

# lower-cased key -> Node's key (fromPropertyArray's "sanitize keys" step); others stay lower
_RENAMES = {
    "isonline": "isOnline",
    "accesstoken": "accessToken",
    "refreshtoken": "refreshToken",
    "refreshtokenexpires": "refreshTokenExpires",
    "onlineaccessinfo": "onlineAccessInfo",
    "userid": "userId",
    "firstname": "firstName",
    "lastname": "lastName",
    "accountowner": "accountOwner",
    "emailverified": "emailVerified",
}
_USER_PAIRS = (  # toPropertyArray(true)'s order: property-array key, AssociatedUser field
    ("userId", "id"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("email", "email"),
    ("locale", "locale"),
    ("emailVerified", "email_verified"),
    ("accountOwner", "account_owner"),
    ("collaborator", "collaborator"),
)
_USER_FIELDS = dict(_USER_PAIRS)
_USER_BOOLS = frozenset({"email_verified", "account_owner", "collaborator"})
_FIELDS = {  # Node key -> Session field, for the keys kept as given
    "id": "id",
    "shop": "shop",
    "state": "state",
    "accessToken": "access_token",
}


def to_property_array(
    session: SessionFields, return_user_data: bool = False
) -> list[tuple[str, Any]]:
    """Pairs for the saved properties in Node's order, absent ones skipped, dates as epoch ms.

    With ``return_user_data`` a user field stored as NULL gives a ``None`` pair, as in Node.
    """
    dates = {
        name: epoch_ms(value) if value is not None else None
        for name, value in (
            ("expires", session.expires),
            ("refreshTokenExpires", session.refresh_token_expires),
        )
    }
    pairs: list[tuple[str, Any]] = [
        ("id", session.id),
        ("shop", session.shop),
        ("state", session.state),
        ("isOnline", session.is_online),
        ("scope", session.scope),
        ("expires", dates["expires"]),
        ("accessToken", session.access_token),
        ("refreshToken", session.refresh_token),
        ("refreshTokenExpires", dates["refreshTokenExpires"]),
    ]
    pairs = [(key, value) for key, value in pairs if value is not None]
    info = session.online_access_info
    user = info.associated_user if info is not None else None
    if user is not None and not return_user_data:
        pairs.append(("onlineAccessInfo", user.id))
    elif user is not None:
        for key, name in _USER_PAIRS:
            value = getattr(user, name)
            if value is not None or name in user.extra:  # None: stored as NULL
                pairs.append((key, value))
    return pairs


def session_fields(entries: Iterable[Any], return_user_data: bool = False) -> dict[str, Any]:
    """``Session`` keyword arguments from pairs, the way Node's ``Session.fromPropertyArray`` does.

    Keys are case-insensitive, a later duplicate wins, ``None`` values and unknown keys are
    ignored. Raises ``TypeError`` / ``ValueError`` naming the property where Node would build
    a session that cannot be stored (missing or non-string id, unreadable dates, ...).
    """
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Iterable):
        raise TypeError("from_property_array expects a sequence of (key, value) pairs")
    rows: dict[str, Any] = {}  # like Object.fromEntries: first position, last value
    for entry in entries:
        try:
            key, value = entry
        except (TypeError, ValueError):
            raise ValueError("from_property_array expects (key, value) pairs") from None
        if value is None:
            continue
        if not isinstance(key, str):
            raise TypeError(f"property array keys must be str, got {type(key).__name__}")
        lower = js_lower(key)
        rows[_RENAMES.get(lower, lower)] = value
    data: dict[str, Any] = {}
    user_rows: list[tuple[str, Any]] = []  # like Node, read only for an online session
    for key, value in rows.items():
        if key == "onlineAccessInfo" or (return_user_data and key in _USER_FIELDS):
            user_rows.append((key, value))
        else:
            _session_value(data, key, value)
    missing = [name for name in ("id", "shop", "state", "is_online") if name not in data]
    if missing:
        raise ValueError(f"property array is missing {', '.join(missing)}")
    if data["is_online"]:
        user = _user(user_rows)
        if user and "id" not in user:
            raise ValueError("property array has user data but no userId / onlineAccessInfo")
        data["online_access_info"] = (
            OnlineAccessInfo(associated_user=AssociatedUser(**user))
            if user
            else OnlineAccessInfo(extra={"associated_user": {}})  # Node: associated_user {}
        )
    return data


def _user(rows: list[tuple[str, Any]]) -> dict[str, Any]:
    """AssociatedUser fields from the user rows, converted as Node converts them."""
    user: dict[str, Any] = {}
    for key, value in rows:
        name = _USER_FIELDS.get(key, "id")
        value = _scalar(key, value)
        if name == "id":
            user[name] = _user_id(key, value)
        else:
            user[name] = _user_bool(value) if name in _USER_BOOLS else js_string(value)
    return user


def _session_value(data: dict[str, Any], key: str, value: Any) -> None:
    """One session-level property converted as Node converts it; unknown keys are skipped."""
    if key in _FIELDS:
        if not isinstance(value, str):
            raise TypeError(f"property {key!r} must be a str, got {type(value).__name__}")
        data[_FIELDS[key]] = value
    elif key == "isOnline":
        value = _scalar(key, value)
        text = isinstance(value, str)
        data["is_online"] = js_lower(value) == "true" if text else js_truthy(value)
    elif key == "scope":
        data["scope"] = js_string(_scalar(key, value))
    elif key == "refreshToken":
        value = _scalar(key, value)
        data["refresh_token"] = js_string(value) if js_truthy(value) else None
    elif key in ("expires", "refreshTokenExpires"):
        name = "expires" if key == "expires" else "refresh_token_expires"
        if isinstance(value, datetime):  # a Date in Node: Number(date) is its epoch ms
            data[name] = value
            return
        value = _scalar(key, value)
        data[name] = _date(key, value) if js_truthy(value) else None


def _scalar(key: str, value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"property {key!r} must be a string, number or boolean")


def _date(key: str, value: Any) -> Any:
    try:
        return date_from_epoch_ms(js_number(value))
    except ValueError as error:
        raise type(error)(f"property {key!r} {error}") from None


def _user_id(key: str, value: Any) -> int:
    number = js_number(value)
    if not math.isfinite(number) or number != int(number) or abs(number) > MAX_SAFE_INTEGER:
        raise ValueError(f"property {key!r} must be an integer user id")
    return int(number)


def _user_bool(value: Any) -> bool:
    """Text as every reader of a shared item reads it (``'1'``/``'true'``/``'t'`` true,
    anything else false); Node's ``Boolean('false')`` is true (a bug)."""
    if isinstance(value, str):
        return flag_from_text(value) is True
    return js_truthy(value)
