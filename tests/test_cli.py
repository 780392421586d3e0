"""The ``shopify-sessions`` command, run as a process of its own against moto's server.

Every command runs as ``python -m shopify_sessions.cli`` (one test runs the installed console
script), forked from a process that did the CLI's imports once (tests/support/cli_process.py),
against the session-scoped moto server, each test on its own table, or against a
``serve-local`` subprocess. Outputs are checked for tokens: no token, nor any five characters
of one, may appear unless ``--reveal`` or ``export`` asked for them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shopify_sessions import DynamoDBSessionStorage, Session, TokenCipher
from shopify_sessions.dynamodb.cipher import encode_key
from shopify_sessions.errors import CorruptSessionError
from shopify_sessions.formats.node_json import (
    SessionFileError,
    node_json_to_session,
    parse_node_json_lines,
    session_to_node_json,
)
from tests.conftest import raw_dynamodb_client
from tests.support.cli_runs import (
    ALPHA,
    BETA,
    NOW,
    assert_no_token,
    assert_one_line_error,
    free_port,
    jsonl,
    raw_items,
    run,
    secret_token,
    serve_local,
    sessions,
    storage,
    tokens_of,
)
from tests.support.proxy import DynamoProxy, Fault

SCRIPT = Path(sys.executable).parent / "shopify-sessions"


@pytest.fixture
def endpoint(moto_server_endpoint: str) -> str:
    return moto_server_endpoint


@pytest.fixture
def table(endpoint: str) -> Iterator[str]:
    """A fresh sessions table on the moto server, dropped afterwards."""
    name = f"cli_{uuid.uuid4().hex[:10]}"
    DynamoDBSessionStorage(name, host=endpoint).create_table()
    yield name
    client = raw_dynamodb_client(endpoint)
    client.delete_table(TableName=name)


# --- node_json, in process -------------------------------------------------------------------


def test_node_json_is_the_node_item_without_ttl() -> None:
    session = sessions()[2]
    obj = session_to_node_json(session)
    assert list(obj)[:4] == ["id", "shop", "state", "isOnline"]
    assert obj["refreshTokenExpires"].endswith("Z") and len(obj["refreshTokenExpires"]) == 24
    assert "ttl" not in obj and "scope" not in obj
    assert node_json_to_session(obj) == session
    assert node_json_to_session({**obj, "ttl": 1}) == session  # a raw item's ttl is dropped


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"isOnline": "no"}, "'isOnline' must be a boolean, got a string"),
        ({"accessTokn": "x"}, "unknown key 'accessTokn'"),
        ({"expires": "soon"}, "'expires' is not an ISO-8601 date-time"),
        ({"shop": None}, "'shop' is missing"),
        ({"accessToken": 5}, "'accessToken' must be a string, got a number"),
        ({"onlineAccessInfo": {"associated_user": {"id": 1.5}}}, "must be an integer"),
        ({"onlineAccessInfo": {"associated_user": {"email": "e"}}}, "associated_user.id' is"),
    ],
)
def test_node_json_validation_names_the_problem(change: dict[str, Any], message: str) -> None:
    session = sessions()[0]
    obj = {**session_to_node_json(session), **change}
    with pytest.raises((ValueError, CorruptSessionError), match="session 'offline_alpha") as e:
        node_json_to_session(obj)
    assert message in str(e.value)
    assert_no_token(str(e.value), tokens_of([session]))


def test_jsonl_parsing_names_the_line() -> None:
    good = jsonl(sessions()).splitlines()
    with pytest.raises(SessionFileError, match=r"^f line 3: is not valid JSON") as e:
        parse_node_json_lines([good[0], "", "{nope", good[1]], source="f")
    assert e.value.line == 3
    with pytest.raises(SessionFileError, match=r"line 2: .* is also on line 1"):
        parse_node_json_lines([good[0], good[0]], source="f")
    with pytest.raises(SessionFileError, match="line 1: expected a JSON object, got an array"):
        parse_node_json_lines(["[]"])
    assert len(parse_node_json_lines([*good, "  "])) == 3


# --- the command ---------------------------------------------------------------------------------


def test_console_script_is_installed_and_runs() -> None:
    assert SCRIPT.exists(), f"{SCRIPT} missing: pip install -e ."
    result = run("--help", command=[str(SCRIPT)])
    assert result.code == 0, result
    for command in ("create-table", "serve-local", "purge-expired", "re-encrypt", "enable-ttl"):
        assert command in result.out


def test_create_table_then_verify_then_create_again(endpoint: str) -> None:
    name = f"cli_{uuid.uuid4().hex[:10]}"
    try:
        created = run(
            "create-table", "--provisioned", "1", "1", "--ttl", endpoint=endpoint, table=name
        )
        assert created.code == 0 and "created: provisioned 1/1, TTL on" in created.out, created
        verified = run("verify", endpoint=endpoint, table=name)
        assert verified.code == 0 and verified.out.startswith("OK: "), verified
        again = run("create-table", endpoint=endpoint, table=name)
        assert again.code == 0 and "already exists" in again.out, again
        client = raw_dynamodb_client(endpoint)
        described = client.describe_table(TableName=name)["Table"]
        assert described["ProvisionedThroughput"]["ReadCapacityUnits"] == 1
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED"
    finally:
        raw_dynamodb_client(endpoint).delete_table(TableName=name)


def test_verify_lists_each_difference_and_exits_1(endpoint: str, table: str) -> None:
    result = run("--index", "other_index", "verify", endpoint=endpoint, table=table)
    assert result.code == 1, result
    assert "global secondary index 'other_index' is missing" in result.out


def test_errors_are_one_line(endpoint: str, table: str) -> None:
    missing = run("list", endpoint=endpoint, table="no_such_table")
    assert_one_line_error(missing, "'no_such_table' does not exist", "create-table")

    closed = f"http://127.0.0.1:{free_port()}"
    no_server = run("stats", endpoint=closed, table=table)
    assert_one_line_error(no_server, "Could not connect", "serve-local")

    denied = Fault.error(400, "AccessDeniedException", "not authorized to perform Scan")
    with DynamoProxy(endpoint) as proxy:
        proxy.faults = lambda operation, body, attempt: denied if operation == "Scan" else None
        refused = run("list", endpoint=proxy.endpoint, table=table)
    assert_one_line_error(refused, "access denied: dynamodb:Scan")

    no_file = run("import", "/nonexistent/sessions.jsonl", endpoint=endpoint, table=table)
    assert_one_line_error(no_file, "No such file")


def test_import_list_show_stats_export_and_masking(
    endpoint: str, table: str, tmp_path: Path
) -> None:
    items = sessions()
    tokens = tokens_of(items)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(items))
    shown: list[str] = []

    first = run("import", str(source), endpoint=endpoint, table=table)
    assert first.code == 0 and "imported 3 sessions" in first.out, first
    exported = run("export", "-", endpoint=endpoint, table=table)
    assert exported.code == 0, exported
    assert "Warning" in exported.err and "tokens" in exported.err
    second = run("import", str(source), endpoint=endpoint, table=table)
    assert second.code == 0 and "imported 3 sessions" in second.out, second
    backup = tmp_path / "backup.jsonl"
    again = run("export", str(backup), endpoint=endpoint, table=table)
    assert again.code == 0 and again.out == "" and "exported 3 sessions" in again.err, again
    assert sorted(backup.read_text().splitlines()) == sorted(exported.out.splitlines())
    assert backup.stat().st_mode & 0o077 == 0  # a secret: owner only
    assert {node_json_to_session(json.loads(line)).id for line in exported.out.splitlines()} == {
        s.id for s in items
    }
    assert all(token in exported.out for token in tokens)  # a full backup
    shown += [first.out, first.err, second.out, second.err, exported.err, again.err]

    listed = run("list", "--json", endpoint=endpoint, table=table)
    assert sorted(obj["id"] for obj in listed.json()) == sorted(s.id for s in items)
    assert all(obj["accessToken"] == "***" for obj in listed.json())
    table_view = run("list", endpoint=endpoint, table=table)
    assert "3 sessions" in table_view.out and "(expired)" in table_view.out
    by_shop = run("list", "--shop", ALPHA, "--json", endpoint=endpoint, table=table)
    assert sorted(obj["id"] for obj in by_shop.json()) == [f"{ALPHA}_7", f"offline_{ALPHA}"]
    detail = run("show", f"{ALPHA}_7", endpoint=endpoint, table=table)
    assert "Grace" in detail.out and "***" in detail.out
    as_json = run("show", f"offline_{BETA}", "--json", endpoint=endpoint, table=table)
    assert as_json.json()["refreshToken"] == "***"
    assert (
        as_json.json()["refreshTokenExpires"]
        == session_to_node_json(items[2])["refreshTokenExpires"]
    )
    missing = run("show", "nope", endpoint=endpoint, table=table)
    assert_one_line_error(missing, "no session 'nope'")
    stats = run("stats", "--json", endpoint=endpoint, table=table).json()
    assert stats == {
        "sessions": 3,
        "shops": 2,
        "online": 1,
        "offline": 2,
        "expired": 2,
        "with_refresh_token": 1,
        "purgeable": 1,
        "corrupt": 0,
    }
    stats_table = run("stats", endpoint=endpoint, table=table)
    assert "with refresh token" in stats_table.out
    for result in (listed, table_view, by_shop, detail, as_json, missing, stats_table):
        shown += [result.out, result.err]
    assert_no_token("\n".join(shown), tokens)

    revealed = run("show", f"offline_{BETA}", "--json", "--reveal", endpoint=endpoint, table=table)
    assert revealed.json()["accessToken"] == items[2].access_token
    assert revealed.json()["refreshToken"] == items[2].refresh_token


def test_import_refuses_a_file_with_a_bad_line_and_writes_nothing(
    endpoint: str, table: str, tmp_path: Path
) -> None:
    lines = jsonl(sessions()).splitlines()
    lines[2] = lines[2].replace('"isOnline": false', '"isOnline": "false"')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    result = run("import", str(bad), endpoint=endpoint, table=table)
    assert_one_line_error(result, "line 3", "'isOnline' must be a boolean")
    assert_no_token(result.err, tokens_of(sessions()))
    from_stdin = run("import", "-", endpoint=endpoint, table=table, stdin=lines[0] + "\n{oops\n")
    assert_one_line_error(from_stdin, "stdin line 2: is not valid JSON")
    lines = jsonl(sessions()).splitlines()
    surrogate = lines[1].replace('"state": "s2"', '"state": "s\\ud800"')
    bad.write_text("\n".join([lines[0], surrogate]) + "\n")
    result = run("import", str(bad), endpoint=endpoint, table=table)
    assert_one_line_error(result, "line 2", "state", "lone surrogate")
    bad.write_bytes(lines[0].encode() + b"\n" + lines[2].encode().replace(b"s3", b"s\xe9"))
    result = run("import", str(bad), endpoint=endpoint, table=table)
    assert_one_line_error(result, "line 2", "not UTF-8")
    assert raw_items(endpoint, table) == {}


def test_restoring_an_old_backup_keeps_newer_tokens_unless_forced(
    endpoint: str, table: str, tmp_path: Path
) -> None:
    items = sessions()
    target = storage(endpoint, table)
    for session in items:
        target.store_session(session)
    backup = tmp_path / "backup.jsonl"
    assert run("export", str(backup), endpoint=endpoint, table=table).code == 0
    rotated = items[2].copy()
    for hours in (1, 2):  # two rotations since the backup: its refresh token is dead
        rotated.expires = NOW + timedelta(hours=hours)
        rotated.access_token, rotated.refresh_token = secret_token("shpat_"), secret_token("shprt_")
        target.store_session(rotated)
    reinstalled = items[0].copy()  # a non-expiring token, reinstalled after the backup
    reinstalled.access_token = secret_token("shpat_")
    target.store_session(reinstalled)

    restored = run("import", str(backup), endpoint=endpoint, table=table)
    assert restored.code == 0, restored
    assert "imported 1 of 3 sessions" in restored.out, restored
    assert "kept 2 newer already there (--force replaces them)" in restored.out, restored
    assert f"kept offline_{ALPHA}" in restored.out and f"kept offline_{BETA}" in restored.out
    assert target.load_session(rotated.id) == rotated
    assert target.load_session(reinstalled.id) == reinstalled
    assert_no_token(restored.out + restored.err, tokens_of([*items, rotated, reinstalled]))

    forced = run("import", "--force", str(backup), endpoint=endpoint, table=table)
    assert forced.code == 0 and "imported 3 sessions" in forced.out, forced
    assert [target.load_session(s.id) for s in items] == items


def test_purge_expired_dry_run_then_for_real(endpoint: str, table: str) -> None:
    def offline(name: str, **fields: Any) -> Session:
        return Session(
            id=name,
            shop=ALPHA,
            state="s",
            is_online=False,
            access_token=secret_token("shpat_"),
            **fields,
        )

    past, future = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    cases = [
        offline("expired", expires=past),
        offline(
            "expired_refresh_expired",
            expires=past,
            refresh_token=secret_token("shprt_"),
            refresh_token_expires=past,
        ),
        offline(
            "expired_refresh_valid",
            expires=past,
            refresh_token=secret_token("shprt_"),
            refresh_token_expires=future,
        ),
        offline("expired_refresh_forever", expires=past, refresh_token=secret_token("shprt_")),
        offline("never_expires"),
        offline("valid", expires=future),
    ]
    target = storage(endpoint, table)
    for session in cases:
        target.store_session(session)

    dry = run("purge-expired", "--dry-run", endpoint=endpoint, table=table)
    assert dry.code == 0 and "would delete 2 expired sessions" in dry.out, dry
    assert "expired_refresh_expired" in dry.out and "never_expires" not in dry.out
    assert_no_token(dry.out + dry.err, tokens_of(cases))
    assert len(raw_items(endpoint, table)) == 6

    real = run("purge-expired", endpoint=endpoint, table=table)
    assert real.code == 0 and "deleted 2 expired sessions" in real.out, real
    assert sorted(raw_items(endpoint, table)) == [
        "expired_refresh_forever",
        "expired_refresh_valid",
        "never_expires",
        "valid",
    ]


def test_delete_and_delete_shop(endpoint: str, table: str) -> None:
    target = storage(endpoint, table)
    items = sessions()
    for session in items:
        target.store_session(session)
    deleted = run("delete", f"offline_{BETA}", "never-stored", endpoint=endpoint, table=table)
    assert deleted.code == 0, deleted
    assert f"deleted 1 session: offline_{BETA}" in deleted.out
    assert "not found (nothing to delete): never-stored" in deleted.out
    again = run("delete", f"offline_{BETA}", "--json", endpoint=endpoint, table=table)
    assert again.json() == {"deleted": [], "not_found": [f"offline_{BETA}"]}, again
    by_shop = run("delete-shop", ALPHA, endpoint=endpoint, table=table)
    assert by_shop.code == 0 and f"deleted 2 sessions of shop '{ALPHA}'" in by_shop.out, by_shop
    assert raw_items(endpoint, table) == {}


def test_enable_ttl_backfills(endpoint: str, table: str) -> None:
    target = storage(endpoint, table, ttl_grace=None)  # items without ttl, as before TTL
    for session in sessions():
        target.store_session(session)
    result = run("enable-ttl", endpoint=endpoint, table=table)
    assert result.code == 0, result
    assert "TTL is on" in result.out and "2 of 3 items given a new ttl" in result.out
    items = raw_items(endpoint, table)
    assert "ttl" not in items[f"offline_{ALPHA}"]  # never expires
    assert "ttl" in items[f"{ALPHA}_7"] and "ttl" in items[f"offline_{BETA}"]


def test_re_encrypt_with_keys_from_the_environment(endpoint: str, table: str) -> None:
    items = sessions()
    target = storage(endpoint, table)
    for session in items:
        target.store_session(session)
    no_keys = run("re-encrypt", endpoint=endpoint, table=table)
    assert_one_line_error(no_keys, "SHOPIFY_SESSIONS_TOKEN_KEYS")

    keys = {"SHOPIFY_SESSIONS_TOKEN_KEYS": f"k1:{encode_key(TokenCipher.generate_key())}"}
    result = run("re-encrypt", endpoint=endpoint, table=table, env=keys)
    assert result.code == 0 and "re-encrypted 3 of 3 items under key 'k1'" in result.out, result
    raw = raw_items(endpoint, table)
    assert all(raw[s.id]["accessToken"]["S"].startswith("ssenc:v2:k1:") for s in items)
    # masked reads need no key; a backup does
    listed = run("list", "--shop", BETA, "--json", endpoint=endpoint, table=table)
    assert listed.code == 0 and listed.json()[0]["refreshToken"] == "***", listed
    no_key_export = run("export", "-", endpoint=endpoint, table=table)
    assert no_key_export.code == 1 and no_key_export.out == "", no_key_export
    assert "encrypted with key 'k1'" in no_key_export.err
    assert "SHOPIFY_SESSIONS_TOKEN_KEYS" in no_key_export.err
    assert "3 unreadable items skipped" in no_key_export.err
    exported = run("export", "-", endpoint=endpoint, table=table, env=keys)
    assert exported.code == 0 and "decrypted" in exported.err, exported
    assert all(token in exported.out for token in tokens_of(items))


def test_demo_runs_on_an_embedded_endpoint() -> None:
    result = run("demo")
    assert result.code == 0, result
    assert "started a local DynamoDB endpoint (moto)" in result.out
    assert "found   ['example.myshopify.com_42', 'offline_example.myshopify.com']" in result.out
    assert "shpat_" not in result.out + result.err


def test_a_missing_extra_is_one_line() -> None:
    code = (
        "import sys; sys.modules['moto'] = None; sys.modules['moto.server'] = None\n"
        "from shopify_sessions.cli import main; main(['serve-local', '--port', '0'])"
    )
    result = run(command=[sys.executable, "-c", code])
    assert_one_line_error(result, "pip install 'shopify-sessions[local]'")


def _stop(server: subprocess.Popen[str], signum: int) -> str:
    server.send_signal(signum)
    out, err = server.communicate(timeout=30)
    assert server.returncode == 0, (out, err)
    assert "Traceback" not in err
    return out


def test_serve_local_keeps_sessions_across_restarts(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "local.jsonl"
    # no AWS settings at all: a local endpoint needs none
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
    items = sessions()
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(items))

    server = serve_local(port, data, env)
    try:
        imported = run("import", str(source), env=env)
        assert imported.code == 0 and "imported 3 sessions" in imported.out, imported
    finally:
        out = _stop(server, signal.SIGINT)
    assert "saved 3 sessions" in out
    assert len(data.read_text().splitlines()) == 3

    server = serve_local(port, data, env)
    try:
        listed = run("list", "--json", env=env)
        assert listed.code == 0, listed
        assert sorted(obj["id"] for obj in listed.json()) == sorted(s.id for s in items)
    finally:
        out = _stop(server, signal.SIGTERM)
    assert "saved 3 sessions" in out


def test_purge_leaves_a_session_refreshed_after_the_scan(endpoint: str, table: str) -> None:
    from shopify_sessions.cli._sessions import _delete_if_unchanged
    from shopify_sessions.cli._view import scan

    target = storage(endpoint, table)
    stale = Session(
        id="refreshed",
        shop=ALPHA,
        state="s",
        is_online=False,
        access_token=secret_token("shpat_"),
        expires=NOW - timedelta(hours=1),
    )
    target.store_session(stale)
    (scanned,) = scan(target)
    fresh = stale.copy()
    fresh.access_token, fresh.expires = secret_token("shpat_"), NOW + timedelta(hours=1)
    target.store_session(fresh)  # the app refreshed it meanwhile
    assert _delete_if_unchanged(target, scanned) is False
    assert target.load_session("refreshed") == fresh
    (rescanned,) = scan(target)
    assert _delete_if_unchanged(target, rescanned) is True
    assert target.load_session("refreshed") is None
