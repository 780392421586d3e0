"""Dates as JavaScript reads them: ``new Date(ms)`` and ``new Date(string)`` in Node (V8).

The Node adapter reads a stored date with ``new Date(value)`` and ``fromPropertyArray`` with
``new Date(Number(value))``, so Python reads the same values to the same instant: epoch
milliseconds truncated toward zero, the ECMAScript date-time format as V8 accepts it (any year
form, ``24:00``, day overflow into the next month, any fraction length), and the common forms
of V8's fallback parser (``YYYY-MM-DD HH:MM``, RFC 2822 / ``toUTCString()``, ``toString()``).
A date-time without an offset is UTC here; Node takes the host's time zone (UTC on Lambda).

Errors are ``ValueError``: :class:`DateRangeError` for valid JavaScript dates that Python's
``datetime`` cannot hold (before year 1 or after 9999), never a raw ``OverflowError``.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import datetime, timedelta, timezone

__all__ = ["DateRangeError", "date_from_epoch_ms", "epoch_ms", "parse_js_date"]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JS_LIMIT_MS = 8.64e15  # ECMAScript TimeClip: |t| <= 8.64e15 ms, else an Invalid Date
_MIN_MS = (datetime(1, 1, 1, tzinfo=timezone.utc) - EPOCH) // timedelta(milliseconds=1)
_MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - EPOCH) // timedelta(
    milliseconds=1
)
_DAY_MS = 86_400_000

_ZONE = r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})"
_ISO = (
    r"(?P<year>[+-]\d{6}|\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
    r"(?:[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?)?"
    rf"{_ZONE}?",
    0,
)
_LEGACY_ZONE = r"(?:\s+(?:GMT|UTC|UT)|\s*Z)?(?:\s*(?P<zone>[+-]\d{2}(?::?\d{2})?))?"
_TIME = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
_SPACED = (
    rf"(?P<year>[1-9]\d{{3}})-(?P<month>\d{{2}})-(?P<day>\d{{2}}) +{_TIME}{_LEGACY_ZONE}?",
    0,
)
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)"
_MONTH = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_RFC2822 = (
    rf"{_WEEKDAY}?(?P<day>\d{{1,2}})\s+{_MONTH}\s+(?P<year>[1-9]\d{{3}})"
    rf"(?:\s+{_TIME}{_LEGACY_ZONE}?)?",
    re.IGNORECASE,
)
_TO_STRING = (
    rf"{_WEEKDAY}?{_MONTH}\s+(?P<day>\d{{1,2}})\s+(?P<year>[1-9]\d{{3}})"
    rf"(?:\s+{_TIME}{_LEGACY_ZONE}?)?(?:\s+\([^()]*\))?",
    re.IGNORECASE,
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class DateRangeError(ValueError):
    """A valid JavaScript date outside what Python's ``datetime`` can hold (years 1-9999)."""


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch, what ``Date.getTime()`` gives."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def date_from_epoch_ms(ms: float) -> datetime:
    """``new Date(ms)``: truncated toward zero; ``ValueError`` where JavaScript has no date."""
    if math.isnan(ms) or abs(ms) > _JS_LIMIT_MS:
        raise ValueError("is not a valid date (epoch milliseconds out of JavaScript's range)")
    whole = math.trunc(ms)
    if not _MIN_MS <= whole <= _MAX_MS:
        raise DateRangeError(f"is out of range (epoch ms {whole}: years 1 to 9999 only)")
    return EPOCH + timedelta(milliseconds=whole)


def parse_js_date(text: str) -> datetime:
    """``new Date(text)`` for the forms described in the module docstring, UTC."""
    if _is_canonical(text):
        try:  # a valid date in this form means the same to both; others take the long way
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    for pattern in _patterns():
        match = pattern.fullmatch(text)
        if match is not None:
            ms = _to_ms(match.groupdict())
            if ms is not None:
                return date_from_epoch_ms(ms)
            break
    raise ValueError(f"is not a date JavaScript can read: {text[:40]!r}")


def _is_canonical(text: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` in ASCII digits: what ``toISOString()`` writes, and so
    nearly every stored date (Node's and ours)."""
    return (
        len(text) == 24
        and text[4] == text[7] == "-"
        and text[10] == "T"
        and text[13] == text[16] == ":"
        and text[19] == "."
        and text[23] == "Z"
        and text.isascii()
        and (
            text[:4]
            + text[5:7]
            + text[8:10]
            + text[11:13]
            + text[14:16]
            + text[17:19]
            + text[20:23]
        ).isdigit()
    )


@functools.cache
def _patterns() -> tuple[re.Pattern[str], ...]:
    """The forms, compiled at the first date not in the canonical form (2 ms at import)."""
    return tuple(re.compile(text, flags) for text, flags in (_ISO, _SPACED, _RFC2822, _TO_STRING))


def _to_ms(parts: dict[str, str | None]) -> float | None:
    """Epoch ms of matched parts, or ``None`` when a field is out of bounds (an Invalid Date)."""
    year_text = parts["year"] or ""
    if year_text == "-000000":
        return None
    year = int(year_text)
    if parts.get("mon"):
        month = _MONTHS.index((parts["mon"] or "").lower()[:3]) + 1
    else:
        month = int(parts.get("month") or 1)
    day = int(parts["day"] or 1)
    hour, minute = int(parts["hour"] or 0), int(parts["minute"] or 0)
    second = int(parts["second"] or 0)
    millis = int((parts["fraction"] or "0")[:3].ljust(3, "0"))
    if not (1 <= month <= 12 and 1 <= day <= 31 and minute <= 59 and second <= 59):
        return None
    if hour > 24 or (hour == 24 and (minute or second or millis)):
        return None
    offset = _offset_minutes(parts.get("zone"))
    if offset is None:
        return None
    days = _days_from_civil(year, month, 1) + day - 1
    return float(days * _DAY_MS + ((hour * 60 + minute - offset) * 60 + second) * 1000 + millis)


def _offset_minutes(zone: str | None) -> int | None:
    if not zone or zone in "Zz":
        return 0
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        return None
    total = hours * 60 + minutes
    return -total if zone[0] == "-" else total


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any year (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400  # floor division: no C-style correction for negative years
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
