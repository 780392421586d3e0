"""DynamoDB attribute values <-> JSON values, as ``@aws-sdk/util-dynamodb`` converts them.

Used for the plain JSON form of items and for the keys of ``onlineAccessInfo`` this package
keeps verbatim (``OnlineAccessInfo.extra``): numbers are written the way JavaScript prints
them, so an item Python re-stores is the item Node would re-store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shopify_sessions.domain._js import js_string

__all__ = ["attribute_value_to_json", "json_to_attribute_value"]


def attribute_value_to_json(value: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value (``{"S": "x"}``, ``{"N": "1"}``, ...) as a JSON value.

    Handles the types a session item holds: S, N (int when integral, else float), BOOL, M, L
    and NULL; others (B, SS, NS, BS) raise ``ValueError``.
    """
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValueError(f"not a DynamoDB attribute value: {type(value).__name__}")
    ((kind, data),) = value.items()
    if kind == "S":
        return str(data)
    if kind == "N":
        number = Decimal(str(data))
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(data)
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: attribute_value_to_json(inner) for key, inner in data.items()}
    if kind == "L":
        return [attribute_value_to_json(inner) for inner in data]
    raise ValueError(f"unsupported DynamoDB attribute type {kind!r}")


def json_to_attribute_value(value: Any) -> dict[str, Any]:
    """One JSON value as a DynamoDB attribute value (the inverse of the function above)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):  # before int: bool is an int in Python
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
        return {"N": js_string(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(key): json_to_attribute_value(inner) for key, inner in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [json_to_attribute_value(inner) for inner in value]}
    raise ValueError(f"not a JSON value: {type(value).__name__}")
