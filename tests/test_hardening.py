"""Hardening from the red-team pass and the newcomer trial (issue 12): one test per class."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shopify_sessions import (
    CorruptSessionError,
    DynamoDBSessionStorage,
    RetryPolicy,
    SessionStorageError,
    StorageUnavailableError,
    TokenCipher,
    TokenDecryptionError,
    UnknownKeyError,
)
from shopify_sessions.dynamodb.cipher import encode_key
from shopify_sessions.dynamodb.ops import Plan
from tests.conftest import Backend
from tests.support.cli_runs import CLI, assert_one_line_error, run
from tests.support.factories import offline, online


def test_models_from_get_scan_and_query_never_print_tokens(dynamo: Backend) -> None:
    storage = dynamo.storage()
    sessions = [offline(refresh_token="shprt_SECRET_REFRESH"), online()]
    for session in sessions:
        storage.store_session(session)
    model = storage.model
    found: list[Any] = [model.get(sessions[0].id), *model.scan()]
    found += [model.get(key.id) for key in model.shop_index.query(sessions[0].shop)]
    assert len(found) == 5
    for instance in found:
        for shown in (repr(instance), str(instance), f"{instance}", repr([instance])):
            assert "shp" not in shown.replace("shop", ""), shown
            assert "access_token='***'" in shown


# --- 3, 4, 5, 6, 26: keys, ciphertexts, unreadable items ------------------------------------

K16, K32 = bytes(range(16)), bytes(range(32))


@pytest.mark.parametrize(
    ("keys", "active"),
    [
        (f"{encode_key(K16)}:k1", ""),  # key and id swapped; a 16-byte key looks like an id
        (f"{encode_key(K32)}:k1", ""),
        (f"k1:{encode_key(K16)}", encode_key(K16)),  # the key given as the active key id
        (f"k1:{encode_key(K16)},{encode_key(K16)}:{encode_key(K16)}", ""),
        (f"k1:{encode_key(K16)},k1:{encode_key(K32)}", ""),
    ],
)
def test_key_material_is_never_echoed(keys: str, active: str) -> None:
    env = {"SHOPIFY_SESSIONS_TOKEN_KEYS": keys, "SHOPIFY_SESSIONS_ACTIVE_KEY_ID": active}
    with pytest.raises(ValueError, match=r"entry|ACTIVE_KEY_ID") as caught:
        TokenCipher.from_env(env)
    for key in (K16, K32):
        assert encode_key(key).rstrip("=")[:12] not in str(caught.value)


def test_a_ciphertext_copied_from_another_table_does_not_decrypt(dynamo: Backend) -> None:
    cipher = TokenCipher({"k1": K32}, "k1")
    source, other = dynamo.storage(token_cipher=cipher), dynamo.storage(token_cipher=cipher)
    session = offline(refresh_token="shprt_x")
    source.store_session(session)
    item = dynamo.raw_item(source, session.id)
    assert item["accessToken"]["S"].startswith("ssenc:v2:k1:")
    dynamo.raw_client().put_item(TableName=other.table_name, Item=item)
    with pytest.raises(TokenDecryptionError, match="another table"):
        other.load_session(session.id)
    renamed = dynamo.storage(
        other.table_name, create=False, token_cipher=cipher, cipher_table_name=source.table_name
    )
    assert renamed.load_session(session.id) == session  # after a rename: the old name
    assert source.load_session(session.id) == session


def test_v1_values_still_read_and_re_encrypt_upgrades_them(dynamo: Backend) -> None:
    cipher = TokenCipher({"k1": K32}, "k1")
    storage = dynamo.storage(token_cipher=cipher)
    session = offline()
    plain = dynamo.storage(storage.table_name, create=False)
    plain.store_session(session)
    v1 = cipher.encrypt(session.access_token or "", session_id=session.id, field="accessToken")
    dynamo.raw_client().update_item(
        TableName=storage.table_name,
        Key={"id": {"S": session.id}},
        UpdateExpression="SET accessToken = :v",
        ExpressionAttributeValues={":v": {"S": v1}},
    )
    assert storage.load_session(session.id) == session
    assert storage.re_encrypt() == 1
    assert dynamo.raw_item(storage, session.id)["accessToken"]["S"].startswith("ssenc:v2:")
    assert storage.load_session(session.id) == session


def test_require_encrypted_refuses_plaintext(dynamo: Backend) -> None:
    plain = dynamo.storage()
    plain.store_session(offline())
    strict = TokenCipher({"k1": K32}, "k1", require_encrypted=True)
    storage = dynamo.storage(plain.table_name, create=False, token_cipher=strict)
    with pytest.raises(TokenDecryptionError, match="plaintext"):
        storage.load_session(offline().id)
    assert storage.find_sessions_by_shop(offline().shop) == []  # skipped with a warning
    assert storage.re_encrypt() == 1  # re-encrypting is how plaintext goes away
    assert storage.load_session(offline().id) == offline()
    env = {
        "SHOPIFY_SESSIONS_TOKEN_KEYS": f"k1:{encode_key(K32)}",
        "SHOPIFY_SESSIONS_REQUIRE_ENCRYPTED": "1",
    }
    from_env = TokenCipher.from_env(env)
    assert from_env is not None and from_env.require_encrypted


def test_one_unreadable_token_never_breaks_finds_scans_or_rotation(
    dynamo: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    cipher = TokenCipher({"k1": K32}, "k1")
    storage = dynamo.storage(token_cipher=cipher)
    good = [offline(), online()]
    for session in good:
        storage.store_session(session)
    tampered = online(user_id=9)
    storage.store_session(tampered)
    value = dynamo.raw_item(storage, tampered.id)["accessToken"]["S"]
    dynamo.raw_client().update_item(
        TableName=storage.table_name,
        Key={"id": {"S": tampered.id}},
        UpdateExpression="SET accessToken = :v",
        ExpressionAttributeValues={":v": {"S": value[:-4] + "AAAA"}},
    )
    caplog.set_level(logging.WARNING, logger="shopify_sessions")
    found = storage.find_sessions_by_shop(offline().shop)
    assert sorted(s.id for s in found) == sorted(s.id for s in good)
    assert sorted(s.id for s in storage.iter_sessions()) == sorted(s.id for s in good)
    assert tampered.id in caplog.text
    with pytest.raises(CorruptSessionError):
        storage.find_sessions_by_shop(offline().shop, strict=True)
    rotated = dynamo.storage(
        storage.table_name, create=False, token_cipher=TokenCipher({"k1": K32, "k2": K16}, "k2")
    )
    assert rotated.re_encrypt() == 2  # the tampered one is skipped, the rest move on
    assert {s.id for s in rotated.iter_sessions()} == {s.id for s in good}


def test_re_encrypt_leaves_concurrent_changes_alone(
    dynamo: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = dynamo.storage()
    session = offline(scope="read_products")
    plain.store_session(session)
    storage = dynamo.storage(
        plain.table_name, create=False, token_cipher=TokenCipher({"k1": K32}, "k1")
    )
    original = storage.plans.reseal

    def meanwhile(id: str, stored: dict[str, str | None]) -> Plan[int]:
        dynamo.raw_client().update_item(  # another writer, between the scan and the rewrite
            TableName=storage.table_name,
            Key={"id": {"S": id}},
            UpdateExpression="SET #s = :s, nodeExtra = :x",
            ExpressionAttributeNames={"#s": "scope"},
            ExpressionAttributeValues={":s": {"S": "write_orders"}, ":x": {"S": "kept"}},
        )
        return original(id, stored)

    monkeypatch.setattr(storage.plans, "reseal", meanwhile)
    assert storage.re_encrypt() == 1
    item = dynamo.raw_item(storage, session.id)
    assert item["scope"]["S"] == "write_orders" and item["nodeExtra"]["S"] == "kept"
    assert item["accessToken"]["S"].startswith("ssenc:v2:")
    loaded = storage.load_session(session.id)
    assert loaded is not None and loaded.access_token == session.access_token


def test_an_encrypted_token_without_a_cipher_says_what_to_set(dynamo: Backend) -> None:
    storage = dynamo.storage(token_cipher=TokenCipher({"k1": K32}, "k1"))
    storage.store_session(offline())
    plain = dynamo.storage(storage.table_name, create=False)
    with pytest.raises(UnknownKeyError) as caught:
        plain.load_session(offline().id)
    assert "holds []" not in str(caught.value)
    assert "SHOPIFY_SESSIONS_TOKEN_KEYS" in str(caught.value)


# --- 8, 9, 10, 13, 22, 24: connections, deadlines, close, fork ------------------------------


def test_no_region_is_a_storage_error_from_every_method(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    storage = DynamoDBSessionStorage(f"t_{os.getpid()}_{time.monotonic_ns()}")
    calls: list[Any] = [
        lambda: storage.store_session(offline()),
        lambda: storage.load_session("x"),
        lambda: storage.delete_session("x"),
        lambda: storage.delete_sessions(["x", "y"]),
        lambda: storage.find_sessions_by_shop("s"),
        lambda: storage.find_session_ids_by_shop("s"),
        lambda: storage.delete_sessions_by_shop("s"),
        lambda: storage.verify_table(),
        lambda: list(storage.iter_sessions()),
        lambda: list(storage.iter_items()),
        lambda: storage.create_table(),
    ]
    for call in calls:
        with pytest.raises(SessionStorageError, match="no AWS region configured"):
            call()


def _silent_server() -> tuple[socket.socket, str]:
    """Accepts connections and never answers: a hung endpoint."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    return server, f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_hung_endpoint_costs_seconds_not_minutes() -> None:
    from botocore.config import Config

    server, url = _silent_server()
    try:
        storage = DynamoDBSessionStorage(
            "t",
            host=url,
            retry=RetryPolicy(deadline=1.0),
            botocore_config=Config(read_timeout=0.4, connect_timeout=0.4),
        )
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match="deadline"):
            storage.load_session("x")
        # the 1 s deadline plus one 0.4 s read: about 1.4 s expected, minutes without a deadline
        assert time.monotonic() - started < 10
    finally:
        server.close()
    assert RetryPolicy().deadline == 10.0
    from shopify_sessions.dynamodb.settings import resolve_connection

    defaults = resolve_connection(host="http://127.0.0.1:1")
    assert defaults.read_timeout == 10.0 and defaults.connect_timeout == 3.0


@pytest.mark.parametrize(
    "bad",
    [
        {"max_delay": float("inf")},
        {"base_delay": float("nan")},
        {"deadline": 0},
        {"attempts": 0},
        {"deadline": float("inf")},
        {"max_delay": -1},
    ],
)
def test_retry_policy_refuses_nonsense(bad: dict[str, Any]) -> None:
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        RetryPolicy(**bad)


def test_close_while_calls_run(dynamo: Backend) -> None:
    storage = dynamo.storage()
    for n in range(60):
        storage.store_session(offline(id=f"offline_{n}", shop="busy.myshopify.com"))
    stop = threading.Event()

    def closer() -> None:
        while not stop.is_set():
            storage.close()
            time.sleep(0.001)

    thread = threading.Thread(target=closer)
    thread.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            found = list(
                pool.map(lambda _: storage.find_sessions_by_shop("busy.myshopify.com"), range(20))
            )
    finally:
        stop.set()
        thread.join()
    assert all(len(sessions) == 60 for sessions in found)


def test_a_loopback_endpoint_needs_no_credentials(
    moto_server_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    storage = DynamoDBSessionStorage(f"nocreds_{time.monotonic_ns()}", host=moto_server_endpoint)
    storage.create_table()
    storage.store_session(offline())
    assert storage.load_session(offline().id) == offline()


def test_an_endpoint_without_a_scheme_says_to_add_one() -> None:
    with pytest.raises(ValueError, match=r"http://127\.0\.0\.1:8000"):
        DynamoDBSessionStorage(host="127.0.0.1:8000")


def test_cli_without_a_region_says_to_pass_region() -> None:
    unset = ["env", "-u", "AWS_REGION", "-u", "AWS_DEFAULT_REGION"]
    result = run("list", command=[*unset, *CLI])
    assert_one_line_error(result, "--region")


def test_a_forked_child_gets_fresh_pools_and_connections(moto_server_endpoint: str) -> None:
    storage = DynamoDBSessionStorage(f"fork_{time.monotonic_ns()}", host=moto_server_endpoint)
    storage.create_table()
    for n in range(30):
        storage.store_session(offline(id=f"offline_{n}", shop="fork.myshopify.com"))
    assert len(storage.find_sessions_by_shop("fork.myshopify.com")) == 30  # pool + sockets
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a find with the parent's storage object
        try:
            found = storage.find_sessions_by_shop("fork.myshopify.com")
            os.write(write, str(len(found)).encode())
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        pytest.fail("the forked child hung")
    assert os.read(read, 16) == b"30"
    assert len(storage.find_sessions_by_shop("fork.myshopify.com")) == 30  # the parent too


# --- 14: one surface for every storage -------------------------------------------------------


def test_every_storage_has_the_same_surface(backend: Backend) -> None:
    from shopify_sessions import MemorySessionStorage, SessionStorage

    storage = backend.storage()
    assert isinstance(storage, SessionStorage)
    empty = MemorySessionStorage()
    assert bool(empty) and (empty or None) is empty  # `storage or default` keeps it
    storage.create_table()  # start-up code runs unchanged on any storage
    storage.verify_table()
    sessions = [offline(), online(), offline("other.myshopify.com")]
    for session in sessions:
        storage.store_session(session)
    assert sorted(storage.find_session_ids_by_shop(offline().shop)) == sorted(
        [offline().id, online().id]
    )
    assert sorted(s.id for s in storage.iter_sessions()) == sorted(s.id for s in sessions)
    assert storage.delete_sessions_by_shop(offline().shop) == 2
    assert [s.id for s in storage.iter_sessions()] == [sessions[2].id]
    storage.close()


def test_the_missing_table_hint_names_that_table(dynamo: Backend) -> None:
    from shopify_sessions import TableNotFoundError

    storage = dynamo.storage("not_created_here", create=False)
    with pytest.raises(TableNotFoundError) as caught:
        storage.load_session("x")
    assert "DynamoDBSessionStorage('not_created_here').create_table()" in str(caught.value)
    assert "--table not_created_here create-table" in str(caught.value)
    assert "SessionModel" not in str(caught.value)


def test_keys_over_dynamodbs_limit_are_refused_naming_the_session(backend: Backend) -> None:
    from shopify_sessions import InvalidSessionError

    storage = backend.storage()
    long_id = offline(id="offline_" + "é" * 1100)  # 2,208 bytes in UTF-8
    with pytest.raises(InvalidSessionError, match=r"session id .* 2208 bytes .* 2048-byte"):
        storage.store_session(long_id)
    long_shop = offline(shop="s" * 2049 + ".myshopify.com", id="offline_x")
    with pytest.raises(InvalidSessionError, match=r"session 'offline_x': shop .* 2063 bytes"):
        storage.store_session(long_shop)
    with pytest.raises(InvalidSessionError, match="2048-byte"):
        storage.find_sessions_by_shop("s" * 3000)
    with pytest.raises(InvalidSessionError, match="2048-byte"):
        storage.load_session("x" * 3000)
