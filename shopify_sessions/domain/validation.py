"""Input checks shared by every storage: bad input is refused before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from shopify_sessions.errors import InvalidSessionError

from .online_access import AssociatedUser, OnlineAccessInfo, check_json_value
from .session import Session

__all__ = ["check_expected", "check_id", "check_session", "check_shop", "unique_ids"]


MAX_KEY_BYTES = 2048  # DynamoDB's limit for a partition key value (id; shop in the index)


def check_id(id: Any, *, allow_empty: bool = False) -> None:
    if not isinstance(id, str):
        raise TypeError(f"session id must be a str, got {type(id).__name__}")
    if not id and not allow_empty:
        raise InvalidSessionError("session id must not be empty")
    _check_text("", "session id", id)
    _check_key_size("", "session id", id)


def check_shop(shop: Any) -> None:
    if not isinstance(shop, str):
        raise TypeError(f"shop must be a str, got {type(shop).__name__}")
    if not shop:
        raise InvalidSessionError("shop must not be empty")
    _check_text("", "shop", shop)
    _check_key_size("", "shop", shop)


def _check_key_size(where: str, name: str, value: str) -> None:
    if len(value) * 4 <= MAX_KEY_BYTES:
        return  # at most 4 bytes a character in UTF-8
    size = len(value.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        shown = f"{value[:40]!r}..."
        raise InvalidSessionError(
            f"{where}{name} {shown} is {size} bytes in UTF-8, over DynamoDB's {MAX_KEY_BYTES}-byte "
            f"key limit; nothing was sent"
        )


def check_session(session: Any) -> None:
    """A storable session: non-empty id and shop, UTF-8-encodable text, JSON ``extra`` values."""
    if not isinstance(session, Session):
        raise TypeError(f"expected a Session, got {type(session).__name__}")
    if not session.id:
        raise InvalidSessionError("session id must not be empty")
    _check_text("", "session id", session.id)
    _check_key_size("", "session id", session.id)
    if not session.shop:
        raise InvalidSessionError(f"{_where(session)}shop must not be empty")
    if not _encodable(session.shop):
        _check_text(_where(session), "shop", session.shop)
    _check_key_size(_where(session), "shop", session.shop)
    for name in ("state", "scope", "access_token", "refresh_token"):
        value = getattr(session, name)
        if value is not None and not _encodable(value):
            _check_value(_where(session), name, value)
    info = session.online_access_info
    if info is not None:
        _check_nested(session, "online_access_info", info)
        if info.associated_user is not None:
            _check_nested(session, "online_access_info.associated_user", info.associated_user)


def _where(session: Session) -> str:
    """How an error names the session (built only when there is an error to report)."""
    return f"session {session.id[:80]!r}: "


def _encodable(text: Any) -> bool:
    """Plain text: ASCII, or UTF-8-encodable (no lone surrogate). ``False`` for non-text."""
    if type(text) is not str:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_FIELDS: dict[type, tuple[str, ...]] = {}


def _check_nested(session: Session, path: str, obj: OnlineAccessInfo | AssociatedUser) -> None:
    names = _FIELDS.get(type(obj))
    if names is None:
        names = _FIELDS[type(obj)] = tuple(
            f.name for f in fields(obj) if f.name != "associated_user"
        )
    for name in names:
        value = getattr(obj, name)
        if value is None or type(value) in (bool, int) or _encodable(value):
            continue
        _check_value(_where(session), f"{path}.{name}", value)


def _check_value(where: str, path: str, value: Any) -> None:
    """Text must encode as UTF-8 (no lone surrogates); ``extra`` must hold JSON values."""
    if isinstance(value, str):
        _check_text(where, path, value)
    elif isinstance(value, dict):
        try:
            check_json_value(path, value)  # extra dicts can be changed after construction
        except (TypeError, ValueError) as error:
            raise InvalidSessionError(f"{where}{error}") from None
        for key, inner in value.items():
            _check_text(where, f"{path} key", key)
            _check_value(where, f"{path}[{key!r}]", inner)
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            _check_value(where, f"{path}[{position}]", inner)


def _check_text(where: str, path: str, text: str) -> None:
    if not _encodable(text):
        raise InvalidSessionError(
            f"{where}{path} is not valid UTF-8 text (it holds a lone surrogate)"
        )


def unique_ids(ids: Iterable[str]) -> list[str]:
    if isinstance(ids, str):
        raise TypeError("delete_sessions expects an iterable of ids, not a single str")
    unique = list(dict.fromkeys(ids))
    for id in unique:
        check_id(id)
    return unique


def check_expected(session: Session, expected: Session | None) -> None:
    """``expected`` (for a conditional store) must be a Session with the same id."""
    if expected is None:
        return
    check_session(expected)
    if expected.id != session.id:
        raise InvalidSessionError(f"expected is session {expected.id!r}, not {session.id!r}")
