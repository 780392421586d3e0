"""DynamoDB's documented limits on an item, checked before it is sent.

A session DynamoDB would refuse must fail alone, with a message naming the attribute, and
before any request: sent in a batch, it would fail the 24 sessions sharing its BatchWriteItem.
Checked here, once for the blocking and the async storages: the item size (400 KB, see
:mod:`.item_size`); numbers of at most 38 significant digits, zero or of magnitude between
1E-130 and 9.99...E+125; maps and lists nested at most 32 levels deep; attribute names (map
keys) of 1 byte to 64 KB; no empty set; NULL only as ``true``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from shopify_sessions.errors import InvalidSessionError

from .item_size import MAX_ITEM_BYTES, item_size

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_NESTING",
    "MAX_NUMBER_DIGITS",
    "check_item",
]

MAX_NUMBER_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125  # of a number's leading digit: 1E-130 .. 9.9E+125
MAX_NESTING = 32  # levels of maps and lists, a top-level map or list being the first
MAX_NAME_BYTES = 65535
_SETS = frozenset({"SS", "NS", "BS"})
_PLAIN = frozenset({"S", "BOOL", "B"})  # nothing to check beyond the item size
_SURELY_SHORT_NAME = MAX_NAME_BYTES // 4  # characters: at most 4 bytes each in UTF-8


def check_item(item: dict[str, Any], session_id: str) -> None:
    """Raise ``InvalidSessionError`` naming the attribute when DynamoDB would refuse ``item``."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise InvalidSessionError(
            f"session {session_id!r} is {size} bytes as a DynamoDB item, over the "
            f"{MAX_ITEM_BYTES}-byte limit (400 KB); nothing was written"
        )
    for name, value in item.items():
        if "S" in value or "BOOL" in value:
            continue  # most attributes: nothing to check
        problem = _problem(value, 0)
        if problem is not None:
            path, reason = problem
            raise InvalidSessionError(
                f"session {session_id!r}: attribute {name}{path} {reason}, which DynamoDB "
                f"refuses; nothing was written"
            )


def _problem(value: dict[str, Any], depth: int) -> tuple[str, str] | None:
    """``(path below value, reason)`` of the first thing DynamoDB refuses, or ``None``."""
    ((kind, data),) = value.items()
    if kind in _PLAIN:
        return None
    if kind == "N":
        reason = _number_problem(str(data))
        return None if reason is None else ("", reason)
    if kind == "M" or kind == "L":
        if depth >= MAX_NESTING:
            return "", f"nests maps and lists deeper than DynamoDB's {MAX_NESTING} levels"
        if kind == "L":
            for position, inner in enumerate(data):
                problem = _problem(inner, depth + 1)
                if problem is not None:
                    return f"[{position}]{problem[0]}", problem[1]
            return None
        for key, inner in data.items():
            if not key or len(key) > _SURELY_SHORT_NAME:
                reason = _name_problem(key)
                if reason is not None:
                    return f".{key[:40]}", reason
            if "S" in inner or "BOOL" in inner:
                continue  # most values: nothing to check, no call
            problem = _problem(inner, depth + 1)
            if problem is not None:
                return f".{key}{problem[0]}", problem[1]
        return None
    if kind in _SETS and not data:
        return "", "is an empty set"
    if kind == "NULL" and data is not True:
        return "", "is a NULL that is not true"
    return None


def _name_problem(name: str) -> str | None:
    if not name:
        return "has an empty attribute name (DynamoDB names are 1 byte to 64 KB)"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"has an attribute name over DynamoDB's {MAX_NAME_BYTES}-byte limit"
    return None


def _number_problem(text: str) -> str | None:
    """Why DynamoDB refuses the number ``text`` (as dynalite checks it), or ``None``."""
    digits = text.lstrip("-")
    if digits.isdigit() and len(digits) <= MAX_NUMBER_DIGITS:
        return None  # the common case: an integer of at most 38 digits
    try:
        number = Decimal(text)
    except InvalidOperation:
        return "is not a number"
    if not number.is_finite():
        return "is not a finite number"
    if not number:
        return None
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(significant) > MAX_NUMBER_DIGITS:
        return (
            f"is a number of {len(significant)} significant digits, over DynamoDB's "
            f"{MAX_NUMBER_DIGITS} significant digits"
        )
    exponent = number.adjusted()
    if not MIN_EXPONENT <= exponent <= MAX_EXPONENT:
        return (
            f"is a number of magnitude 1E{exponent:+d}, outside DynamoDB's range "
            f"(magnitude 1E-130 to 9.99E+125)"
        )
    return None
