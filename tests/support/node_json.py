"""``Session`` <-> the Node adapter's plain-JSON form (what crosses the adapter_cli pipe).

The plain-JSON form is the Node item unmarshalled: camelCase keys, dates as ISO-8601 strings,
absent fields absent. Both directions go through the package's own item codec
(``session_to_item`` / ``item_to_session``) and boto3's type (de)serializer, never a
hand-written copy of the format, so a drift in our item format shows up as a difference from
what the real Node adapter writes and reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from shopify_sessions import Session
from shopify_sessions.codec import item_to_session, session_to_item

__all__ = ["node_json_to_session", "session_to_node_json"]

_DESERIALIZER = TypeDeserializer()
_SERIALIZER = TypeSerializer()


def session_to_node_json(session: Session) -> dict[str, Any]:
    """The plain JSON of the item our package writes for ``session``."""
    item = session_to_item(session)
    return {name: _to_json(_DESERIALIZER.deserialize(value)) for name, value in item.items()}


def node_json_to_session(obj: Mapping[str, Any]) -> Session:
    """The ``Session`` our package reads from the item whose plain JSON is ``obj``."""
    item = {name: _SERIALIZER.serialize(_to_dynamo(value)) for name, value in obj.items()}
    return item_to_session(item)


def _to_json(value: Any) -> Any:
    """boto3's Python values -> JSON values (``Decimal`` -> int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _to_json(inner) for key, inner in value.items()}
    if isinstance(value, (list, set)):
        return [_to_json(inner) for inner in value]
    return value


def _to_dynamo(value: Any) -> Any:
    """JSON values -> values boto3's serializer takes (it refuses floats)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(inner) for inner in value]
    return value
