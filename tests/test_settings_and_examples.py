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
    assert _printed_by(code) == ["[]", "False"]


def _printed_by(code: str) -> list[str]:
    """The lines a fresh interpreter running ``code`` prints."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.splitlines()


def test_a_storage_that_only_loads_imports_no_refresh_protocol() -> None:
    """A Lambda reading sessions imports neither PynamoDB (bound at the first store), the
    lease protocol, the grants, the memory storage nor the row format; the first
    ``load_fresh_session`` brings the protocol."""
    code = (
        "import sys\n"
        "from shopify_sessions import DynamoDBSessionStorage\n"
        "storage = DynamoDBSessionStorage('t', host='http://127.0.0.1:9')\n"
        "names = ('shopify_sessions.tokens.lease',\n"
        "         'shopify_sessions.tokens.grants',\n"
        "         'shopify_sessions.tokens.fresh',\n"
        "         'shopify_sessions.memory.storage',\n"
        "         'shopify_sessions.formats.property_array',\n"
        "         'shopify_sessions.dynamodb.lease',\n"
        "         'pynamodb')\n"
        "print(sorted(m for m in names if m in sys.modules))\n"
        "storage._lease_store\n"
        "print('shopify_sessions.tokens.lease' in sys.modules)\n"
    )
    assert _printed_by(code) == ["[]", "True"]


def test_clients_find_dynamodb_without_listing_every_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The loader the storages give botocore lists DynamoDB only, from every search path
    (``AWS_DATA_PATH`` included), and still makes a working client."""
    import botocore.session

    from shopify_sessions.dynamodb.service_data import DynamoDBDataLoader, use_dynamodb_loader

    extra = tmp_path / "models"
    (extra / "dynamodb" / "2099-01-01").mkdir(parents=True)
    (extra / "dynamodb" / "2099-01-01" / "waiters-9.json").write_text("{}")
    monkeypatch.setenv("AWS_DATA_PATH", str(extra))
    session = botocore.session.get_session()
    use_dynamodb_loader(session)
    loader = session.get_component("data_loader")
    assert isinstance(loader, DynamoDBDataLoader)
    assert str(extra) in loader.search_paths
    assert loader.list_available_services("service-2") == ["dynamodb"]
    assert loader.list_available_services("waiters-9") == ["dynamodb"]  # from AWS_DATA_PATH
    assert loader.list_available_services("no-such-type-1") == []
    client = session.create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    assert client.meta.service_model.service_name == "dynamodb"
