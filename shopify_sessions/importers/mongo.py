"""MongoDB: ``mongoexport`` files (Extended JSON v2, relaxed or canonical) -> ``Session``.

``@shopify/shopify-app-session-storage-mongodb`` 8.0.0 (``dist/esm/mongodb.mjs``) stores
``session.toObject()`` with ``findOneAndReplace({id}, ..., {upsert: true})``: camelCase keys,
``expires`` / ``refreshTokenExpires`` as BSON dates (milliseconds), and the **whole**
``onlineAccessInfo`` (``expires_in`` and ``associated_user_scope`` included, unlike the SQL and
key-value storages), plus the server's ``_id``. ``mongoexport`` writes one document a line
(``--jsonArray``: one array); dates as ``{"$date": "...Z"}`` (relaxed, the default) or
``{"$date": {"$numberLong": "ms"}}`` (canonical), numbers plain or ``{"$numberInt": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopify_sessions.domain.session import AssociatedUser, OnlineAccessInfo, Session

from .values import as_bool, as_user_id, epoch_datetime, orm_datetime, text_or_none

__all__ = ["decode_extended_json", "document_to_session"]

_WRAPPERS = {"$numberInt": int, "$numberLong": int, "$numberDouble": float}
_USER_TEXT = ("first_name", "last_name", "email", "locale")
_USER_FLAGS = ("email_verified", "account_owner", "collaborator")


def decode_extended_json(value: Any) -> Any:
    """Extended JSON wrappers -> plain values (dates stay ``{"$date": ...}`` for the caller)."""
    if isinstance(value, list):
        return [decode_extended_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key in _WRAPPERS and isinstance(inner, str):
            try:
                number = float(inner) if key == "$numberDouble" else int(inner)
            except ValueError:
                raise ValueError(f"a {key} does not hold a number") from None
            return int(number) if isinstance(number, float) and number.is_integer() else number
        if key == "$date":
            return {"$date": decode_extended_json(inner)}
        if key == "$oid":
            return inner
    return {key: decode_extended_json(inner) for key, inner in value.items()}


def _date(field: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"$date"}:
        inner = value["$date"]
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return epoch_datetime(field, inner, "ms") if inner else None
        return orm_datetime(field, inner)
    if isinstance(value, str):  # a document exported by hand, dates as text
        return orm_datetime(field, value)
    raise ValueError(f"{field!r} must be a date")


def document_to_session(document: Mapping[str, Any]) -> Session:
    """One exported document (already through :func:`decode_extended_json`) -> Session."""
    for name in ("id", "shop", "state", "isOnline"):
        if document.get(name) is None:
            raise ValueError(f"{name!r} missing")
    is_online = as_bool("isOnline", document["isOnline"])
    info = _online_access_info(document.get("onlineAccessInfo")) if is_online else None
    if is_online and info is None:
        info = OnlineAccessInfo()
    return Session(
        id=_text("id", document["id"]),
        shop=_text("shop", document["shop"]),
        state=_text("state", document["state"]),
        is_online=bool(is_online),
        scope=text_or_none("scope", document.get("scope")),
        expires=_date("expires", document.get("expires")),
        access_token=text_or_none("accessToken", document.get("accessToken")),
        refresh_token=text_or_none("refreshToken", document.get("refreshToken")),
        refresh_token_expires=_date("refreshTokenExpires", document.get("refreshTokenExpires")),
        online_access_info=info,
    )


def _online_access_info(value: Any) -> OnlineAccessInfo | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("'onlineAccessInfo' must be an object")
    expires_in = value.get("expires_in")
    if expires_in is not None and (
        isinstance(expires_in, bool) or not isinstance(expires_in, (int, float))
    ):
        raise ValueError("'onlineAccessInfo.expires_in' must be a number")
    user = value.get("associated_user")
    associated = None
    if isinstance(user, Mapping) and user.get("id") is not None:
        fields: dict[str, Any] = {"id": as_user_id("associated_user.id", user["id"])}
        for name in _USER_TEXT:
            fields[name] = text_or_none(f"associated_user.{name}", user.get(name))
        for name in _USER_FLAGS:
            fields[name] = as_bool(f"associated_user.{name}", user.get(name))
        associated = AssociatedUser(**fields)
    elif user is not None and not isinstance(user, Mapping):
        raise ValueError("'onlineAccessInfo.associated_user' must be an object")
    return OnlineAccessInfo(
        expires_in=int(expires_in) if expires_in is not None else None,
        associated_user_scope=text_or_none(
            "associated_user_scope", value.get("associated_user_scope")
        ),
        associated_user=associated,
    )


def _text(field: str, value: Any) -> str:
    text = text_or_none(field, value)
    if text is None:
        raise ValueError(f"{field!r} missing")
    return text
