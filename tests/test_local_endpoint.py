"""The local endpoint serves local programs only, and keeps its --data file current.

Requests are shaped as a browser would send them (CORS preflight, an ``Origin`` on a POST,
a rebinding ``Host``), over real HTTP with httpx.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopify_sessions import DynamoDBSessionStorage
from shopify_sessions.local.endpoint import LOCAL_CREDENTIALS, LocalEndpoint
from tests.factories import offline
from tests.support.cli_runs import free_port, serve_local

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


def test_other_aws_services_are_not_served(endpoint: LocalEndpoint) -> None:
    answer = httpx.post(
        endpoint.url,
        headers={**LIST_TABLES, "X-Amz-Target": "AmazonSQS.ListQueues"},
        content="{}",
    )
    assert answer.status_code == 404


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
