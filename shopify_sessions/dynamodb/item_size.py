"""DynamoDB's item size rule, to refuse an oversized session before sending it.

Sizes follow DynamoDB's documented accounting: attribute names and string values by their UTF-8
length, numbers by about one byte per two significant digits plus one, booleans and nulls one
byte, and maps and lists three bytes plus one per element on top of their contents.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_ITEM_BYTES", "item_size"]

MAX_ITEM_BYTES = 400 * 1024


def item_size(item: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for an item in attribute-value JSON (``{"id": {"S": ...}}``)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    return len(str(data).encode())  # sets: not written by this package
