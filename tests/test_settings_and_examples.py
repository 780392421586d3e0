"""Settings resolution and the runnable example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopify_sessions import DynamoDBSessionStorage
from tests.support.interpreter import printed_by

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


def test_session_model_on_a_loopback_endpoint_needs_no_credentials(
    moto_server_endpoint: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=moto_server_endpoint,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        SHOPIFY_SESSIONS_TABLE=f"model_{os.getpid()}_{id(env)}",
    )
    code = (
        "from shopify_sessions.dynamodb.session_model import SessionModel\n"
        "SessionModel.create_table(wait=True)\n"
        "SessionModel(id='offline_a', shop='a', state='', is_online=False).save()\n"
        "print(SessionModel.get('offline_a').shop)\n"
        "SessionModel.delete_table()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout == "a\n", result.stderr


def _rehearse(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    script = ROOT / "examples" / "rehearse_token_commands.py"
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_documented_rehearsal_runs_both_token_commands_against_fake_shopify(
    tmp_path: Path,
) -> None:
    demo = _rehearse()
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout
    assert "would migrate 3, already expiring 0, need reauthorization 0, failed 0" in lines
    assert "migrated 2, already expiring 0, need reauthorization 1, failed 0" in lines
    assert "gone.myshopify.com: Shopify refused the grant" in lines
    assert "refreshed 2, not due 0, not migrated 1 (run migrate-to-expiring)" in lines
    assert "shpat_" not in lines + demo.stderr

    token = "shpat_copy_of_a_real_token_0123456789"
    copy = tmp_path / "backup.jsonl"
    copy.write_text(
        '{"id": "offline_copy.myshopify.com", "shop": "copy.myshopify.com", "state": "", '
        f'"isOnline": false, "accessToken": "{token}"}}\n'
    )
    rehearsed = _rehearse(str(copy))
    assert rehearsed.returncode == 0, rehearsed.stderr
    assert "migrated 1, already expiring 0, need reauthorization 0" in rehearsed.stdout
    assert "refreshed 1, not due 0, not migrated 0," in rehearsed.stdout
    assert token in copy.read_text()  # the copy is only read


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
    assert printed_by(code) == ["[]", "False"]


def test_a_storage_that_only_loads_imports_no_refresh_protocol() -> None:
    """A Lambda reading sessions imports neither PynamoDB (bound at the first store), the
    lease protocol, the grants, the memory storage nor the row format; the first
    ``load_fresh_session`` brings the protocol."""
    code = (
        "import sys\n"
        "from shopify_sessions import DynamoDBSessionStorage\n"
        "storage = DynamoDBSessionStorage('t', host='http://127.0.0.1:9')\n"
        "names = ('shopify_sessions.tokens.lease_protocol',\n"
        "         'shopify_sessions.tokens.grants',\n"
        "         'shopify_sessions.tokens.lease_driver',\n"
        "         'shopify_sessions.memory.memory_storage',\n"
        "         'shopify_sessions.formats.property_array',\n"
        "         'shopify_sessions.dynamodb.lease_plans',\n"
        "         'pynamodb')\n"
        "print(sorted(m for m in names if m in sys.modules))\n"
        "storage._lease_store\n"
        "print('shopify_sessions.tokens.lease_protocol' in sys.modules)\n"
    )
    assert printed_by(code) == ["[]", "True"]


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
