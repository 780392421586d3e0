"""Settings resolution and the runnable example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopify_sessions import DynamoDBSessionStorage

ROOT = Path(__file__).resolve().parent.parent


def test_explicit_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_SESSIONS_TABLE", "env_table")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    storage = DynamoDBSessionStorage(
        "arg_table", "arg_index", region="eu-west-1", host="http://h:2"
    )
    assert (storage.table_name, storage.shop_index_name) == ("arg_table", "arg_index")
    assert (storage.connection.region, storage.connection.host) == ("eu-west-1", "http://h:2")


def test_environment_then_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DynamoDBSessionStorage().table_name == "shopify_sessions"
    assert DynamoDBSessionStorage().shop_index_name == "shop_index"
    monkeypatch.setenv("SHOPIFY_SESSIONS_TABLE", "env_table")
    monkeypatch.setenv("SHOPIFY_SESSIONS_SHOP_INDEX", "env_index")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://dynamodb:1")
    storage = DynamoDBSessionStorage()
    assert (storage.table_name, storage.shop_index_name) == ("env_table", "env_index")
    assert storage.connection.region == "ap-south-1"
    assert storage.connection.host == "http://dynamodb:1"
    assert (
        storage.model._get_connection().connection.client.meta.endpoint_url == "http://dynamodb:1"
    )


def test_credentials_stay_out_of_repr() -> None:
    storage = DynamoDBSessionStorage(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s3cr3t"
    )
    assert "s3cr3t" not in repr(storage) and "s3cr3t" not in repr(storage.connection)


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="page_size"):
        DynamoDBSessionStorage(page_size=0)


def test_quickstart_runs_with_no_aws_account() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "found   ['example.myshopify.com_42', 'offline_example.myshopify.com']" in result.stdout
    assert "deleted 2 sessions" in result.stdout
    assert "shpat_" not in result.stdout + result.stderr


def test_a_botocore_config_sets_timeouts_pool_and_attempts() -> None:
    from botocore.config import Config

    storage = DynamoDBSessionStorage(
        "config_table",
        host="http://127.0.0.1:9",
        botocore_config=Config(
            connect_timeout=2, read_timeout=3, max_pool_connections=20, retries={"max_attempts": 2}
        ),
    )
    assert storage.retry.attempts == 3  # botocore's max_attempts counts retries
    client = storage.model._get_connection().connection.client
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2, 3)
    assert client.meta.config.max_pool_connections == 20
    assert client.meta.config.retries["total_max_attempts"] == 1  # ours are the only retries
    plain = DynamoDBSessionStorage("config_table", host="http://127.0.0.1:9")
    assert plain.model is not storage.model
    assert plain.model._get_connection().connection.client.meta.config.connect_timeout == 3


def test_importing_the_package_loads_no_http_client_and_no_event_loop() -> None:
    """A Lambda that only reads sessions must not pay for httpx or asyncio at import."""
    code = (
        "import sys, shopify_sessions\n"
        "shopify_sessions.DynamoDBSessionStorage; shopify_sessions.MemorySessionStorage\n"
        "print(sorted(m for m in ('httpx', 'httpcore', 'anyio', 'asyncio') if m in sys.modules))\n"
        "shopify_sessions.ShopifyTokenRefresher\n"
        "print('httpx' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "False"], result.stdout
