"""DynamoDB attribute values through botocore's JSON protocol without the walk per value.

botocore serializes and parses every request and response by walking its service model, one
method call per attribute value: a BatchGetItem of 100 sessions takes 3.9 ms to parse, against
0.3 ms for its JSON; a BatchWriteItem of 25 takes 0.57 ms to serialize, against 0.17 ms. Yet an
attribute value is the same in Python and on the wire unless it holds binary (base64 on the
wire). So for a client given to :func:`speed_up`, its serializer and parser hand over
attribute-value maps as they are when :func:`plain` says so, and leave everything else
(binary, nulls, unknown members, every other shape) to botocore's own path: the result is
always what botocore gives (a hypothesis test holds them equal). Their parser also refuses a
successful answer whose body is not a JSON object (an HTML page from a proxy or captive
portal), which botocore would read as an empty answer: "no session".
"""

from __future__ import annotations

from typing import Any

from botocore.parsers import JSONParser, ResponseParserError
from botocore.serialize import JSONSerializer

__all__ = ["plain", "speed_up"]

_TEXT = frozenset({"S", "N"})
_FLAGS = frozenset({"BOOL", "NULL"})
_TEXT_SETS = frozenset({"SS", "NS"})


def plain(value: Any) -> bool:
    """An attribute value botocore would pass through unchanged: no binary, nothing odd."""
    if type(value) is not dict or len(value) != 1:
        return False
    for kind, inner in value.items():
        if kind in _TEXT:
            return type(inner) is str
        if kind in _FLAGS:
            return type(inner) is bool
        if kind in _TEXT_SETS:
            return type(inner) is list and all(type(each) is str for each in inner)
        if kind == "M":
            return _plain_map(inner)
        if kind == "L":
            return type(inner) is list and all(plain(each) for each in inner)
    return False


def _plain_map(values: Any) -> bool:
    return type(values) is dict and all(
        type(key) is str and plain(value) for key, value in values.items()
    )


def _passes_through(shape: Any, value: Any) -> bool:
    """An attribute value, or a map of them (an item, a key), that needs no walk."""
    if shape.name == "AttributeValue":
        return plain(value)
    return shape.type_name == "map" and shape.value.name == "AttributeValue" and _plain_map(value)


class _PassingParser:
    """Mixed into botocore's (or aiobotocore's) JSON parser class."""

    def _do_parse(self, response: Any, shape: Any) -> Any:
        """A success's body must be a JSON object, as every DynamoDB answer is."""
        body = response.get("body")
        if isinstance(body, bytes) and not body.lstrip().startswith(b"{"):
            kind = response.get("headers", {}).get("content-type", "no content type")
            raise ResponseParserError(
                f"a {response.get('status_code')} answer whose body is not JSON ({kind}, "
                f"{len(body)} bytes): the endpoint is not DynamoDB or something in between "
                f"answered"
            )
        return super()._do_parse(response, shape)  # type: ignore[misc]

    def _parse_shape(self, shape: Any, node: Any) -> Any:
        if _passes_through(shape, node):
            return node  # fresh from json.loads: nobody else holds it
        return super()._parse_shape(shape, node)  # type: ignore[misc]


class _PassingSerializer:
    """Mixed into botocore's JSON serializer class."""

    def _serialize(self, serialized: Any, value: Any, shape: Any, key: Any = None) -> None:
        if key is not None and _passes_through(shape, value):
            serialized[key] = value  # only read, by json.dumps, before the call returns
            return
        super()._serialize(serialized, value, shape, key)  # type: ignore[misc]


_made: dict[tuple[type, type], type] = {}


def _passing(cls: type, mixin: type) -> type:
    """``cls`` with ``mixin`` in front, made once per pair."""
    made = _made.get((cls, mixin))
    if made is None:
        made = _made[(cls, mixin)] = type(f"Passing{cls.__name__}", (mixin, cls), {})
    return made


class _ParserFactory:
    """Wraps an endpoint's parser factory: its JSON parsers pass plain values through."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory

    def create_parser(self, protocol_name: str) -> Any:
        parser = self._factory.create_parser(protocol_name)
        if isinstance(parser, JSONParser):
            parser.__class__ = _passing(type(parser), _PassingParser)
        return parser

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory, name)


def speed_up(client: Any) -> bool:
    """Make a botocore or aiobotocore DynamoDB client pass plain attribute values through.

    Returns whether both the serializer and the parser could be reached (botocore keeps them
    as private attributes: a botocore that moved them leaves the client as it was, slower but
    correct; a test notices).
    """
    serializer = getattr(client, "_serializer", None)
    serializer = getattr(serializer, "_serializer", serializer)  # inside parameter validation
    endpoint = getattr(client, "_endpoint", None)
    factory = getattr(endpoint, "_response_parser_factory", None)
    if not isinstance(serializer, JSONSerializer) or factory is None:
        return False
    if not isinstance(factory, _ParserFactory):
        endpoint._response_parser_factory = _ParserFactory(factory)  # type: ignore[union-attr]
    if not isinstance(serializer, _PassingSerializer):
        serializer.__class__ = _passing(type(serializer), _PassingSerializer)
    return True
