"""``doctor`` and the fleet options (segments, scan concurrency, rate) as an operator runs them:
the command as a process of its own against moto's server or dynalite and the fake Shopify."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shopify_sessions import DynamoDBSessionStorage, Session, offline_session_id
from shopify_sessions.testing import FakeShopify
from shopify_sessions.tokens.lease_protocol import DEAD_REFRESH_TOKEN, fingerprint
from tests.conftest import raw_dynamodb_client
from tests.support.cli_process import run_cli
from tests.support.dynalite import free_port
from tests.support.tokens import installed

NOW = datetime.now(timezone.utc)
DAY = timedelta(days=1)
TOKEN = "shpat_QXZJVKWQXZJVKW"  # letters ordinary output never strings together


class Run:
    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        done = run_cli(args, {**os.environ, **(env or {})}, None, timeout=120)
        self.code, self.out, self.err = done.returncode, done.stdout, done.stderr
        assert "Traceback" not in self.err, self

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Run(code={self.code}, out={self.out[-1500:]!r}, err={self.err[-1500:]!r})"


@pytest.fixture(params=["moto_server_endpoint", "dynalite_endpoint"])
def endpoint(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def table(moto_server_endpoint: str) -> Iterator[DynamoDBSessionStorage]:
    storage = DynamoDBSessionStorage(f"fleet_{uuid.uuid4().hex[:8]}", host=moto_server_endpoint)
    storage.create_table()
    yield storage
    storage.model.delete_table()


def cli(storage: DynamoDBSessionStorage, *args: str, fake: FakeShopify | None = None) -> Run:
    env = {}
    if fake is not None:
        env = {
            "SHOPIFY_API_KEY": fake.client_id,
            "SHOPIFY_API_SECRET": fake.client_secret,
            "SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT": fake.url,
        }
    where = ["--endpoint-url", storage.connection.host or "", "--table", storage.table_name]
    return Run([*where, *args], env)


def shop(name: str) -> str:
    return f"{name}.myshopify.com"


def offline(name: str, **fields: Any) -> Session:
    return Session(offline_session_id(shop(name)), shop(name), "", False, "read_orders", **fields)


def seed_every_category(storage: DynamoDBSessionStorage) -> dict[str, str]:
    """One session (or item) per category; category by id."""
    hour = timedelta(hours=1)
    sessions = {
        "online_active": Session(f"{shop('on')}_1", shop("on"), "", True, None, NOW + hour, TOKEN),
        "online_expired": Session(f"{shop('off')}_1", shop("off"), "", True, None, NOW - hour),
        "dead": offline("dead", expires=NOW + hour, access_token=TOKEN, refresh_token=TOKEN,
                        refresh_token_expires=NOW - DAY),
        "missing_expiry": offline("noexp", access_token=TOKEN, refresh_token=TOKEN,
                                  refresh_token_expires=NOW + 80 * DAY),
        "refresh_due": offline("due", expires=NOW + hour, access_token=TOKEN,
                               refresh_token=TOKEN, refresh_token_expires=NOW + 3 * DAY),
        "unrefreshable": offline("norefresh", expires=NOW + hour, access_token=TOKEN),
        "non_expiring": offline("old", access_token=TOKEN),
        "expiring_ok": offline("ok", expires=NOW + hour, access_token=TOKEN,
                               refresh_token=TOKEN, refresh_token_expires=NOW + 80 * DAY),
    }  # fmt: skip
    for session in sessions.values():
        storage.store_session(session)
    client = raw_dynamodb_client(storage.connection.host)
    marked = offline("marked", expires=NOW + hour, access_token=TOKEN, refresh_token=TOKEN,
                     refresh_token_expires=NOW + 80 * DAY)  # fmt: skip
    storage.store_session(marked)
    client.update_item(  # what a refresher records after Shopify answered invalid_grant
        TableName=storage.table_name,
        Key={"id": {"S": marked.id}},
        UpdateExpression="SET #dead = :dead",
        ExpressionAttributeNames={"#dead": DEAD_REFRESH_TOKEN},
        ExpressionAttributeValues={":dead": {"S": fingerprint(TOKEN)}},
    )
    client.put_item(
        TableName=storage.table_name,
        Item={"id": {"S": "broken"}, "shop": {"S": shop("x")}, "accessToken": {"S": TOKEN}},
    )
    by_id = {session.id: name for name, session in sessions.items()}
    return {**by_id, marked.id: "dead", "broken": "unreadable"}


def test_doctor_puts_every_session_in_one_category_and_says_what_to_run(
    table: DynamoDBSessionStorage,
) -> None:
    expected = seed_every_category(table)
    plain = cli(table, "doctor")
    assert plain.code == 1, plain
    assert "days until 2027-01-01" in plain.out
    for advice in ("migrate-to-expiring", "keep-warm", "reinstall", "broken"):
        assert advice in plain.out, plain
    report = cli(table, "doctor", "--json", "--scan-concurrency", "3")
    assert report.code == 1, report
    body = report.json()
    assert {s["id"]: s["category"] for s in body["sessions"]} == expected
    assert len(body["sessions"]) == len(expected) == body["total"]
    assert body["counts"]["dead"] == 2 and body["counts"]["unreadable"] == 1
    assert sum(body["counts"].values()) == len(expected)
    for run in (plain, report):
        assert TOKEN[6:12] not in run.out + run.err, run
    problems = [id for id, name in expected.items() if name not in ("expiring_ok",)]
    problems = [id for id in problems if not expected[id].startswith("online")]
    table.delete_sessions(problems)
    healthy = cli(table, "doctor", "--json")
    assert healthy.code == 0 and healthy.json()["problems"] == 0, healthy


def test_doctor_exits_3_when_it_cannot_look(table: DynamoDBSessionStorage) -> None:
    host = table.connection.host or ""
    missing = Run(["--endpoint-url", host, "--table", "no_such_table", "doctor"])
    assert missing.code == 3 and "does not exist" in missing.err, missing
    nowhere = Run(["--endpoint-url", f"http://127.0.0.1:{free_port()}", "doctor", "--json"])
    assert nowhere.code == 3 and nowhere.out == "", nowhere
    alone = cli(table, "doctor", "--segment", "1")
    assert alone.code == 3 and "--total-segments" in alone.err, alone
    both = cli(
        table, "doctor", "--segment", "0", "--total-segments", "2", "--scan-concurrency", "2"
    )
    assert both.code == 3 and "larger --total-segments" in both.err, both
    usage = cli(table, "doctor", "--days", "0")
    assert usage.code == 2, usage


def test_a_doctor_that_crashes_never_exits_1(
    table: DynamoDBSessionStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from shopify_sessions.cli import _doctor, cli

    table.store_session(offline("crash", access_token=TOKEN))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(_doctor, "classify", broken)
    where = ["--endpoint-url", table.connection.host or "", "--table", table.table_name]
    result = CliRunner().invoke(cli, [*where, "doctor", "--json"])
    assert result.exit_code == 3, result.output  # "could not look", never "problems found"
    assert "unexpected RuntimeError: a bug" in result.output


def test_segments_across_processes_cover_the_table_once(endpoint: str) -> None:
    storage = DynamoDBSessionStorage(f"segments_{uuid.uuid4().hex[:8]}", host=endpoint)
    storage.create_table()
    for n in range(40):
        storage.store_session(offline(f"s{n}", access_token=TOKEN))
    whole = {s["id"] for s in cli(storage, "doctor", "--json").json()["sessions"]}
    assert len(whole) == 40
    seen: list[str] = []
    exported: list[str] = []
    for segment in range(3):
        part = ["--segment", str(segment), "--total-segments", "3"]
        seen += [s["id"] for s in cli(storage, "doctor", "--json", *part).json()["sessions"]]
        backup = cli(storage, "export", "-", *part)
        assert backup.code == 0, backup
        exported += [json.loads(line)["id"] for line in backup.out.splitlines()]
    assert sorted(seen) == sorted(whole) == sorted(exported)
    storage.model.delete_table()


def test_keep_warm_and_migrate_repair_sessions_without_expires(
    table: DynamoDBSessionStorage, fake_shopify: FakeShopify
) -> None:
    damaged = []
    for name in ("a", "b"):  # what a Node app stores after shopify-app-js#3400
        session = installed(fake_shopify, shop(name))
        session.expires = None
        table.store_session(session)
        damaged.append(session)
    old = fake_shopify.install(shop("old"), expiring=False)
    table.store_session(offline("old", access_token=old.access_token))
    before = cli(table, "doctor", "--json").json()["counts"]
    assert before["missing_expiry"] == 2 and before["non_expiring"] == 1

    warm = cli(table, "keep-warm", "--segment", "0", "--total-segments", "1", fake=fake_shopify)
    assert warm.code == 0 and "a refresh sets expires again" in warm.out, warm
    assert "refreshed 2" in warm.out, warm
    for session in damaged:
        stored = table.load_session(session.id)
        assert stored is not None and stored.expires is not None
        assert stored.access_token == fake_shopify.active_token(session.shop)
    calls = fake_shopify.call_count()
    again = cli(table, "keep-warm", "--json", fake=fake_shopify)  # nothing due: no call
    assert again.code == 0 and again.json()["refreshed"] == [], again
    assert fake_shopify.call_count() == calls

    again_damaged = table.load_session(damaged[0].id)
    assert again_damaged is not None
    again_damaged.expires = None  # a Node app met #3400 again
    table.store_session(again_damaged)
    migrate = cli(table, "migrate-to-expiring", "--json", "--scan-concurrency", "2",
                  fake=fake_shopify)  # fmt: skip
    assert migrate.code == 0, migrate
    body = migrate.json()
    assert sorted(body["migrated"]) == [shop("a"), shop("old")], body
    assert "1 offline session(s) had a refresh token but no expires" in body["note"], body
    after = cli(table, "doctor", "--json")
    assert after.code == 0 and after.json()["counts"]["expiring_ok"] == 3, after


def test_work_is_pulled_from_the_scan_as_it_goes_never_all_at_once() -> None:
    from shopify_sessions.cli._tokens import _run_each

    lock = threading.Lock()
    pulled = finished = most_ahead = 0

    def scanned() -> Iterator[Session]:
        nonlocal pulled
        for n in range(60):
            with lock:
                pulled += 1
            yield offline(f"w{n}", access_token=TOKEN)

    def work(session: Session) -> str:
        nonlocal finished, most_ahead
        with lock:
            most_ahead = max(most_ahead, pulled - finished)
            finished += 1
        return "done"

    outcomes, not_started = _run_each(scanned(), work, 3, "working")
    assert len(outcomes) == 60 and not_started == 0
    assert most_ahead <= 2 * 3 + 1  # at most twice the concurrency waiting, plus the one pulled
