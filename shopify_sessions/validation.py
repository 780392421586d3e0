"""Input checks shared by every storage: bad input is refused before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import InvalidSessionError
from .session import Session

__all__ = ["check_expected", "check_id", "check_session", "check_shop", "unique_ids"]


def check_id(id: Any, *, allow_empty: bool = False) -> None:
    if not isinstance(id, str):
        raise TypeError(f"session id must be a str, got {type(id).__name__}")
    if not id and not allow_empty:
        raise InvalidSessionError("session id must not be empty")


def check_shop(shop: Any) -> None:
    if not isinstance(shop, str):
        raise TypeError(f"shop must be a str, got {type(shop).__name__}")
    if not shop:
        raise InvalidSessionError("shop must not be empty")


def check_session(session: Any) -> None:
    if not isinstance(session, Session):
        raise TypeError(f"expected a Session, got {type(session).__name__}")
    if not session.id:
        raise InvalidSessionError("session id must not be empty")
    if not session.shop:
        raise InvalidSessionError(f"session {session.id!r}: shop must not be empty")


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
