"""Column and property values as the storages wrote them -> Python values, checked.

Dates come in four encodings across Shopify's storages: epoch seconds (the SQLite and MySQL
adapters, and PostgreSQL's ``expires``), epoch milliseconds (PostgreSQL's
``refreshTokenExpires``, every property array in Redis and KV, Prisma's SQLite engine), native
date-times (Prisma and Drizzle on PostgreSQL and MySQL; naive, in UTC) and ISO-8601 text
(Drizzle on SQLite, Prisma's driver adapters on SQLite). Errors name the field, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from shopify_sessions.domain.flags import flag_from_text
from shopify_sessions.dynamodb.attributes import parse_iso_datetime

__all__ = [
    "EPOCH",
    "Unit",
    "as_bool",
    "as_user_id",
    "epoch_datetime",
    "epoch_ms_value",
    "lower_keys",
    "orm_datetime",
    "text_or_none",
]

Unit = Literal["s", "ms"]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# 10^11 s is the year 5138, 10^11 ms is March 1973: a value past it in a seconds column, or
# below it in a milliseconds column, was written in the other unit
_UNIT_LIMIT = 10**11
_SPACED_ZONE = re.compile(r"\s+([+-]\d{2}:?\d{2})$")


def lower_keys(row: Mapping[str, Any]) -> dict[str, Any]:
    """Column names compared case-insensitively, as Node's ``fromPropertyArray`` does (old
    tables have ``isonline``, ``accesstoken``)."""
    return {str(key).lower(): value for key, value in row.items()}


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{field!r} must be a number, got a boolean")
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, (str, bytes)):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"{field!r} must be a number")


def epoch_datetime(field: str, value: Any, unit: Unit) -> datetime | None:
    """Epoch ``unit`` -> UTC datetime; 0 and ``None`` are absent (Node treats them so).

    A value that only makes sense in the other unit is an error, not a date 1000 times off.
    """
    if value is None:
        return None
    number = _number(field, value)
    if number == 0:
        return None
    if unit == "s" and abs(number) >= _UNIT_LIMIT:
        raise ValueError(f"{field!r} is too large for epoch seconds (milliseconds?)")
    if unit == "ms" and abs(number) < _UNIT_LIMIT:
        raise ValueError(f"{field!r} is too small for epoch milliseconds (seconds?)")
    millis = number * 1000 if unit == "s" else number
    try:
        return EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        raise ValueError(f"{field!r} is out of range") from None


def epoch_ms_value(field: str, value: Any, unit: Unit) -> int | None:
    """Epoch ``unit`` -> epoch milliseconds for a property array (checked as above)."""
    moment = epoch_datetime(field, value, unit)
    return None if moment is None else (moment - EPOCH) // timedelta(milliseconds=1)


def orm_datetime(field: str, value: Any) -> datetime | None:
    """A Prisma / Drizzle date-time in whatever encoding the driver used.

    Native values (naive ones are UTC: both ORMs write UTC), epoch milliseconds as a number
    or digits (Prisma's SQLite engine), or ISO-8601 text with ``T`` or a space, any fraction,
    ``Z``, an offset or none (UTC).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, bytes):
        value = text_or_none(field, value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return epoch_datetime(field, value, "ms")
    if isinstance(value, str):
        try:  # "2024-01-01 00:00:00 +00:00": a space before the offset (SQLite defaults)
            return parse_iso_datetime(_SPACED_ZONE.sub(r"\1", value.strip()))
        except ValueError:
            raise ValueError(f"{field!r} is not a date-time") from None
    raise ValueError(f"{field!r} is not a date-time (got {type(value).__name__})")


def as_bool(field: str, value: Any) -> bool | None:
    """Booleans as every driver returns them: bool, 0/1, 't'/'f', 'true'/'false'."""
    if value is None or isinstance(value, bool):
        return None if value is None else bool(value)
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, bytes) and value in (b"\x00", b"\x01"):  # MySQL BIT(1)
        return value == b"\x01"
    flag = flag_from_text(value) if isinstance(value, str) else None
    if flag is not None:
        return flag
    raise ValueError(f"{field!r} must be a boolean")


def as_user_id(field: str, value: Any) -> int | None:
    """A Shopify user id: an integer, digits (PostgreSQL BIGINT via some drivers), or a blob of
    ASCII digits (Drizzle's SQLite ``blob('userId', {mode: 'bigint'})``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field!r} must be an integer")
    if isinstance(value, bytes):
        value = text_or_none(field, value)
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise ValueError(f"{field!r} must be an integer")
        return int(value)
    if isinstance(value, (int, Decimal)) and value == int(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{field!r} must be an integer")


def text_or_none(field: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{field!r} is not UTF-8 text") from None
    raise ValueError(f"{field!r} must be text, got {type(value).__name__}")
