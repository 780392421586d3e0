"""Moving in from Shopify's other session storages: read, convert and validate every session.

``read_source("postgresql://...")`` finds the sessions table (or keys, or documents), tells
which storage wrote it, converts every record to a :class:`~shopify_sessions.Session` with that
storage's units, and returns them with the records that cannot be converted (by key, with the
reason; no token is ever shown). Nothing is written anywhere: the caller stores the sessions
(``shopify-sessions import-from`` does, with ``store_newest``).

One module per source family: :mod:`.sql_rows` (Shopify's SQL adapters, Prisma, Drizzle),
:mod:`.keyvalue` (Redis, KV), :mod:`.mongo` (mongoexport); :mod:`.sql` and :mod:`.stores` read
the servers and files; :mod:`.detect` tells the formats apart.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shopify_sessions.domain.session import Session

from .detect import FORMATS, describe, file_format, parse_source, sessions_table
from .drivers import IMPORT_EXTRA_HINT
from .keyvalue import shown_key
from .source_read import ImportSourceError, Problem, SourceRead, group_problems
from .sql import open_sql
from .sql_rows import orm_row_to_session, shopify_row_to_session
from .stores import DEFAULT_REDIS_PREFIX, load_json_records, read_kv, read_mongo, read_redis

__all__ = [
    "FORMATS",
    "IMPORT_EXTRA_HINT",
    "ImportSourceError",
    "Problem",
    "SourceRead",
    "group_problems",
    "read_source",
]


def read_source(
    source: str, *, format: str | None = None, source_table: str | None = None
) -> SourceRead:
    """Every session of ``source``, converted and validated; see the module docstring.

    ``format`` forces a writer (one of ``FORMATS``); ``source_table`` names the SQL table, or
    the Redis key prefix (default ``shopify_sessions``).
    """
    if format is not None and format not in FORMATS:
        raise ImportSourceError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    spec = parse_source(source)
    if spec.kind in ("sqlite", "postgresql", "mysql"):
        return _read_sql(spec.kind, spec.target, spec.shown, format, source_table)
    if spec.kind == "redis":
        if format not in (None, "redis"):
            raise ImportSourceError(f"--format {format} does not apply to a redis:// source")
        prefix = source_table or DEFAULT_REDIS_PREFIX
        read = SourceRead(spec.shown, "redis", describe("redis", "redis"), f"keys {prefix}_*")
        read_redis(read, spec.target, prefix)
    else:
        fmt = format or _file_format(spec.target)
        if fmt not in ("kv", "mongodb"):
            raise ImportSourceError(f"--format {fmt} does not apply to a file (kv or mongodb)")
        read = SourceRead(spec.shown, fmt, describe(fmt, "file"), spec.target)
        (read_kv if fmt == "kv" else read_mongo)(read, spec.target)
    read.drop_duplicates()
    return read


def _read_sql(
    kind: str, target: str, shown: str, forced: str | None, wanted: str | None
) -> SourceRead:
    with open_sql(kind, target) as reader:
        table, fmt = sessions_table(reader.tables(), wanted, forced)
        read = SourceRead(shown, fmt, describe(fmt, kind), f"table {table!r}")
        for number, row in enumerate(reader.rows(table), start=1):
            raw_id = row.get("id")
            key = shown_key(raw_id) if isinstance(raw_id, bytes) else raw_id
            key = key if isinstance(key, str) and key else f"row {number}"
            read.add(key, partial(_convert_row, fmt, row, kind))
    read.drop_duplicates()
    return read


def _convert_row(fmt: str, row: dict[str, Any], kind: str) -> Session:
    if fmt == "shopify":
        return shopify_row_to_session(row, kind)
    return orm_row_to_session(row)


def _file_format(path: str) -> str:
    for _where, record in load_json_records(path):
        if not isinstance(record, ValueError):
            return file_format(record)
    raise ImportSourceError(f"{path} holds no JSON records")
