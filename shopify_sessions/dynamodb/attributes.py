"""PynamoDB attributes for the Node adapter's item format."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import STRING

from shopify_sessions.domain._jsdate import parse_js_date
from shopify_sessions.domain.session import normalize_datetime

__all__ = ["NodeDateTimeAttribute", "format_node_datetime", "parse_iso_datetime"]

_ISO = (  # compiled at first use
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<fraction>\d+))?(?P<zone>Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


_FROMISO_TAKES_Z = sys.version_info >= (3, 11)


def format_node_datetime(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, what JavaScript's ``Date.toISOString()`` writes."""
    v = normalize_datetime(value)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond // 1000:03d}Z"
    )


def parse_iso_datetime(text: str) -> datetime:
    """Parse ISO-8601 with ``Z``, an offset or none (taken as UTC), any fraction length.

    Works the same on Python 3.10, whose ``fromisoformat`` rejects ``Z`` and odd fractions.
    """
    if _FROMISO_TAKES_Z and len(text) == 24 and text[23] == "Z":  # the Node form: fast path
        try:
            return datetime.fromisoformat(text)  # already UTC with milliseconds
        except ValueError:
            pass
    match = re.match(_ISO, text.strip())
    if match is None:
        raise ValueError(f"not an ISO-8601 date-time: {text[:40]!r}")
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    zone = match["zone"] or "+00:00"
    if zone in ("Z", "z"):
        zone = "+00:00"
    elif len(zone) == 3:
        zone += ":00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    clock = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{clock}.{fraction}{zone}")
        return normalize_datetime(parsed.astimezone(timezone.utc))
    except OverflowError:
        raise ValueError(f"date-time out of range (years 1 to 9999): {text[:40]!r}") from None


class NodeDateTimeAttribute(Attribute[datetime]):
    """A date stored as the Node adapter stores it: an ISO-8601 string in UTC, milliseconds.

    Reads every string form ``new Date(string)`` reads in Node (see ``_jsdate``).
    """

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return format_node_datetime(value)

    def deserialize(self, value: Any) -> datetime:
        try:
            return parse_js_date(value)
        except (TypeError, ValueError) as error:
            # name the attribute: PynamoDB's from_raw_data does not say which one failed
            raise ValueError(f"'{self.attr_name}' attribute: {error}") from None
