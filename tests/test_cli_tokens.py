"""migrate-to-expiring and keep-warm as subprocesses, against moto's server and the fake
Shopify (reached through the hidden ``--shopify-endpoint`` option's loopback transport)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from shopify_sessions import DynamoDBSessionStorage, Session, offline_session_id
from shopify_sessions.testing import FakeShopify
from tests.support.cli_runs import CLI, Run, run
from tests.tokens_support import installed

SHOPS = [f"shop{n}.myshopify.com" for n in range(4)]


@pytest.fixture
def table(moto_server_endpoint: str) -> Iterator[DynamoDBSessionStorage]:
    name = f"cli_tokens_{uuid.uuid4().hex[:8]}"
    storage = DynamoDBSessionStorage(name, host=moto_server_endpoint)
    storage.create_table()
    yield storage
    storage.model.delete_table()


def _cli(
    storage: DynamoDBSessionStorage, fake: FakeShopify, *args: str, secret: str | None = None
) -> Run:
    env = {
        "SHOPIFY_API_KEY": fake.client_id,
        "SHOPIFY_API_SECRET": fake.client_secret if secret is None else secret,
        "SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT": fake.url,
    }
    return run(*args, endpoint=storage.connection.host, table=storage.table_name, env=env)


def _non_expiring(fake: FakeShopify, shop: str) -> Session:
    grant = fake.install(shop, expiring=False)
    return Session(offline_session_id(shop), shop, "", False, grant.scope, None, grant.access_token)


def _secrets(fake: FakeShopify, sessions: list[Session]) -> list[str]:
    tokens = [fake.client_secret]
    for session in sessions:
        tokens += [t for t in (session.access_token, session.refresh_token) if t]
    return tokens


def _assert_secret_free(result: Run, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in result.out + result.err, result


def test_migrate_to_expiring(table: DynamoDBSessionStorage, fake_shopify: FakeShopify) -> None:
    old = [_non_expiring(fake_shopify, shop) for shop in SHOPS[:2]]
    expiring = installed(fake_shopify, SHOPS[2])
    revoked = _non_expiring(fake_shopify, SHOPS[3])
    fake_shopify.uninstall(SHOPS[3])
    for session in [*old, expiring, revoked]:
        table.store_session(session)

    dry = _cli(table, fake_shopify, "migrate-to-expiring", "--dry-run")
    assert dry.code == 0 and "would migrate 3 of 4" in dry.out, dry
    assert fake_shopify.call_count() == 0

    result = _cli(table, fake_shopify, "migrate-to-expiring", "--concurrency", "2")
    assert result.code == 3, result  # only the merchant of the revoked shop can fix the rest
    assert "migrated 2, already expiring 1, need reauthorization 1, failed 0" in result.out
    assert f"{SHOPS[3]}:" in result.out
    for session in old:
        stored = table.load_session(session.id)
        assert stored is not None and stored.refresh_token and stored.expires is not None
        assert stored.access_token == fake_shopify.active_token(session.shop)
    _assert_secret_free(result, _secrets(fake_shopify, [*old, expiring, revoked]))

    again = _cli(table, fake_shopify, "migrate-to-expiring", "--json")  # safe to re-run
    assert again.code == 3 and again.json()["already_expiring"] == 3, again
    assert fake_shopify.call_count(grant="token_exchange") == 4  # 3 + the revoked one again


def test_migrate_one_shop_and_missing_credentials(
    table: DynamoDBSessionStorage, fake_shopify: FakeShopify
) -> None:
    sessions = [_non_expiring(fake_shopify, shop) for shop in SHOPS[:2]]
    for session in sessions:
        table.store_session(session)
    result = _cli(table, fake_shopify, "migrate-to-expiring", "--shop", SHOPS[0], "--json")
    assert result.code == 0 and result.json()["migrated"] == [SHOPS[0]], result
    assert table.load_session(sessions[1].id) == sessions[1]
    missing = _cli(table, fake_shopify, "migrate-to-expiring", secret="")
    assert missing.code == 1 and "SHOPIFY_API_SECRET" in missing.err, missing
    wrong = _cli(table, fake_shopify, "migrate-to-expiring", "--json", secret="not-the-secret")
    assert wrong.code == 1 and "invalid_client" in wrong.json()["failed"][SHOPS[1]], wrong
    assert "not-the-secret" not in wrong.out + wrong.err


def test_migration_stopped_halfway_stores_what_it_exchanged(
    table: DynamoDBSessionStorage, fake_shopify: FakeShopify
) -> None:
    sessions = [_non_expiring(fake_shopify, shop) for shop in SHOPS]
    for session in sessions:
        table.store_session(session)
    fake_shopify.latency = 0.4
    env_args = ["--endpoint-url", table.connection.host or "", "--table", table.table_name]
    process = subprocess.Popen(
        [*CLI, *env_args, "migrate-to-expiring", "--concurrency", "1"],
        env={
            **os.environ,
            "SHOPIFY_API_KEY": fake_shopify.client_id,
            "SHOPIFY_API_SECRET": fake_shopify.client_secret,
            "SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT": fake_shopify.url,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while fake_shopify.call_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1, (out, err)
    assert "not started" in out and "Traceback" not in err, (out, err)
    migrated = [s for s in sessions if (table.load_session(s.id) or s).refresh_token]
    assert 1 <= len(migrated) < len(SHOPS)
    for session in migrated:  # whatever was exchanged was stored
        stored = table.load_session(session.id)
        assert stored is not None
        assert stored.access_token == fake_shopify.active_token(session.shop)
    fake_shopify.latency = 0.0
    rest = _cli(table, fake_shopify, "migrate-to-expiring", "--json")
    assert rest.code == 0 and len(rest.json()["migrated"]) == len(SHOPS) - len(migrated), rest


def test_keep_warm(table: DynamoDBSessionStorage, fake_shopify: FakeShopify) -> None:
    now = datetime.now(timezone.utc)
    due = installed(fake_shopify, SHOPS[0], expires_in=timedelta(minutes=40))
    due.refresh_token_expires = now + timedelta(days=3)
    later = installed(fake_shopify, SHOPS[1])
    dead = installed(fake_shopify, SHOPS[2])
    dead.refresh_token_expires = now + timedelta(days=1)
    fake_shopify.uninstall(SHOPS[2])
    for session in (due, later, dead):
        table.store_session(session)

    dry = _cli(table, fake_shopify, "keep-warm", "--dry-run", "--json")
    assert dry.code == 0 and dry.json()["would_refresh"] == sorted(SHOPS[0:3:2]), dry

    result = _cli(table, fake_shopify, "keep-warm", "--days", "14")
    assert result.code == 3, result
    assert "refreshed 1, not due 1, need reauthorization 1, failed 0" in result.out, result
    fresh = table.load_session(due.id)
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOPS[0])
    assert fresh.refresh_token_expires is not None
    assert fresh.refresh_token_expires > now + timedelta(days=89)
    assert table.load_session(later.id) == later
    _assert_secret_free(result, _secrets(fake_shopify, [due, later, dead, fresh]))
    calls = fake_shopify.call_count()
    again = _cli(table, fake_shopify, "keep-warm")  # the dead grant is known: no call
    assert again.code == 3 and fake_shopify.call_count() == calls, again
