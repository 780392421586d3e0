"""The pass-through serializer and parser (``dynamodb/wire.py``) give exactly botocore's result."""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from shopify_sessions.dynamodb.wire import plain, speed_up

_MODEL = botocore.session.get_session().get_service_model("dynamodb")
names = st.text(max_size=8)
scalars = st.one_of(
    st.builds(lambda v: {"S": v}, st.text(max_size=10)),
    st.builds(lambda v: {"N": v}, st.sampled_from(["0", "-1.5", "12345678901234567890"])),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=5), max_size=3)),
    st.builds(lambda v: {"NS": v}, st.lists(st.sampled_from(["1", "2.5"]), max_size=3)),
    st.builds(lambda v: {"B": v}, st.binary(max_size=6)),
    st.builds(lambda v: {"BS": v}, st.lists(st.binary(max_size=4), max_size=2)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda v: {"M": v}, st.dictionaries(names, inner, max_size=4)),
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=4)),
    ),
    max_leaves=12,
)
items = st.dictionaries(names, values, min_size=1, max_size=6)


def _client(validated: bool) -> Any:
    """A client as the async storage makes it (no parameter validation) or PynamoDB does."""
    client = botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(parameter_validation=validated),
    )
    assert speed_up(client), "botocore moved the serializer or the parser: nothing passes through"
    return client


_STOCK = create_serializer("json", include_validation=False)
_CLIENT = _client(validated=False)


def _wire_json(value: Any) -> Any:
    """The response body DynamoDB sends for ``value`` (binary as base64)."""

    def encode(node: Any) -> Any:
        if isinstance(node, bytes):
            return base64.b64encode(node).decode()
        if isinstance(node, dict):
            return {key: encode(inner) for key, inner in node.items()}
        if isinstance(node, list):
            return [encode(inner) for inner in node]
        return node

    return encode(value)


@settings(max_examples=150, deadline=None)
@given(batch=st.lists(items, max_size=4))
def test_serialized_requests_are_botocores(batch: list[dict[str, Any]]) -> None:
    requests = [
        ("PutItem", {"TableName": "t", "Item": batch[0] if batch else {"id": {"S": "x"}}}),
        ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": i}} for i in batch]}}),
        ("BatchGetItem", {"RequestItems": {"t": {"Keys": batch, "ConsistentRead": True}}}),
    ]
    for action, params in requests:
        operation = _MODEL.operation_model(action)
        ours = _CLIENT._serializer.serialize_to_request(params, operation)
        assert json.loads(ours["body"]) == json.loads(
            _STOCK.serialize_to_request(params, operation)["body"]
        )


@settings(max_examples=150, deadline=None)
@given(found=st.lists(items, max_size=4), odd=st.sampled_from([None, {"X": "1"}, {"S": None}]))
def test_parsed_responses_are_botocores(found: list[dict[str, Any]], odd: Any) -> None:
    if odd is not None and found:
        found[0]["odd"] = odd  # unknown member, JSON null: botocore's own path
    body = json.dumps(_wire_json({"Responses": {"t": found}, "UnprocessedKeys": {}})).encode()
    response = {"body": body, "headers": {}, "status_code": 200}
    shape = _MODEL.operation_model("BatchGetItem").output_shape
    parser = _CLIENT._endpoint._response_parser_factory.create_parser("json")
    assert type(parser).__name__.startswith("Passing")
    assert parser.parse(response, shape) == create_parser("json").parse(response, shape)


@pytest.mark.parametrize(
    ("value", "passes"),
    [
        ({"S": "x"}, True),
        ({"M": {"a": {"L": [{"N": "1"}, {"NULL": True}]}}}, True),
        ({"B": b"x"}, False),
        ({"M": {"a": {"BS": [b"x"]}}}, False),
        ({"S": "x", "N": "1"}, False),
        ({"S": None}, False),
        ({"SS": ["a", None]}, False),
        ({"Q": "x"}, False),
    ],
)
def test_plain(value: Any, passes: bool) -> None:
    assert plain(value) is passes


@pytest.mark.parametrize("validated", [False, True])
def test_speed_up_reaches_the_serializer_and_parser(validated: bool) -> None:
    client = _client(validated)
    assert speed_up(client)  # twice: nothing wrapped twice
    serializer = client._serializer
    serializer = getattr(serializer, "_serializer", serializer)
    assert [c.__name__ for c in type(serializer).__mro__[:3]] == [
        "PassingJSONSerializer",
        "_PassingSerializer",
        "JSONSerializer",
    ]
    factory = client._endpoint._response_parser_factory
    assert type(factory).__name__ == "_ParserFactory"
    assert type(factory._factory).__name__ == "ResponseParserFactory"
    item = {"id": {"S": "x"}, "b": {"B": b"\x00"}, "m": {"M": {"n": {"N": "1"}}}}
    body = client._serializer.serialize_to_request(
        {"TableName": "sessions", "Item": item}, _MODEL.operation_model("PutItem")
    )["body"]
    assert json.loads(body)["Item"] == {"id": {"S": "x"}, "b": {"B": "AA=="}, "m": item["m"]}
