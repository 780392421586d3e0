"""TTL attribute and backfill, scanning, and re-encryption."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shopify_sessions import DynamoDBSessionStorage, SessionStorageError, TokenCipher
from shopify_sessions.dynamodb.ttl import ttl_for
from tests.conftest import Backend
from tests.support.factories import SHOP, now, offline, online

END = datetime(2030, 1, 1, tzinfo=timezone.utc)
EPOCH_END = int(END.timestamp())
WEEK = 7 * 86400


def test_ttl_rules() -> None:
    assert ttl_for(online(expires=END)) == EPOCH_END + WEEK
    assert ttl_for(online(expires=END), grace=timedelta(0)) == EPOCH_END
    assert ttl_for(online(expires=END), grace=None) is None
    assert ttl_for(offline()) is None  # never expires
    assert ttl_for(offline(expires=END)) == EPOCH_END + WEEK
    refresh = offline(expires=END - timedelta(days=1), refresh_token="r")
    assert ttl_for(refresh) is None  # refresh token with no expiry: usable for ever
    refresh.refresh_token_expires = END
    assert ttl_for(refresh) == EPOCH_END + WEEK


def _ttl_status(dynamo: Backend, table: str) -> str:
    description = dynamo.raw_client().describe_time_to_live(TableName=table)
    status: str = description["TimeToLiveDescription"]["TimeToLiveStatus"]
    return status


def test_create_table_with_ttl(dynamo: Backend) -> None:
    storage = dynamo.storage(create=False)
    if dynamo.name == "dynalite":  # dynalite 4 has no UpdateTimeToLive: a clear error
        with pytest.raises(SessionStorageError, match=r"UpdateTimeToLive.*UnknownOperation"):
            storage.create_table(ttl=True)
        dynamo.tables.append(storage.table_name)
        return
    storage.create_table(ttl=True)
    dynamo.tables.append(storage.table_name)
    assert _ttl_status(dynamo, storage.table_name) in ("ENABLED", "ENABLING")
    description = dynamo.raw_client().describe_time_to_live(TableName=storage.table_name)
    assert description["TimeToLiveDescription"]["AttributeName"] == "ttl"


def test_enable_ttl_backfills_items_written_without_it(dynamo: Backend) -> None:
    plain = dynamo.storage(ttl_grace=None)
    sessions = [online(SHOP, n, expires=END) for n in range(30)] + [offline()]
    for session in sessions:
        plain.store_session(session)
    assert "ttl" not in dynamo.raw_item(plain, sessions[0].id)
    storage = DynamoDBSessionStorage(plain.table_name, host=dynamo.endpoint)
    if dynamo.name == "dynalite":  # dynalite 4 has no UpdateTimeToLive: a clear error
        with pytest.raises(SessionStorageError, match=r"UpdateTimeToLive.*UnknownOperation"):
            storage.enable_ttl()
        return
    seen: list[int] = []
    assert storage.enable_ttl(progress=seen.append) == 30
    assert sum(seen) == 31
    assert _ttl_status(dynamo, plain.table_name) in ("ENABLED", "ENABLING")
    assert dynamo.raw_item(plain, sessions[0].id)["ttl"] == {"N": str(EPOCH_END + WEEK)}
    assert "ttl" not in dynamo.raw_item(plain, offline().id)
    assert storage.load_session(sessions[0].id) == sessions[0]
    assert storage.enable_ttl() == 0  # idempotent


def test_iter_sessions_scans_every_page(dynamo: Backend) -> None:
    storage = dynamo.storage()
    sessions = [online(f"shop{n % 3}.myshopify.com", n) for n in range(25)]
    for session in sessions:
        storage.store_session(session)
    assert len(list(storage.iter_items(page_size=4))) == 25
    assert sorted(s.id for s in storage.iter_sessions()) == sorted(s.id for s in sessions)


def test_re_encrypt_moves_every_item_to_the_active_key(dynamo: Backend) -> None:
    k1, k2 = TokenCipher.generate_key(), TokenCipher.generate_key()
    plain = dynamo.storage()
    old = DynamoDBSessionStorage(
        plain.table_name, host=dynamo.endpoint, token_cipher=TokenCipher({"k1": k1}, "k1")
    )
    plain.store_session(offline("a.myshopify.com"))
    old.store_session(offline("b.myshopify.com", refresh_token="r", expires=now()))
    new = DynamoDBSessionStorage(
        plain.table_name,
        host=dynamo.endpoint,
        token_cipher=TokenCipher({"k1": k1, "k2": k2}, "k2"),
    )
    assert new.re_encrypt() == 2
    assert new.re_encrypt() == 0
    for id in ("offline_a.myshopify.com", "offline_b.myshopify.com"):
        assert dynamo.raw_item(plain, id)["accessToken"]["S"].startswith("ssenc:v2:k2:")
    only_k2 = DynamoDBSessionStorage(
        plain.table_name, host=dynamo.endpoint, token_cipher=TokenCipher({"k2": k2}, "k2")
    )
    assert only_k2.load_session("offline_a.myshopify.com") == offline("a.myshopify.com")
    with pytest.raises(ValueError, match="token_cipher"):
        plain.re_encrypt()
