"""``Session`` <-> the Node adapter's plain JSON form (exports, imports, the Node pipe).

The plain JSON form is the Node item unmarshalled, what ``session.toObject()`` gives in Node
with its dates as ``Date.toISOString()`` strings: camelCase keys, ``YYYY-MM-DDTHH:MM:SS.mmmZ``
dates, ``onlineAccessInfo`` with snake_case keys, absent fields absent, and no ``ttl`` (storage
metadata, not part of a session)::

    {"id": "offline_example.myshopify.com", "shop": "example.myshopify.com", "state": "st",
     "isOnline": false, "scope": "write_products", "accessToken": "shpat_..."}

Both directions go through the package's item codec (``session_to_item`` / ``item_to_session``)
and a small attribute-value (un)marshaller, so this form is the item format and nothing else.
Validation errors name the key that is wrong and never echo a token.

A file of sessions (``shopify-sessions export``, ``serve-local --data``) is JSON Lines: one
session's plain JSON per line, see :func:`parse_node_json_lines`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from shopify_sessions.domain._jsdate import DateRangeError, parse_js_date
from shopify_sessions.domain.session import Session
from shopify_sessions.domain.validation import check_session
from shopify_sessions.dynamodb._avjson import attribute_value_to_json, json_to_attribute_value
from shopify_sessions.dynamodb.codec import item_to_session, session_to_item
from shopify_sessions.dynamodb.item_size import MAX_ITEM_BYTES, item_size
from shopify_sessions.dynamodb.ttl import TTL_ATTRIBUTE
from shopify_sessions.errors import SessionStorageError

__all__ = [
    "NODE_JSON_KEYS",
    "SessionFileError",
    "attribute_value_to_json",
    "json_to_attribute_value",
    "node_json_to_session",
    "parse_node_json_lines",
    "session_to_node_json",
    "session_to_node_json_line",
]

_REQUIRED = ("id", "shop", "state", "isOnline")
# Node's toObject() order, for readable exports
_ORDER = (
    "id",
    "shop",
    "state",
    "isOnline",
    "scope",
    "expires",
    "accessToken",
    "refreshToken",
    "refreshTokenExpires",
    "onlineAccessInfo",
)
_STRINGS = ("scope", "accessToken", "refreshToken")
_DATES = ("expires", "refreshTokenExpires")
NODE_JSON_KEYS = frozenset((*_REQUIRED, *_STRINGS, *_DATES, "onlineAccessInfo"))
_IGNORED = frozenset({TTL_ATTRIBUTE})  # a raw item's storage metadata: accepted and dropped
_INFO_KEYS = {
    "expires_in": "integer",
    "associated_user_scope": "string",
    "associated_user": "object",
}
_USER_KEYS = {
    "id": "integer",
    "first_name": "string",
    "last_name": "string",
    "email": "string",
    "email_verified": "boolean",
    "account_owner": "boolean",
    "locale": "string",
    "collaborator": "boolean",
}


# --- sessions ------------------------------------------------------------------------------------


def session_to_node_json(session: Session) -> dict[str, Any]:
    """The plain JSON of the item this package (and the Node adapter) writes for ``session``."""
    item = session_to_item(session)
    item.pop(TTL_ATTRIBUTE, None)
    rank = {name: position for position, name in enumerate(_ORDER)}
    names = sorted(item, key=lambda name: (rank.get(name, len(rank)), name))
    return {name: attribute_value_to_json(item[name]) for name in names}


def node_json_to_session(obj: Any) -> Session:
    """The ``Session`` whose plain JSON is ``obj``, after checking every key and type.

    Raises ``ValueError`` naming the first problem (unknown key, missing key, wrong type,
    unreadable date); a ``ttl`` key is accepted and ignored. Inside ``onlineAccessInfo`` other
    keys and nulls are kept, as Node keeps them. Token values are never echoed.
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object, got {_json_type(obj)}")
    raw_id = obj.get("id")
    # every message starts with "session 'id': " when the id is readable
    where = f"session {raw_id!r}: " if isinstance(raw_id, str) and raw_id else ""
    unknown = sorted(str(key) for key in obj if key not in NODE_JSON_KEYS | _IGNORED)
    if unknown:
        raise ValueError(
            f"{where}unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} (known: {', '.join(sorted(NODE_JSON_KEYS))})"
        )
    for key in _REQUIRED:
        if obj.get(key) is None:
            raise ValueError(f"{where}{key!r} is missing")
    for key in ("id", "shop", "state"):
        _expect(where, key, obj[key], "string")
        if key != "state" and not obj[key]:
            raise ValueError(f"{where}{key!r} must not be empty")
    _expect(where, "isOnline", obj["isOnline"], "boolean")
    for key in _STRINGS:
        if obj.get(key) is not None:
            _expect(where, key, obj[key], "string")
    for key in _DATES:
        if obj.get(key) is not None:
            _expect(where, key, obj[key], "string")
            try:
                parse_js_date(obj[key])
            except DateRangeError:
                raise ValueError(f"{where}{key!r} is out of range (years 1 to 9999)") from None
            except ValueError:
                raise ValueError(
                    f"{where}{key!r} is not an ISO-8601 date-time "
                    f"(expected e.g. 2026-01-31T12:00:00.000Z)"
                ) from None
    info = obj.get("onlineAccessInfo")
    if info is not None:
        _check_object(where, "onlineAccessInfo", info, _INFO_KEYS)
        user = info.get("associated_user")
        if user:  # {} is Node's "no user known" (fromPropertyArray without a user id)
            path = "onlineAccessInfo.associated_user"
            _check_object(where, path, user, _USER_KEYS)
            if user.get("id") is None:
                raise ValueError(f"{where}'{path}.id' is missing")
    item = {
        name: json_to_attribute_value(value)
        for name, value in obj.items()
        if value is not None and name not in _IGNORED
    }
    return item_to_session(item)


# --- JSON Lines files -----------------------------------------------------------------------------


class SessionFileError(ValueError):
    """A line of a sessions file is not a valid session; ``line`` is its 1-based number."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        self.source = source
        self.line = line
        super().__init__(f"{source} line {line}: {reason}")


def session_to_node_json_line(session: Session) -> str:
    """One line of a sessions file (no newline): the session's plain JSON, compact."""
    return json.dumps(session_to_node_json(session), ensure_ascii=False, separators=(",", ":"))


def parse_node_json_lines(lines: Iterable[str | bytes], *, source: str = "input") -> list[Session]:
    """Every session of a JSON Lines file, all validated before any is returned.

    Blank lines are skipped; line numbers count every line. Raises ``SessionFileError`` naming
    the first bad line: not UTF-8, not JSON, not a valid session, too large for DynamoDB, or an
    id already seen on an earlier line.
    """
    sessions: list[Session] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise SessionFileError(source, number, "is not UTF-8 text") from None
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as error:
            raise SessionFileError(
                source, number, f"is not valid JSON ({error.msg}, column {error.colno})"
            ) from None
        except ValueError as error:
            raise SessionFileError(source, number, f"is not valid JSON ({error})") from None
        try:
            session = node_json_to_session(obj)
            check_session(session)  # lone surrogates, and all DynamoDB refuses, by field
        except (ValueError, TypeError, SessionStorageError) as error:
            raise SessionFileError(source, number, str(error)) from None
        size = item_size(session_to_item(session))
        if size > MAX_ITEM_BYTES:
            raise SessionFileError(
                source,
                number,
                f"session {session.id!r} is {size} bytes as a DynamoDB item, over the "
                f"{MAX_ITEM_BYTES}-byte limit",
            )
        if session.id in seen:
            raise SessionFileError(
                source, number, f"session {session.id!r} is also on line {seen[session.id]}"
            )
        seen[session.id] = number
        sessions.append(session)
    return sessions


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_object(where: str, path: str, value: Any, keys: Mapping[str, str]) -> None:
    """Known keys must have their type; other keys are kept as they are, like Node keeps them."""
    _expect(where, path, value, "object")
    for key, inner in value.items():
        if key in keys and inner is not None:
            _expect(where, f"{path}.{key}", inner, keys[key])


def _expect(where: str, key: str, value: Any, kind: str) -> None:
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, Mapping),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "integer": _is_integral(value),
    }[kind]
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ValueError(f"{where}{key!r} must be {article} {kind}, got {_json_type(value)}")
    if kind == "number" and not math.isfinite(value):
        raise ValueError(f"{where}{key!r} must be a finite number")


def _is_integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    try:
        return isinstance(value, float) and Decimal(repr(value)) == int(value)
    except (InvalidOperation, OverflowError, ValueError):
        return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__
