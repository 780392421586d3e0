"""Redis and Cloudflare KV: property-array JSON values, told apart from the other keys by shape.

``@shopify/shopify-app-session-storage-redis`` 8.0.0 (``dist/esm/redis.mjs``,
``redis-connection.mjs``) stores ``JSON.stringify(session.toPropertyArray(true))`` (dates in
epoch **milliseconds**) under ``{prefix}_{id}`` (prefix ``shopify_sessions`` by default), a JSON
array of those keys under ``{prefix}_{shop}`` (the shop list) and ``{"migrateToVersion1_0_1":
true}`` under ``{prefix}_migrations``. ``-kv`` 8.0.0 (``dist/esm/kv.mjs``) stores the same
values under ``{id}``, and the shop list, of ids, under ``shop:{shop}``. A key says nothing
reliable (a shop list and a session share the prefix), so each value's shape decides:
an array of ``[key, value]`` pairs is a session, an array of strings a shop list, an object
a migrations record. ``onlineAccessInfo.expires_in`` and ``associated_user_scope`` were never
stored (``toPropertyArray`` drops them) and are not invented.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from shopify_sessions.domain.session import Session

from .source_read import SourceRead
from .values import epoch_ms_value, text_or_none

__all__ = [
    "Shape",
    "add_value",
    "kv_dump_entries",
    "property_array_to_session",
    "shape_of",
    "shown_key",
]

Shape = Literal["session", "shop list", "migrations record", "unknown"]
_DATES = {"expires": "expires", "refreshtokenexpires": "refreshTokenExpires"}


def shape_of(value: Any) -> Shape:
    """What a decoded value is, by its shape alone."""
    if isinstance(value, list):
        if value and all(
            isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
            for entry in value
        ):
            return "session"
        if all(isinstance(entry, str) for entry in value):
            return "shop list"  # an empty list too: a shop whose sessions were all deleted
        return "unknown"
    if isinstance(value, dict) and all(isinstance(flag, bool) for flag in value.values()):
        return "migrations record"
    return "unknown"


def property_array_to_session(pairs: list[list[Any]]) -> Session:
    """``toPropertyArray(true)`` JSON (dates in ms) -> Session."""
    converted: list[tuple[str, Any]] = []
    for key, value in pairs:
        lower = key.lower()
        if lower in _DATES and value is not None:
            value = epoch_ms_value(_DATES[lower], value, "ms")
        elif lower in ("id", "shop", "state", "scope", "accesstoken", "refreshtoken"):
            value = text_or_none(key, value)
        converted.append((key, value))
    return Session.from_property_array(converted, return_user_data=True)


def shown_key(key: bytes) -> str:
    """A key as text for a problem: bytes that are not UTF-8 shown as ``\\xNN`` escapes,
    never as U+FFFD (the key is only named, never stored)."""
    return key.decode("utf-8", errors="backslashreplace")


def add_value(read: SourceRead, key: str, raw: bytes | str | None) -> None:
    """Decode one stored value and file it: a session, a skipped kind, or a problem."""
    if raw is None:
        read.add(key, _raise("no readable value"))
        return
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        read.add(key, _raise("the value is not UTF-8 text"))
        return
    try:
        value = json.loads(text)
    except ValueError:
        read.add(key, _raise("the value is not JSON"))
        return
    shape = shape_of(value)
    if shape == "session":
        read.add(key, lambda: property_array_to_session(value))
    elif shape == "unknown":
        read.add(key, _raise("the value is JSON but not a session, shop list or migrations"))
    else:
        read.skip(shape)


def _raise(reason: str) -> Callable[[], Session]:
    def convert() -> Session:
        raise ValueError(reason)

    return convert


def kv_dump_entries(data: Any, source: str) -> Iterator[tuple[str, bytes | str | None]]:
    """(key, value) of a KV dump: wrangler's bulk JSON, ``[{"key": K, "value": V}, ...]``
    (``"base64": true`` values decoded; ``expiration`` and ``metadata`` ignored), as an array
    or one object a line. A malformed entry comes as (``"{source} entry N"``, ``None``)."""
    entries: Iterable[Any] = data if isinstance(data, list) else [data]
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            yield f"{source} entry {number}", None
            continue
        value = entry.get("value")
        if entry.get("base64") and isinstance(value, str):
            try:  # bytes: add_value decodes them, naming the key if they are not UTF-8
                decoded = base64.b64decode(value, validate=True)
            except ValueError:
                yield entry["key"], None
                continue
            yield entry["key"], decoded
            continue
        yield entry["key"], value if isinstance(value, str) else json.dumps(value)
