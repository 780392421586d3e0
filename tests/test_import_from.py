"""``shopify-sessions import-from``, proven against the real Node session storages.

The real adapters from npm (``tests/interop/session_sources.mjs``: Shopify's PostgreSQL,
MySQL, SQLite, Redis, KV and MongoDB storages, and the Drizzle adapter on all three databases)
write one battery of sessions into real servers started here (PostgreSQL, MariaDB, Redis from
the machine's packages) and files; the CLI then moves them into a dynalite table, and every
imported session must equal, for Python and for Node's ``Session.equals``, the battery
session at the precision its source keeps. The writer checks those expectations against what
the same adapter loads back, so the precision rules below are the adapters', not ours.

Not from a real writer: KV runs on an in-memory KVNamespace (Cloudflare's runtime is not
here) and MongoDB on a collection that keeps BSON (no mongod in Debian), exported as
mongoexport writes; Prisma cannot run (its engines are native downloads), so its tables are
built from its migration DDL and encodings (``tests/support/prisma_tables.py``).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shopify_sessions import DynamoDBSessionStorage, Session
from shopify_sessions.domain.session import AssociatedUser, OnlineAccessInfo
from shopify_sessions.formats.node_json import session_to_node_json
from tests.conftest import IN_CI, raw_dynamodb_client
from tests.support import prisma_tables
from tests.support.cli_runs import assert_no_token, run
from tests.support.dynalite import INTEROP_DIR, node_available
from tests.support.node_adapter import NodeAdapter
from tests.support.servers import Server, missing_servers, run_mariadb, run_postgresql, run_redis

pytestmark = pytest.mark.interop

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ALPHA, BETA, GAMMA = "alpha.myshopify.com", "beta.myshopify.com", "gamma.myshopify.com"


def _token(prefix: str) -> str:
    return prefix + "".join(random.choices("QXZJVKW", k=24))


def _at(delta: timedelta, ms: int) -> datetime:
    return NOW + delta + timedelta(milliseconds=ms)


BATTERY = [
    Session(
        id=f"offline_{ALPHA}",
        shop=ALPHA,
        state="s1",
        is_online=False,
        scope="write_products,read_orders",
        access_token=_token("shpat_"),
    ),
    Session(
        id=f"{ALPHA}_902541635",
        shop=ALPHA,
        state="s2",
        is_online=True,
        scope="write_products",
        expires=_at(timedelta(days=1), 537),
        access_token=_token("shpua_"),
        online_access_info=OnlineAccessInfo(
            expires_in=86399,
            associated_user_scope="write_products",
            associated_user=AssociatedUser(
                id=902541635,
                first_name="Jöhn",
                last_name="O'Brien 🍩",
                email="john@example.com",
                email_verified=True,
                account_owner=True,
                locale="fr-CA",
                collaborator=False,
            ),
        ),
    ),
    Session(
        id=f"offline_{BETA}",
        shop=BETA,
        state="s3",
        is_online=False,
        scope="read_products",
        expires=_at(timedelta(hours=1), 123),
        access_token=_token("shpat_"),
        refresh_token=_token("shprt_"),
        refresh_token_expires=_at(timedelta(days=90), 999),
    ),
    Session(
        id=f"offline_{GAMMA}",
        shop=GAMMA,
        state="",
        is_online=False,
        scope="read_products, write_orders,unauthenticated_read_product_listings",
        access_token=_token("shpat_+/=") + "==",
    ),
    Session(
        id=f"{BETA}_1099511627776",
        shop=BETA,
        state="s5",
        is_online=True,
        scope="read_orders",
        expires=_at(timedelta(hours=2), 1),
        access_token=_token("shpua_"),
        online_access_info=OnlineAccessInfo(
            expires_in=7200,
            associated_user=AssociatedUser(id=2**40, first_name="Zoë 中文 🎉", locale="ja"),
        ),
    ),
]
TOKENS = [t for s in BATTERY for t in (s.access_token, s.refresh_token) if t]


@dataclass(frozen=True)
class Keeps:
    """What a source keeps of a session: date units, and the traps of its writer."""

    expires: str = "ms"  # "s": epoch seconds, the milliseconds are gone
    refresh: str = "ms"
    info_extras: bool = False  # onlineAccessInfo.expires_in / associated_user_scope
    prisma_flags: bool = False  # Prisma writes absent user flags as false


SECONDS, POSTGRES = Keeps("s", "s"), Keeps("s", "ms")


def _cut(value: datetime | None, unit: str) -> datetime | None:
    return value.replace(microsecond=0) if value is not None and unit == "s" else value


def expected(session: Session, keeps: Keeps) -> Session:
    """The battery session as it must come back from a source that keeps ``keeps``."""
    out = session.copy()
    out.expires = _cut(out.expires, keeps.expires)
    out.refresh_token_expires = _cut(out.refresh_token_expires, keeps.refresh)
    info = out.online_access_info
    if info is not None and not keeps.info_extras:
        info.expires_in = None
        info.associated_user_scope = None
    user = info.associated_user if info is not None else None
    if user is not None and keeps.prisma_flags:
        user.account_owner = bool(user.account_owner)
        user.collaborator = bool(user.collaborator)
        user.email_verified = bool(user.email_verified)
    return out


@dataclass(frozen=True)
class Source:
    args: tuple[str, ...]  # import-from SOURCE [--source-table NAME]
    format: str  # what the output must name
    keeps: Keeps
    writer: str  # "node" (the real adapter) or "reconstructed"


# node writer target -> (Keeps, format named in the output)
NODE_TARGETS = {
    "postgresql": (POSTGRES, "Shopify's PostgreSQL session storage"),
    "mysql": (SECONDS, "Shopify's MySQL session storage"),
    "sqlite": (SECONDS, "Shopify's SQLite session storage"),
    "redis": (Keeps(), "Shopify's Redis session storage"),
    "drizzle-postgresql": (Keeps(), "Drizzle"),
    "drizzle-mysql": (SECONDS, "Drizzle"),  # timestamp without fsp: whole seconds
    "drizzle-sqlite": (Keeps(), "Drizzle"),
    "kv": (Keeps(), "KV session storage"),
    "mongodb": (Keeps(info_extras=True), "MongoDB session storage"),
    "mongodb-canonical": (Keeps(info_extras=True), "MongoDB session storage"),
}
PRISMA = Keeps(prisma_flags=True)
SOURCE_NAMES = [
    *NODE_TARGETS,
    "prisma-sqlite-epoch-ms",
    "prisma-sqlite-iso",
    "prisma-postgresql",
    "prisma-mysql",
]


@dataclass
class Peers:
    servers: dict[str, Server]
    sources: dict[str, Source]
    folder: Path


def _write_with_node(targets: list[dict[str, Any]]) -> dict[str, Any]:
    request = {"battery": [session_to_node_json(s) for s in BATTERY], "targets": targets}
    process = subprocess.run(
        ["node", str(INTEROP_DIR / "session_sources.mjs")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=INTEROP_DIR,
        check=False,
    )
    lines = process.stdout.strip().splitlines()
    assert lines, f"session_sources.mjs said nothing: {process.stderr[-2000:]}"
    answer: dict[str, Any] = json.loads(lines[-1])
    assert answer.get("ok"), f"{answer.get('error')} {process.stderr[-2000:]}"
    return dict(answer["results"])


@pytest.fixture(scope="module")
def peers() -> Iterator[Peers]:
    """The servers, started once; the battery written by every real writer, once."""
    reasons = {**missing_servers()}
    node = node_available()
    if node is None and not (INTEROP_DIR / "node_modules" / "sqlite3").exists():
        node = "tests/interop/node_modules lacks the session storages: run npm ci there"
    if node is not None:
        reasons["node"] = node
    if reasons:
        why = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        if IN_CI:
            pytest.fail(f"CI=true but import-from's peers cannot run: {why}")
        pytest.skip(f"import-from's peers cannot run: {why}")
    folder = Path(tempfile.mkdtemp(prefix="import-from-"))
    with run_postgresql() as pg, run_mariadb() as maria, run_redis() as redis:
        paths = {
            k: str(folder / f"{k}.{ext}")
            for k, ext in (
                ("sqlite", "sqlite"),
                ("drizzle-sqlite", "sqlite"),
                ("kv", "json"),
                ("mongodb", "jsonl"),
                ("mongodb-canonical", "json"),
            )
        }
        urls = {
            "postgresql": pg.url,
            "drizzle-postgresql": pg.url,
            "mysql": maria.url,
            "drizzle-mysql": maria.url,
            "redis": redis.url,
        }
        targets = [
            {
                "kind": kind,
                "url": urls.get(kind),
                "path": paths.get(kind),
                "expected": [session_to_node_json(expected(s, keeps)) for s in BATTERY],
            }
            for kind, (keeps, _name) in NODE_TARGETS.items()
        ]
        results = _write_with_node(targets)
        for kind, result in results.items():  # our precision rules == what the adapter loads
            assert result["written"] == len(BATTERY), kind
            assert all(result["equals"].values()), (kind, result["equals"])
        prisma_tables.write_sqlite(str(folder / "prisma-ms.sqlite"), BATTERY, "epoch_ms")
        prisma_tables.write_sqlite(str(folder / "prisma-iso.sqlite"), BATTERY, "iso")
        prisma_tables.write_postgresql(pg.url, BATTERY)
        prisma_tables.write_mysql(maria.port, BATTERY)
        sources: dict[str, Source] = {}
        for kind, (keeps, name) in NODE_TARGETS.items():
            target = urls.get(kind) or (
                f"sqlite:///{paths[kind]}" if "sqlite" in kind else paths[kind]
            )
            table = {
                "postgresql": "shopify_sessions",
                "mysql": "shopify_sessions",
                "drizzle-postgresql": "session",
                "drizzle-mysql": "session",
            }.get(kind)
            args = (target, "--source-table", table) if table else (target,)
            sources[kind] = Source(args, name, keeps, "node")
        for kind, target, table in (
            ("prisma-sqlite-epoch-ms", f"sqlite:///{folder / 'prisma-ms.sqlite'}", None),
            ("prisma-sqlite-iso", str(folder / "prisma-iso.sqlite"), None),
            ("prisma-postgresql", f"{pg.url}?schema=public", "Session"),  # Prisma's URL
            ("prisma-mysql", maria.url, "Session"),
        ):
            args = (target, "--source-table", table) if table else (target,)
            sources[kind] = Source(args, "Prisma Session model", PRISMA, "reconstructed")
        yield Peers({"postgresql": pg, "mariadb": maria, "redis": redis}, sources, folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def node(dynalite_endpoint: str) -> Iterator[NodeAdapter]:
    """One Node adapter process for the module; each test reads its own table through it."""
    with NodeAdapter(dynalite_endpoint) as adapter:
        yield adapter


@pytest.fixture
def table(dynalite_endpoint: str) -> Iterator[DynamoDBSessionStorage]:
    storage = DynamoDBSessionStorage(f"import_{uuid.uuid4().hex[:10]}", host=dynalite_endpoint)
    storage.create_table()
    yield storage
    raw_dynamodb_client(dynalite_endpoint).delete_table(TableName=storage.table_name)


def _import(endpoint: str, storage: DynamoDBSessionStorage, *args: str) -> Any:
    return run("import-from", *args, endpoint=endpoint, table=storage.table_name)


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_every_session_arrives_as_the_source_kept_it(
    name: str,
    peers: Peers,
    table: DynamoDBSessionStorage,
    dynalite_endpoint: str,
    node: NodeAdapter,
) -> None:
    source = peers.sources[name]
    result = _import(dynalite_endpoint, table, *source.args)
    assert result.code == 0, result
    assert source.format in result.err, result  # the detected format is named
    assert f"imported {len(BATTERY)} of {len(BATTERY)} sessions (3 shops)" in result.out, result
    assert_no_token(result.out + result.err, TOKENS)
    wanted = [expected(s, source.keeps) for s in BATTERY]
    for session in wanted:
        assert table.load_session(session.id) == session, (name, session.id)
    for session in wanted:
        expect = session_to_node_json(session)
        _loaded, equals = node.load(session.id, expect=expect, table=table.table_name)
        assert equals, (name, session.id)


def test_sql_sources_with_several_tables_ask_which(
    peers: Peers, table: DynamoDBSessionStorage, dynalite_endpoint: str
) -> None:
    result = _import(dynalite_endpoint, table, peers.servers["postgresql"].url)
    assert result.code == 1, result
    for listed in ("shopify_sessions (shopify)", "session (drizzle)", "Session (prisma)"):
        assert listed in result.err, result
    assert "--source-table" in result.err and table.load_session(f"offline_{ALPHA}") is None


def test_a_newer_session_in_dynamodb_is_kept_and_a_rerun_changes_nothing(
    peers: Peers, table: DynamoDBSessionStorage, dynalite_endpoint: str
) -> None:
    source = peers.sources["redis"]
    assert _import(dynalite_endpoint, table, *source.args).code == 0
    refreshed = replace(table.load_session(f"offline_{BETA}") or BATTERY[2])
    refreshed.expires = _at(timedelta(hours=5), 0)
    refreshed.access_token = _token("shpat_")
    table.store_session(refreshed)
    again = _import(dynalite_endpoint, table, *source.args)
    assert again.code == 0, again
    assert "kept 1 newer already there" in again.out, again
    assert table.load_session(f"offline_{BETA}") == refreshed
    assert table.load_session(f"offline_{ALPHA}") == expected(BATTERY[0], source.keeps)


def test_bad_records_are_listed_by_key_without_tokens_and_dry_run_writes_nothing(
    peers: Peers, table: DynamoDBSessionStorage, dynalite_endpoint: str
) -> None:
    import redis

    secret = _token("shpat_")
    client = redis.Redis.from_url(peers.servers["redis"].url)
    prefix = f"broken{uuid.uuid4().hex[:6]}"
    good = [
        ["id", "offline_delta.myshopify.com"],
        ["shop", "delta.myshopify.com"],
        ["state", "x"],
        ["isOnline", False],
        ["accessToken", secret],
    ]
    client.set(f"{prefix}_offline_delta.myshopify.com", json.dumps(good))
    client.set(f"{prefix}_delta.myshopify.com", json.dumps([f"{prefix}_offline_delta"]))
    seconds = [*good[:4], ["expires", int(NOW.timestamp())], ["accessToken", secret]]
    seconds[0] = ["id", "offline_eps.myshopify.com"]
    client.set(f"{prefix}_offline_eps.myshopify.com", json.dumps(seconds))
    client.set(f"{prefix}_offline_junk", "{not json " + secret)
    url = peers.servers["redis"].url
    dry = _import(dynalite_endpoint, table, url, "--source-table", prefix, "--dry-run")
    assert dry.code == 1, dry
    assert "would import 1 of 1 sessions" in dry.out, dry
    assert "skipped 1 shop list (not sessions)" in dry.out, dry
    assert f"{prefix}_offline_eps.myshopify.com" in dry.out and "(seconds?)" in dry.out, dry
    assert f"{prefix}_offline_junk" in dry.out and "not JSON" in dry.out, dry
    assert_no_token(dry.out + dry.err, [secret])
    assert table.load_session("offline_delta.myshopify.com") is None
    real = _import(dynalite_endpoint, table, url, "--source-table", prefix, "--json")
    assert real.code == 1, real
    summary = real.json()
    assert summary["imported"] == 1 and len(summary["problems"]) == 2, summary
    assert table.load_session("offline_delta.myshopify.com") is not None
    assert_no_token(real.out + real.err, [secret])


def test_a_different_legacy_token_in_dynamodb_is_kept_unless_overwrite(
    table: DynamoDBSessionStorage, dynalite_endpoint: str, tmp_path: Path
) -> None:
    old, new = _token("shpat_"), _token("shpat_")
    document = {"id": f"offline_{ALPHA}", "shop": ALPHA, "state": "", "isOnline": False}
    source = tmp_path / "sessions.json"
    source.write_text(json.dumps({**document, "accessToken": old}) + "\n")
    reinstalled = Session(f"offline_{ALPHA}", ALPHA, "", False, access_token=new)
    table.store_session(reinstalled)  # after the cut-over: a newer token than the source's

    kept = _import(dynalite_endpoint, table, str(source))
    assert kept.code == 0, kept
    assert "imported 0 of 1 sessions" in kept.out and "kept 1 newer already there" in kept.out
    assert f"--overwrite replaces it): offline_{ALPHA}" in kept.out, kept
    assert table.load_session(reinstalled.id) == reinstalled
    summary = _import(dynalite_endpoint, table, str(source), "--json").json()
    assert summary["kept"] == [f"offline_{ALPHA}"] and summary["imported"] == 0, summary

    overwritten = _import(dynalite_endpoint, table, str(source), "--overwrite")
    assert overwritten.code == 0 and "imported 1 of 1" in overwritten.out, overwritten
    stored = table.load_session(reinstalled.id)
    assert stored is not None and stored.access_token == old
    again = _import(dynalite_endpoint, table, str(source))  # the same token: a re-run
    assert again.code == 0 and "imported 1 of 1" in again.out, again
    assert_no_token(kept.out + kept.err + overwritten.out + again.out, [old, new])


def test_bad_text_and_numbers_are_problems_naming_their_key_never_replaced(
    table: DynamoDBSessionStorage, dynalite_endpoint: str, tmp_path: Path
) -> None:
    import sqlite3

    database = tmp_path / "sessions.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE shopify_sessions (id varchar(255) NOT NULL PRIMARY KEY, shop "
            "varchar(255) NOT NULL, state varchar(255) NOT NULL, isOnline integer NOT NULL, "
            "expires integer, scope varchar(255), accessToken varchar(255), userId integer)"
        )
        rows = [(f"offline_{ALPHA}", ALPHA, "x"), (f"offline_{BETA}", BETA, "x")]
        connection.executemany(
            "INSERT INTO shopify_sessions VALUES (?, ?, ?, 0, NULL, ?, 'tok', NULL)",
            [(id, shop, state, "read_products") for id, shop, state in rows],
        )
        connection.execute(  # Latin-1 bytes where UTF-8 text belongs
            "UPDATE shopify_sessions SET scope = CAST(X'72656164E9' AS TEXT) WHERE id = ?",
            (f"offline_{BETA}",),
        )
    sql = _import(dynalite_endpoint, table, f"sqlite:///{database}", "--json")
    assert sql.code == 1, sql
    assert sql.json()["problems"] == [
        {"key": f"offline_{BETA}", "reason": "'scope' is not UTF-8 text"}
    ]
    assert table.load_session(f"offline_{BETA}") is None
    assert table.load_session(f"offline_{ALPHA}") is not None

    mongo = tmp_path / "sessions.json"
    base = {"shop": GAMMA, "state": "", "isOnline": False, "accessToken": "tok"}
    mongo.write_bytes(
        json.dumps({**base, "id": f"offline_{GAMMA}", "userId": {"$numberLong": "abc"}}).encode()
        + b"\n"
        + json.dumps({**base, "id": "offline_delta", "state": "café"}, ensure_ascii=False).encode(
            "latin-1"
        )
        + b"\n"
        + json.dumps({**base, "id": "offline_eps", "state": "\ud800"}).encode()
        + b"\n"
    )
    documents = _import(dynalite_endpoint, table, str(mongo), "--json")
    assert documents.code == 1, documents
    assert documents.json()["problems"] == [
        {"key": f"line 1 (offline_{GAMMA})", "reason": "a $numberLong does not hold a number"},
        {"key": "line 2", "reason": "not UTF-8 text"},
        {
            "key": "line 3 (offline_eps)",
            "reason": "state is not valid UTF-8 text (it holds a lone surrogate)",
        },
    ], documents
    assert "\ufffd" not in documents.out


def test_a_missing_driver_is_one_line_naming_the_pip_command() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from shopify_sessions.cli import main\n"
        "main(['import-from', 'postgresql://u:pw@127.0.0.1:1/db'])"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert process.returncode == 1, process
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'shopify-sessions[import]'" in lines[0], lines
    assert "pw" not in lines[0]


# --- the conversions alone (no servers) ------------------------------------------------------


def test_a_date_in_the_wrong_unit_is_a_problem_not_a_date_1000_times_off() -> None:
    from shopify_sessions.importers.sql_rows import shopify_row_to_session

    row = {"id": "offline_x", "shop": "x", "state": "", "isOnline": 0, "accessToken": "t"}
    ms = int(NOW.timestamp() * 1000)
    with pytest.raises(ValueError, match=r"'expires' is too large for epoch seconds"):
        shopify_row_to_session({**row, "expires": ms}, "sqlite")
    with pytest.raises(ValueError, match=r"'refreshTokenExpires' is too small for epoch"):
        shopify_row_to_session({**row, "refreshTokenExpires": ms // 1000}, "postgresql")
    session = shopify_row_to_session(
        {**row, "expires": ms // 1000, "refreshtokenexpires": ms}, "postgresql"
    )
    assert session.expires == NOW and session.refresh_token_expires == NOW


@pytest.mark.parametrize(
    "value",
    [
        datetime(2030, 1, 1, 0, 0, 0, 537000),
        1893456000537,
        "1893456000537",
        "2030-01-01T00:00:00.537Z",
        "2030-01-01 00:00:00.537",
        "2030-01-01 00:00:00.537 +00:00",
        "2030-01-01T01:00:00.537+01:00",
    ],
)
def test_orm_dates_in_every_encoding_the_drivers_write(value: Any) -> None:
    from shopify_sessions.importers.values import orm_datetime

    assert orm_datetime("expires", value) == datetime(2030, 1, 1, 0, 0, 0, 537000, timezone.utc)


def test_key_value_shapes_and_extended_json() -> None:
    from shopify_sessions.importers.detect import table_format
    from shopify_sessions.importers.keyvalue import shape_of
    from shopify_sessions.importers.mongo import decode_extended_json, document_to_session

    assert shape_of([["id", "x"], ["shop", "y"]]) == "session"
    assert shape_of(["shopify_sessions_offline_x"]) == shape_of([]) == "shop list"
    assert shape_of({"migrateToVersion1_0_1": True}) == "migrations record"
    assert shape_of({"id": "x"}) == shape_of([1, 2]) == "unknown"
    canonical = {
        "id": "a_1",
        "shop": "a",
        "state": "",
        "isOnline": True,
        "expires": {"$date": {"$numberLong": "1893456000537"}},
        "onlineAccessInfo": {
            "expires_in": {"$numberInt": "60"},
            "associated_user": {"id": {"$numberLong": "1099511627776"}},
        },
    }
    session = document_to_session(decode_extended_json(canonical))
    assert session.expires == datetime(2030, 1, 1, 0, 0, 0, 537000, timezone.utc)
    info = session.online_access_info
    assert info is not None and info.expires_in == 60
    assert info.associated_user is not None and info.associated_user.id == 2**40
    base = {"id": "text", "shop": "text", "state": "text", "isonline": "boolean"}
    assert table_format({**base, "expires": "integer"}) == "shopify"
    assert table_format({**base, "expires": "DATETIME"}) == "prisma"
    assert table_format({**base, "expires": "timestamp(3) without time zone"}) == "prisma"
    assert table_format({**base, "expires": "timestamp without time zone"}) == "drizzle"
    assert table_format({**base, "expires": "text"}) == "drizzle"
    assert table_format({"id": "text", "shop": "text"}) is None
