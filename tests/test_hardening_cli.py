"""Hardening of the CLI's data paths (issue 12): export targets, masked imports, exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from shopify_sessions import DynamoDBSessionStorage
from tests.test_cli import raw_items, run, sessions, storage


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
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    client.put_item(TableName=table, Item={"id": {"S": "broken"}, "shop": {"S": "x"}})
    target = tmp_path / "backup.jsonl"
    result = run("export", str(target), endpoint=endpoint, table=table)
    assert result.code == 1 and "1 unreadable item skipped" in result.err, result
    assert len(target.read_text().splitlines()) == 3
    accepted = run("export", str(target), "--skip-corrupt", endpoint=endpoint, table=table)
    assert accepted.code == 0, accepted
