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
    return _map_size(item)


def _text_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _map_size(values: dict[str, Any]) -> int:
    size = 0
    for name, value in values.items():
        size += len(name) if name.isascii() else len(name.encode())
        text = value.get("S") if len(value) == 1 else None
        if type(text) is str:  # most values: text, counted without unpacking the value
            size += _text_size(text)
        else:
            size += _value_size(value)
    return size


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return _text_size(str(data))
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + len(data) + _map_size(data)
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    return _text_size(str(data))  # sets: not written by this package
