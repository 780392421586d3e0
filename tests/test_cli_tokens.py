"""migrate-to-expiring and keep-warm as subprocesses, against moto's server and the fake
Shopify (reached through the hidden ``--shopify-endpoint`` option's loopback transport)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from shopify_sessions import DynamoDBSessionStorage, Session, offline_session_id
from shopify_sessions.testing import FakeShopify
from tests.support.cli_runs import CLI, Run, run
from tests.support.proxy import DynamoProxy, Fault
from tests.support.tokens import installed

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
    assert "earlier run" in again.json()["reauthorize"][SHOPS[3]], again
    assert fake_shopify.call_count(grant="token_exchange") == 3  # the refusal was recorded


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
    env = {"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s"}
    env["SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT"] = "http://shopify.example.com"
    remote = run(
        "migrate-to-expiring", endpoint=table.connection.host, table=table.table_name, env=env
    )
    assert remote.code == 1 and "must be a loopback URL" in remote.err, remote


def _start(endpoint: str, table: str, fake: FakeShopify, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "--endpoint-url", endpoint, "--table", table, *args],
        env={
            **os.environ,
            "SHOPIFY_API_KEY": fake.client_id,
            "SHOPIFY_API_SECRET": fake.client_secret,
            "SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT": fake.url,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_migration_stopped_halfway_stores_what_it_exchanged(
    table: DynamoDBSessionStorage, fake_shopify: FakeShopify
) -> None:
    sessions = [_non_expiring(fake_shopify, shop) for shop in SHOPS]
    for session in sessions:
        table.store_session(session)
    fake_shopify.latency = 0.4
    process = _start(
        table.connection.host or "",
        table.table_name,
        fake_shopify,
        "migrate-to-expiring",
        "--concurrency",
        "1",
    )
    _wait_for(lambda: fake_shopify.call_count() > 0, "the first exchange")
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


@pytest.fixture
def throttled_puts(
    table: DynamoDBSessionStorage, moto_server_endpoint: str
) -> Iterator[tuple[DynamoProxy, threading.Event]]:
    """A proxy in front of the table's endpoint that throttles every PutItem while set."""
    throttling = threading.Event()
    with DynamoProxy(moto_server_endpoint) as proxy:
        proxy.faults = lambda operation, body, attempt: (
            Fault.throttle() if operation == "PutItem" and throttling.is_set() else None
        )
        yield proxy, throttling


def _all_migrated(table: DynamoDBSessionStorage, fake: FakeShopify, shops: list[str]) -> None:
    """Every shop holds the pair Shopify considers active: none needs reauthorization."""
    for shop in shops:
        stored = table.load_session(offline_session_id(shop))
        assert stored is not None and stored.refresh_token and stored.expires is not None
        assert stored.access_token == fake.active_token(shop), shop


def test_migration_keeps_retrying_a_throttled_store(
    table: DynamoDBSessionStorage,
    fake_shopify: FakeShopify,
    throttled_puts: tuple[DynamoProxy, threading.Event],
) -> None:
    proxy, throttling = throttled_puts
    for shop in SHOPS[:3]:
        table.store_session(_non_expiring(fake_shopify, shop))
    throttling.set()
    process = _start(proxy.endpoint, table.table_name, fake_shopify, "migrate-to-expiring")
    # 40 PutItems for 3 shops: some store call ran out of its own retries (6 attempts) twice
    _wait_for(lambda: proxy.counts["PutItem"] >= 40, "stores past the storage's retries")
    throttling.clear()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, (out, err)
    assert "migrated 3, already expiring 0, need reauthorization 0, failed 0" in out, (out, err)
    assert "retrying until it is stored" in err and "Traceback" not in err, err
    _all_migrated(table, fake_shopify, SHOPS[:3])
    stored = [table.load_session(offline_session_id(shop)) for shop in SHOPS[:3]]
    for secret in _secrets(fake_shopify, [s for s in stored if s is not None]):
        assert secret not in out + err
    assert fake_shopify.call_count(grant="token_exchange") == 3


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGINT twice", "store refused"])
def test_a_rerun_recovers_every_shop_exchanged_but_not_stored(
    table: DynamoDBSessionStorage,
    fake_shopify: FakeShopify,
    throttled_puts: tuple[DynamoProxy, threading.Event],
    stop: str,
) -> None:
    proxy, throttling = throttled_puts
    for shop in SHOPS[:3]:
        table.store_session(_non_expiring(fake_shopify, shop))
    throttling.set()
    if stop == "store refused":  # what no retry fixes: the run ends by itself
        proxy.faults = lambda operation, body, attempt: (
            Fault.error(400, "AccessDeniedException") if operation == "PutItem" else None
        )
    process = _start(proxy.endpoint, table.table_name, fake_shopify, "migrate-to-expiring")
    _wait_for(
        lambda: (
            fake_shopify.call_count(grant="token_exchange") == 3 and proxy.counts["PutItem"] >= 3
        ),
        "three exchanges and their stores",
    )
    if stop == "SIGKILL":  # between the exchange and the store, by construction
        process.kill()
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
    elif stop == "store refused":
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1 and "Traceback" not in err, (out, err)
        assert out.count("run again within 7 days") == 3 and "PutItem" in out, out
        proxy.faults = None
    else:
        process.send_signal(signal.SIGINT)  # finish the shops in flight: they keep retrying
        time.sleep(1.0)
        assert process.poll() is None
        process.send_signal(signal.SIGINT)  # give up on them
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1 and "Traceback" not in err, (out, err)
        assert out.count("run again within 7 days") == 3, out
    for shop in SHOPS[:3]:
        assert fake_shopify.active_token(shop) is not None  # exchanged: the old token is dead
    throttling.clear()

    rerun = _cli(table, fake_shopify, "migrate-to-expiring", "--json")
    assert rerun.code == 0 and rerun.json()["migrated"] == SHOPS[:3], rerun
    assert rerun.json()["reauthorize"] == {}, rerun
    _all_migrated(table, fake_shopify, SHOPS[:3])
    assert fake_shopify.call_count(grant="token_exchange") == 6  # each answered the same pair


def test_keep_warm(table: DynamoDBSessionStorage, fake_shopify: FakeShopify) -> None:
    now = datetime.now(timezone.utc)
    due = installed(fake_shopify, SHOPS[0], expires_in=timedelta(minutes=40))
    due.refresh_token_expires = now + timedelta(days=3)
    later = installed(fake_shopify, SHOPS[1])
    dead = installed(fake_shopify, SHOPS[2])
    dead.refresh_token_expires = now + timedelta(days=1)
    fake_shopify.uninstall(SHOPS[2])
    legacy = _non_expiring(fake_shopify, SHOPS[3])  # not migrated yet: nothing to refresh
    for session in (due, later, dead, legacy):
        table.store_session(session)

    dry = _cli(table, fake_shopify, "keep-warm", "--dry-run", "--json")
    assert dry.code == 0 and dry.json()["would_refresh"] == sorted(SHOPS[0:3:2]), dry
    assert (dry.json()["not_due"], dry.json()["not_migrated"]) == (1, 1), dry

    result = _cli(table, fake_shopify, "keep-warm", "--days", "14")
    assert result.code == 3, result
    counts = "refreshed 1, not due 1, not migrated 1 (run migrate-to-expiring), "
    assert counts + "need reauthorization 1, failed 0" in result.out, result
    fresh = table.load_session(due.id)
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOPS[0])
    assert fresh.refresh_token_expires is not None
    assert fresh.refresh_token_expires > now + timedelta(days=89)
    assert table.load_session(later.id) == later
    _assert_secret_free(result, _secrets(fake_shopify, [due, later, dead, fresh]))
    calls = fake_shopify.call_count()
    again = _cli(table, fake_shopify, "keep-warm")  # the dead grant is known: no call
    assert again.code == 3 and fake_shopify.call_count() == calls, again
