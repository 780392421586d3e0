"""The local endpoint serves local programs only, DynamoDB only, and keeps its --data file
current: sessions, what their items carry besides (a dead grant's mark), and every other table.

Requests are shaped as a browser would send them (CORS preflight, an ``Origin`` on a POST,
a rebinding ``Host``), or as another AWS service's client would, over real HTTP with httpx.
Restarts run the real CLI (``serve-local``) as a process of its own.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopify_sessions import DynamoDBSessionStorage, ReauthorizationRequiredError
from shopify_sessions.local.endpoint import LOCAL_CREDENTIALS, LocalEndpoint
from shopify_sessions.testing import FakeShopify
from shopify_sessions.tokens.lease_protocol import DEAD_REFRESH_TOKEN
from tests.support.cli_process import serve_local, stop_serving
from tests.support.dynalite import free_port
from tests.support.factories import offline
from tests.support.tokens import SHOP, installed, refresher

LIST_TABLES = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request",
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalEndpoint]:
    with LocalEndpoint(port=0) as running:
        yield running


def test_a_cors_preflight_from_a_page_is_refused(endpoint: LocalEndpoint) -> None:
    answer = httpx.options(
        endpoint.url,
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-amz-target,content-type",
        },
    )
    assert answer.status_code == 403
    assert not any(name.lower().startswith("access-control") for name in answer.headers)


def test_a_post_from_a_page_is_refused(endpoint: LocalEndpoint) -> None:
    for origin in ("https://evil.example", "null", "http://127.0.0.1:3000"):
        answer = httpx.post(endpoint.url, headers={**LIST_TABLES, "Origin": origin}, content="{}")
        assert answer.status_code == 403, origin
        assert b"TableNames" not in answer.content


def test_moto_api_is_not_served(endpoint: LocalEndpoint) -> None:
    storage = endpoint.storage()
    storage.store_session(offline())
    for method, path in (
        ("GET", "/moto-api/data.json"),
        ("POST", "/moto-api/reset"),
        ("GET", "/moto-api/"),
        ("GET", "/"),
    ):
        answer = httpx.request(method, endpoint.url + path)
        assert answer.status_code == 404, path
        assert b"shpat" not in answer.content
    assert storage.load_session(offline().id) == offline()  # nothing was reset


def test_a_rebinding_host_is_refused(endpoint: LocalEndpoint) -> None:
    answer = httpx.post(
        endpoint.url, headers={**LIST_TABLES, "Host": "attacker.example:80"}, content="{}"
    )
    assert answer.status_code == 403
    plain = httpx.post(endpoint.url, headers=LIST_TABLES, content="{}")
    assert plain.status_code == 200 and "TableNames" in plain.json()


def _scope(service: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/{service}/aws4_request, " + (
        "SignedHeaders=host;x-amz-target, Signature=0"
    )


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        ({"X-Amz-Target": "AmazonSQS.ListQueues"}, "UnknownOperationException", "AmazonSQS"),
        (
            {"X-Amz-Target": "DynamoDBStreams_20120810.ListStreams"},
            "UnknownOperationException",
            "DynamoDBStreams",
        ),
        ({"Authorization": _scope("sqs")}, "InvalidSignatureException", "'dynamodb'"),
        ({"Authorization": _scope("s3")}, "InvalidSignatureException", "'dynamodb'"),
        ({"Authorization": _scope("sts")}, "InvalidSignatureException", "'dynamodb'"),
        ({"Authorization": "AWS local:c2lnbmF0dXJl"}, "InvalidSignatureException", "SigV4"),
        ({"Authorization": ""}, "MissingAuthenticationTokenException", "Authentication"),
    ],
    ids=["sqs-target", "streams-target", "sqs", "s3", "sts", "sigv2", "unsigned"],
)
def test_requests_naming_another_service_get_a_dynamodb_error(
    endpoint: LocalEndpoint, headers: dict[str, str], error: str, message: str
) -> None:
    """A local program's request for another service (by its target or the service its
    signature is scoped to) never reaches moto's other backends: DynamoDB's own 400."""
    request = {**LIST_TABLES, **headers}
    answer = httpx.post(endpoint.url, headers={k: v for k, v in request.items() if v}, content="{}")
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["__type"].endswith("#" + error) and message in body["message"]
    assert b"TableNames" not in answer.content


def test_another_services_client_gets_a_clear_error(endpoint: LocalEndpoint) -> None:
    """botocore's CloudWatch Logs client (signed for logs; JSON protocol in every botocore we
    support, where SQS was XML before 1.34.x's later releases) reads the refusal as an error."""
    from botocore.exceptions import ClientError
    from botocore.session import get_session

    logs = get_session().create_client(
        "logs", endpoint_url=endpoint.url, region_name="us-east-1", **LOCAL_CREDENTIALS
    )
    with pytest.raises(ClientError) as refused:
        logs.describe_log_groups()
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "dynamodb" in str(refused.value)


def test_writes_reach_the_data_file_before_a_kill_9(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "sessions.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = serve_local(port, data, env)
    try:
        storage = DynamoDBSessionStorage(host=f"http://127.0.0.1:{port}", **LOCAL_CREDENTIALS)
        for n in range(3):
            storage.store_session(offline(f"shop{n}.myshopify.com"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if data.exists() and len(data.read_text().splitlines()) == 3:
                break
            time.sleep(0.1)
        server.send_signal(signal.SIGKILL)
        server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    assert len(data.read_text().splitlines()) == 3
    assert stat.S_IMODE(data.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["sessions.jsonl"]  # no temp file left
    restarted = serve_local(port, data, env)
    try:
        assert storage.load_session(offline("shop1.myshopify.com").id) is not None
    finally:
        restarted.send_signal(signal.SIGINT)
        restarted.communicate(timeout=30)


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def test_the_port_opens_only_once_the_table_and_its_sessions_are_there(tmp_path: Path) -> None:
    """A client that waits for the port (as a dev script or a container's health check does)
    finds the table and every saved session at its first request."""
    port, data = free_port(), tmp_path / "sessions.jsonl"
    with LocalEndpoint(port=0, data=data) as first:
        storage = first.storage()
        for n in range(200):  # a start that takes a while to load them
            storage.store_session(offline(f"shop{n}.myshopify.com"))
    server = serve_local(port, data, _environment(), wait=False)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # connect as soon as anything accepts
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.communicate()
                time.sleep(0.002)
        client = DynamoDBSessionStorage(host=f"http://127.0.0.1:{port}", **LOCAL_CREDENTIALS)
        last = offline("shop199.myshopify.com").id
        assert client.load_session(last) is not None  # no TableNotFoundError, nothing missing
        assert len(list(client.iter_items())) == 200
    finally:
        stop_serving(server)


def test_a_dead_grant_mark_survives_a_restart(tmp_path: Path) -> None:
    """Shopify refused the refresh token once (invalid_grant): after a restart every caller
    still knows it from the item, and Shopify is not asked again."""
    port, data = free_port(), tmp_path / "sessions.jsonl"
    url = f"http://127.0.0.1:{port}"
    storage = DynamoDBSessionStorage(host=url, **LOCAL_CREDENTIALS)
    with FakeShopify() as fake:
        session = installed(fake, expires_in=timedelta(minutes=1))
        server = serve_local(port, data, _environment())
        try:
            storage.store_session(session)
            fake.expire_refresh_token(SHOP)
            with pytest.raises(ReauthorizationRequiredError):
                storage.load_fresh_session(session.id, refresher(fake))
            assert DEAD_REFRESH_TOKEN in _raw_item(url, session.id)
        finally:
            stop_serving(server)
        assert fake.call_count(grant="refresh_token") == 1

        restarted = serve_local(port, data, _environment())
        try:
            assert DEAD_REFRESH_TOKEN in _raw_item(url, session.id)
            with pytest.raises(ReauthorizationRequiredError):
                storage.load_fresh_session(session.id, refresher(fake))
            assert fake.call_count(grant="refresh_token") == 1  # known from the item
            assert storage.load_session(session.id) == session
        finally:
            stop_serving(restarted)
    assert "shprt_" not in data.read_text().replace(session.refresh_token or "", "")


def test_tables_created_after_the_start_are_saved_too(tmp_path: Path) -> None:
    """A table a client creates on the endpoint (another app's, a job queue) comes back after a
    restart with its keys, indexes, TTL setting and items, binary and sets included."""
    port, data = free_port(), tmp_path / "sessions.jsonl"
    url = f"http://127.0.0.1:{port}"
    definition = {
        "TableName": "jobs",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "state", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_state",
                "KeySchema": [{"AttributeName": "state", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    items = [
        {
            "pk": {"S": f"job{n}"},
            "sk": {"N": str(n)},
            "state": {"S": "queued"},
            "blob": {"B": bytes([0, 255, n])},
            "tags": {"SS": ["a", "b"]},
            "nested": {"M": {"raw": {"BS": [b"\x00", b"\x01"]}, "list": {"L": [{"N": "1.5"}]}}},
        }
        for n in range(30)
    ]
    server = serve_local(port, data, _environment())
    try:
        client = _client(url)
        client.create_table(**definition)
        client.update_time_to_live(
            TableName="jobs", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
        )
        for item in items:
            client.put_item(TableName="jobs", Item=item)
        time.sleep(0.1)
    finally:
        stop_serving(server)

    restarted = serve_local(port, data, _environment())
    try:
        client = _client(url)
        table = client.describe_table(TableName="jobs")["Table"]
        assert table["KeySchema"] == definition["KeySchema"]
        assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by_state"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        ttl = client.describe_time_to_live(TableName="jobs")["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires")
        stored = client.scan(TableName="jobs")["Items"]
        assert sorted(stored, key=lambda i: int(i["sk"]["N"])) == items
        assert sorted(client.list_tables()["TableNames"]) == ["jobs", "shopify_sessions"]
        client.delete_table(TableName="jobs")  # and a deleted one stays deleted
    finally:
        stop_serving(restarted)
    again = serve_local(port, data, _environment())
    try:
        assert _client(url).list_tables()["TableNames"] == ["shopify_sessions"]
    finally:
        stop_serving(again)


def _client(url: str) -> Any:
    from botocore.session import get_session

    return get_session().create_client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", **LOCAL_CREDENTIALS
    )


def _raw_item(url: str, id: str) -> dict[str, Any]:
    item: dict[str, Any] = _client(url).get_item(
        TableName="shopify_sessions", Key={"id": {"S": id}}, ConsistentRead=True
    )["Item"]
    return item
