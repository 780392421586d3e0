"""Reading key-value and document sources: a Redis server, a KV dump, a mongoexport file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from shopify_sessions.domain.session import Session

from .drivers import driver
from .keyvalue import add_value, kv_dump_entries, shown_key
from .mongo import decode_extended_json, document_to_session
from .source_read import ImportSourceError, Problem, SourceRead

__all__ = ["DEFAULT_REDIS_PREFIX", "load_json_records", "read_kv", "read_mongo", "read_redis"]

DEFAULT_REDIS_PREFIX = "shopify_sessions"
_BATCH = 500


def read_redis(read: SourceRead, url: str, prefix: str) -> None:
    """Every ``{prefix}_*`` key (SCAN, then MGET in batches): sessions, shop lists, migrations."""
    redis = driver("redis", "redis")
    try:
        client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=15)
        client.ping()
    except redis.RedisError as error:
        raise ImportSourceError(f"cannot connect to Redis: {error}") from None
    pattern = _glob_escape(prefix) + "_*"
    try:
        keys = iter(client.scan_iter(match=pattern, count=1000))
        while batch := list(islice(keys, _BATCH)):
            values = client.mget(batch)
            for key, value in zip(batch, values, strict=True):
                add_value(read, shown_key(key), value)
    finally:
        client.close()


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def load_json_records(path: str) -> Iterator[tuple[str, Any]]:
    """(where, record) of a JSON array file or a JSON Lines file; a bad line gives
    (where, ``ValueError``). Text is never repaired: a line that is not UTF-8 is a problem."""
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"["):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            bad = data[: error.start].count(b"\n") + 1
            raise ImportSourceError(f"{path}, line {bad}: not UTF-8 text") from None
        try:
            records = json.loads(text)
        except ValueError as error:
            raise ImportSourceError(f"{path} is not valid JSON ({error})") from None
        for number, record in enumerate(records, start=1):
            yield f"entry {number}", record
        return
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield f"line {number}", ValueError("not UTF-8 text")
            continue
        try:
            yield f"line {number}", json.loads(line)
        except ValueError:
            yield f"line {number}", ValueError("not valid JSON")


def read_kv(read: SourceRead, path: str) -> None:
    """A wrangler bulk JSON dump of the KV namespace (``[{"key", "value"}]``)."""
    for where, record in load_json_records(path):
        if isinstance(record, ValueError):
            read.problems.append(Problem(where, str(record)))
            continue
        for key, value in kv_dump_entries(record, where):
            add_value(read, key, value)


def read_mongo(read: SourceRead, path: str) -> None:
    """A ``mongoexport`` file: one document a line, or one array (``--jsonArray``)."""
    for where, record in load_json_records(path):
        if isinstance(record, ValueError):
            read.problems.append(Problem(where, str(record)))
            continue
        if not isinstance(record, dict):
            read.problems.append(Problem(where, "not a JSON object"))
            continue
        key = record.get("id")
        read.add(f"{where} ({key})" if isinstance(key, str) and key else where, _converter(record))


def _converter(record: dict[str, Any]) -> Callable[[], Session]:
    return lambda: document_to_session(decode_extended_json(record))
