"""The loopback DynamoDB proxy: counting on the wire, and each kind of injected fault."""

from __future__ import annotations

import http.client
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.conftest import raw_dynamodb_client
from tests.support.proxy import DynamoProxy, Fault, unprocess_items, unprocess_keys

SIGV4_STUB = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})  # max_attempts=1 still retries once


@pytest.fixture
def proxy(moto_server_endpoint: str) -> Iterator[DynamoProxy]:
    with DynamoProxy(moto_server_endpoint) as proxy:
        yield proxy


def client(proxy: DynamoProxy, config: Config = ONE_ATTEMPT) -> Any:
    return boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=proxy.endpoint, config=config
    )


@pytest.fixture
def table(moto_server_endpoint: str) -> Iterator[str]:
    name = f"proxy_{uuid.uuid4().hex[:12]}"
    direct = raw_dynamodb_client(moto_server_endpoint)
    direct.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    direct.delete_table(TableName=name)


def key(id: str) -> dict[str, Any]:
    return {"id": {"S": id}}


def item(id: str) -> dict[str, Any]:
    return {**key(id), "shop": {"S": "shop1.myshopify.com"}}


def stored(proxy: DynamoProxy, table: str, id: str) -> bool:
    proxy.faults = None
    return "Item" in client(proxy).get_item(TableName=table, Key=key(id), ConsistentRead=True)


def test_counts_requests_by_operation_and_resets(proxy: DynamoProxy, table: str) -> None:
    dynamodb = client(proxy)
    dynamodb.put_item(TableName=table, Item=item("a"))
    dynamodb.get_item(TableName=table, Key=key("a"))
    dynamodb.get_item(TableName=table, Key=key("b"))
    dynamodb.batch_get_item(RequestItems={table: {"Keys": [key("a")]}})
    assert proxy.counts == {"PutItem": 1, "GetItem": 2, "BatchGetItem": 1}
    assert proxy.total == 4
    proxy.reset()
    assert proxy.counts == {} and proxy.total == 0


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Fault.throttle(), 400, "ProvisionedThroughputExceededException"),
        (Fault.server_error(), 500, "InternalServerError"),
    ],
)
def test_error_fault_is_answered_without_forwarding(
    proxy: DynamoProxy, table: str, fault: Fault, status: int, code: str
) -> None:
    seen: list[tuple[str, int]] = []

    def hook(operation: str, body: bytes, attempt: int) -> Fault | None:
        seen.append((operation, attempt))
        return fault if operation == "PutItem" else None

    proxy.faults = hook
    with pytest.raises(ClientError) as raised:
        client(proxy).put_item(TableName=table, Item=item("a"))
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert seen == [("PutItem", 1)]
    assert not stored(proxy, table, "a")


def test_attempt_number_counts_retries_of_the_same_request(proxy: DynamoProxy, table: str) -> None:
    attempts: list[int] = []

    def hook(operation: str, body: bytes, attempt: int) -> Fault | None:
        attempts.append(attempt)
        return Fault.throttle() if attempt == 1 else None

    proxy.faults = hook
    retrying = Config(retries={"max_attempts": 2, "mode": "legacy"})
    client(proxy, retrying).put_item(TableName=table, Item=item("a"))
    assert attempts == [1, 2]
    assert proxy.counts["PutItem"] == 2
    assert stored(proxy, table, "a")


@pytest.mark.parametrize("after_forward", [False, True])
def test_dropped_connection(proxy: DynamoProxy, table: str, after_forward: bool) -> None:
    proxy.faults = lambda operation, body, attempt: Fault.drop_connection(after_forward)
    with pytest.raises(ConnectionClosedError):
        client(proxy).put_item(TableName=table, Item=item("a"))
    assert stored(proxy, table, "a") is after_forward


def test_rewrite_moves_keys_to_unprocessed_keys(proxy: DynamoProxy, table: str) -> None:
    dynamodb = client(proxy)
    for id in ("a", "b", "c"):
        dynamodb.put_item(TableName=table, Item=item(id))
    proxy.faults = lambda operation, body, attempt: (
        Fault.rewrite_response(unprocess_keys(1)) if operation == "BatchGetItem" else None
    )
    keys = [key("a"), key("b"), key("c")]
    response = dynamodb.batch_get_item(
        RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
    )  # botocore checks x-amz-crc32: it must match the rewritten body
    found = response["Responses"][table]
    unprocessed = response["UnprocessedKeys"][table]
    assert len(found) == 2 and len(unprocessed["Keys"]) == 1
    assert unprocessed["ConsistentRead"] is True
    assert sorted([i["id"]["S"] for i in found] + [k["id"]["S"] for k in unprocessed["Keys"]]) == [
        "a",
        "b",
        "c",
    ]


def test_rewrite_claims_unprocessed_items(proxy: DynamoProxy, table: str) -> None:
    proxy.faults = lambda operation, body, attempt: (
        Fault.rewrite_response(unprocess_items(2)) if operation == "BatchWriteItem" else None
    )
    writes = [{"PutRequest": {"Item": item(id)}} for id in ("a", "b", "c")]
    response = client(proxy).batch_write_item(RequestItems={table: writes})
    assert response["UnprocessedItems"] == {table: writes[1:]}
    assert all(stored(proxy, table, id) for id in ("a", "b", "c"))  # applied all the same


def test_rewritten_body_has_matching_length_and_crc32(proxy: DynamoProxy, table: str) -> None:
    proxy.faults = lambda operation, body, attempt: Fault.rewrite_response(
        lambda request, response: {**response, "Rewritten": True}
    )
    host, port = proxy.endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for _ in range(2):  # twice on one connection: keep-alive works
            connection.request(
                "POST",
                "/",
                json.dumps({"TableName": table}),
                {
                    "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
                    "Content-Type": "application/x-amz-json-1.0",
                    "Authorization": SIGV4_STUB,  # moto routes by the credential scope
                },
            )
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200
            assert json.loads(body)["Rewritten"] is True
            assert int(response.headers["Content-Length"]) == len(body)
            assert int(response.headers["x-amz-crc32"]) == zlib.crc32(body)
    finally:
        connection.close()
    assert proxy.counts == {"DescribeTable": 2}
