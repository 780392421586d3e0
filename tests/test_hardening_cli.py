"""Hardening of the CLI's data paths (issue 12): export targets, masked imports, exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shopify_sessions import DynamoDBSessionStorage, Session
from tests.conftest import raw_dynamodb_client
from tests.support.cli_runs import raw_items, run, sessions, storage


@pytest.fixture(name="endpoint")
def _endpoint(moto_server_endpoint: str) -> str:
    return moto_server_endpoint


@pytest.fixture(name="table")
def _table(endpoint: str) -> str:
    name = f"hard_{uuid.uuid4().hex[:10]}"
    DynamoDBSessionStorage(name, host=endpoint).create_table()
    return name


def _seed(endpoint: str, table: str) -> list[str]:
    items = sessions()
    target = storage(endpoint, table)
    for session in items:
        target.store_session(session)
    return [t for s in items for t in (s.access_token, s.refresh_token) if t]


def test_export_writes_into_a_fifo_instead_of_replacing_it(
    endpoint: str, table: str, tmp_path: Path
) -> None:
    tokens = _seed(endpoint, table)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    result = run("export", str(fifo), endpoint=endpoint, table=table)
    out, _ = reader.communicate(timeout=30)
    assert result.code == 0, result
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe
    assert len(out.splitlines()) == 3 and all(token in out for token in tokens)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temp file left behind


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/dev/full").exists(), reason="needs root")
def test_export_to_a_device_is_written_in_place(endpoint: str, table: str) -> None:
    _seed(endpoint, table)
    result = run("export", "/dev/full", endpoint=endpoint, table=table)
    assert result.code == 1 and "cannot export to /dev/full" in result.err, result
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)  # the device node is still there


def test_export_checks_the_target_before_reading_the_table(
    endpoint: str, table: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "backup.jsonl"
    result = run("export", str(missing), endpoint=endpoint, table="no_such_table")
    assert result.code == 1 and str(missing) in result.err and "does not exist" in result.err
    result = run("export", str(tmp_path), endpoint=endpoint, table=table)
    assert result.code == 1 and "is a directory" in result.err, result
    regular = tmp_path / "backup.jsonl"
    regular.write_text("old\n")
    _seed(endpoint, table)
    assert run("export", str(regular), endpoint=endpoint, table=table).code == 0
    assert len(regular.read_text().splitlines()) == 3
    assert stat.S_IMODE(regular.stat().st_mode) == 0o600


def test_import_refuses_masked_tokens(endpoint: str, table: str, tmp_path: Path) -> None:
    tokens = _seed(endpoint, table)
    listed = run("list", "--json", endpoint=endpoint, table=table)
    masked = tmp_path / "masked.jsonl"
    masked.write_text("".join(json.dumps(obj) + "\n" for obj in listed.json()))
    before = raw_items(endpoint, table)
    result = run("import", str(masked), endpoint=endpoint, table=table)
    assert result.code == 1 and "line 1" in result.err and "masked" in result.err, result
    assert raw_items(endpoint, table) == before  # nothing overwritten
    assert all(token not in result.out + result.err for token in tokens)


def test_export_with_unreadable_items_exits_1_unless_told(
    endpoint: str, table: str, tmp_path: Path
) -> None:
    _seed(endpoint, table)
    client = raw_dynamodb_client(endpoint)
    client.put_item(TableName=table, Item={"id": {"S": "broken"}, "shop": {"S": "x"}})
    target = tmp_path / "backup.jsonl"
    result = run("export", str(target), endpoint=endpoint, table=table)
    assert result.code == 1 and "1 unreadable item skipped" in result.err, result
    assert len(target.read_text().splitlines()) == 3
    accepted = run("export", str(target), "--skip-corrupt", endpoint=endpoint, table=table)
    assert accepted.code == 0, accepted


# --- 25: the table as infrastructure code ------------------------------------------------------


def test_the_json_definition_creates_the_same_table(endpoint: str) -> None:
    client = raw_dynamodb_client(endpoint)
    ours = f"iac_ours_{uuid.uuid4().hex[:8]}"
    theirs = f"iac_json_{uuid.uuid4().hex[:8]}"
    DynamoDBSessionStorage(ours, host=endpoint).create_table()
    printed = run("--table", theirs, "create-table", "--print", "json", endpoint=endpoint)
    assert printed.code == 0, printed
    client.create_table(**json.loads(printed.out))
    DynamoDBSessionStorage(theirs, host=endpoint).verify_table()

    def shape(name: str) -> dict[str, object]:
        table = client.describe_table(TableName=name)["Table"]
        return {
            "keys": table["KeySchema"],
            "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "indexes": [
                (i["IndexName"], i["KeySchema"], i["Projection"])
                for i in table["GlobalSecondaryIndexes"]
            ],
            "billing": table.get("BillingModeSummary", {}).get("BillingMode"),
        }

    assert shape(theirs) == shape(ours)


_CFN_LINT = """
import json, sys
try:
    import cfnlint.api
except ImportError:
    print("null")
else:
    print(json.dumps([str(match) for match in cfnlint.api.lint(sys.stdin.read())]))
"""


def test_the_cloudformation_and_terraform_definitions(endpoint: str) -> None:
    import yaml

    printed = run(
        "--table",
        "t1",
        "create-table",
        "--print",
        "cloudformation",
        "--ttl",
        "--provisioned",
        "1",
        "1",
        endpoint=endpoint,
    )
    assert printed.code == 0, printed
    template = yaml.safe_load(printed.out)
    properties = template["Resources"]["ShopifySessionsTable"]["Properties"]
    as_json = json.loads(
        run(
            "--table",
            "t1",
            "create-table",
            "--print",
            "json",
            "--provisioned",
            "1",
            "1",
            endpoint=endpoint,
        ).out
    )
    assert {k: v for k, v in properties.items() if k != "TimeToLiveSpecification"} == as_json
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    # in a process of its own: cfn-lint's rules and schemas take ~100 MB, for good once imported
    lint = subprocess.run(
        [sys.executable, "-c", _CFN_LINT],
        input=printed.out,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert lint.returncode == 0, lint.stderr
    matches = json.loads(lint.stdout)
    if matches is not None:  # None: no cfn-lint (it comes with moto[server])
        assert matches == []

    terraform = run(
        "--table", "t1", "create-table", "--print", "terraform", "--ttl", endpoint=endpoint
    ).out
    assert terraform.count("{") == terraform.count("}")
    for line in (
        'resource "aws_dynamodb_table" "t1"',
        'name         = "t1"',
        'billing_mode = "PAY_PER_REQUEST"',
        'hash_key     = "id"',
        'name            = "shop_index"',
        'projection_type = "KEYS_ONLY"',
        'attribute_name = "ttl"',
    ):
        assert line in terraform


# --- 16: CLI polish -----------------------------------------------------------------------------


def _expired(shop: str, n: int) -> Session:
    from datetime import datetime, timedelta, timezone

    return Session(
        f"{shop}_{n}",
        shop,
        "s",
        True,
        "read_orders",
        access_token=f"shpua_{n}",
        expires=datetime.now(timezone.utc) - timedelta(days=2),
    )


def test_purge_dry_run_summarises_and_lists_all_in_json(endpoint: str, table: str) -> None:
    target = storage(endpoint, table)
    for n in range(30):
        target.store_session(_expired(f"shop{n % 3}.myshopify.com", n))
    dry = run("purge-expired", "--dry-run", endpoint=endpoint, table=table)
    assert dry.code == 0, dry
    assert "first 20; 10 more" in dry.out
    assert "would delete 30 expired sessions of 3 shops" in dry.out
    assert max(len(line) for line in dry.out.splitlines()) <= 120  # no empty refresh columns
    assert "refresh" not in dry.out
    listed = run("purge-expired", "--dry-run", "--json", endpoint=endpoint, table=table).json()
    assert listed["would_delete"] == 30 and sum(map(len, listed["by_shop"].values())) == 30
    done = run("purge-expired", "--json", endpoint=endpoint, table=table)  # no TTY: no question
    assert done.json() == {"deleted": 30, "kept_changed": 0}, done


def _on_a_terminal(args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, answering its question."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        args, stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    os.close(follower)
    os.write(leader, answer.encode())
    out, err = process.communicate(timeout=60)
    os.close(leader)
    return process.returncode, out + err


def test_destructive_commands_ask_on_a_terminal(endpoint: str, table: str) -> None:
    from tests.support.cli_runs import CLI

    target = storage(endpoint, table)
    target.store_session(_expired("ask.myshopify.com", 1))
    base = [*CLI, "--endpoint-url", endpoint, "--table", table]
    code, shown = _on_a_terminal([*base, "delete-shop", "ask.myshopify.com"], "n\n")
    assert code == 1 and "cancelled; nothing was deleted" in shown, shown
    assert target.load_session("ask.myshopify.com_1") is not None
    code, shown = _on_a_terminal([*base, "purge-expired"], "n\n")
    assert code == 1 and target.load_session("ask.myshopify.com_1") is not None, shown
    code, shown = _on_a_terminal([*base, "purge-expired", "--yes"], "")
    assert code == 0 and "deleted 1 expired session" in shown, shown


def test_reporting_commands_speak_json(endpoint: str, table: str) -> None:
    target = storage(endpoint, table)
    for session in sessions():
        target.store_session(session)
    assert run("verify", "--json", endpoint=endpoint, table=table).json() == {
        "table": table,
        "matches": True,
        "differences": [],
    }
    ttl = run("enable-ttl", "--json", endpoint=endpoint, table=table).json()
    assert ttl["scanned"] == 3 and ttl["table"] == table
    keys = {"SHOPIFY_SESSIONS_TOKEN_KEYS": "k1:" + "A" * 43}
    rotated = run("re-encrypt", "--json", endpoint=endpoint, table=table, env=keys).json()
    assert rotated == {"table": table, "scanned": 3, "rewritten": 3, "key": "k1"}
