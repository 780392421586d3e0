"""The documented differences from Node (docs/explanation/node-differences.md), one executable
rule per row; the docs' table is generated from :data:`DOCUMENTED`.

A rule is one of three kinds, each as precise as the row it implements:

- ``refuse``: Python raises where Node builds a session; gives the words Python's error must
  contain (the field it names). Anything else Python does with that input is a failure.
- ``rewrite``: Python reads input ``X`` as Node reads ``rewrite(X)``; Python's observation of
  ``X`` must equal Node's of ``rewrite(X)``, entirely.
- ``transform``: one named observation differs in a stated way; the rest must be equal.

:func:`judge` applies them; any difference no rule explains is reported.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shopify_sessions.domain.flags import flag_from_text

from .differential import MAX_MS, MIN_MS

# rows checked outside the differential suite (store-time checks), and by which test
UNIT_TESTED = {
    "lone-surrogates": "tests/test_node_parity.py"
    "::test_lone_surrogates_are_refused_naming_the_field",
}

_RENAMES = {
    "isonline": "isOnline",
    "accesstoken": "accessToken",
    "refreshtoken": "refreshToken",
    "refreshtokenexpires": "refreshTokenExpires",
    "onlineaccessinfo": "onlineAccessInfo",
    "userid": "userId",
    "firstname": "firstName",
    "lastname": "lastName",
    "accountowner": "accountOwner",
    "emailverified": "emailVerified",
}
_PA_USER_KEYS = (
    "userId",
    "firstName",
    "lastName",
    "email",
    "locale",
    "accountOwner",
    "collaborator",
    "emailVerified",
)
_DATES = ("expires", "refreshTokenExpires")
_MAX_SAFE = 2**53 - 1


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str  # "refuse" | "rewrite" | "transform"
    fn: Callable[..., Any]


# --- helpers ------------------------------------------------------------------------------------


def _rows(entries: list[Any]) -> dict[str, Any] | None:
    """Object.fromEntries after Node's key sanitising; None when a key is not a string."""
    rows: dict[str, Any] = {}
    for key, value in entries:
        if value is None:
            continue
        if not isinstance(key, str):
            return None
        rows[_RENAMES.get(key.lower(), key.lower())] = value
    return rows


def _fields(node: Any) -> dict[str, Any]:
    return node.get("fields", {}) if isinstance(node, dict) else {}


def _node_user(node: Any) -> Any:
    info = _fields(node).get("onlineAccessInfo")
    return info.get("associated_user") if isinstance(info, dict) else None


def _safe_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_SAFE


def _js_truthy(value: Any) -> bool:
    return bool(value) or isinstance(value, (dict, list))


# --- refuse ---------------------------------------------------------------------------------------


def _user_without_id(case: dict[str, Any], node: Any) -> list[str] | None:
    user = _node_user(node)
    if isinstance(user, dict) and user and user.get("id") is None:
        return ["userId", "associated_user.id", "'id'"]
    return None


def _malformed_pa(case: dict[str, Any], node: Any) -> list[str] | None:
    if case["kind"] != "pa":
        return None
    rows = _rows(case["entries"])
    if rows is None:
        return ["keys"]
    needles = [f"'{k}'" for k in ("id", "shop", "state", "accessToken") if _not_str(rows, k)]
    needles += [
        f"'{key}'"
        for key in ("isOnline", "scope", "refreshToken", *_DATES)
        if isinstance(rows.get(key), (list, dict))
    ]
    if any(key not in rows for key in ("id", "shop", "state", "isOnline")):
        needles.append("missing")
    if not needles and _js_truthy(_fields(node).get("isOnline")):
        keys = ("onlineAccessInfo", *(_PA_USER_KEYS if case["rud"] else ()))
        needles += [f"'{k}'" for k in keys if isinstance(rows.get(k), (list, dict))]
        user = _node_user(node)
        if not needles and isinstance(user, dict) and "id" in user and not _safe_int(user["id"]):
            needles += ["'userId'", "'onlineAccessInfo'"]
    return needles or None


def _not_str(rows: dict[str, Any], key: str) -> bool:
    return key in rows and not isinstance(rows[key], str)


def _node_dates(node: Any) -> list[tuple[str, Any]]:
    return [
        (key, value["$date"])
        for key in _DATES
        if isinstance(value := _fields(node).get(key), dict) and "$date" in value
    ]


def _invalid_date(case: dict[str, Any], node: Any) -> list[str] | None:
    return [f"'{key}'" for key, ms in _node_dates(node) if ms is None] or None


def _date_range(case: dict[str, Any], node: Any) -> list[str] | None:
    found = [key for key, ms in _node_dates(node) if ms is not None and not MIN_MS <= ms <= MAX_MS]
    return [f"'{key}'" for key in found] or None


# The date strings the docs say Python reads (checked independently of the implementation).
_DOCUMENTED_DATES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"([+-]\d{6}|\d{4})(-\d\d(-\d\d)?)?(t\d\d:\d\d(:\d\d(\.\d+)?)?)?(z|[+-]\d\d:?\d\d)?",
        r"[1-9]\d{3}-\d\d-\d\d +\d{1,2}:\d\d(:\d\d(\.\d+)?)?"
        r"((\s+(gmt|utc|ut)|\s*z)?(\s*[+-]\d\d(:?\d\d)?)?)",
        r"((mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?\d{1,2}\s+[a-z]{3,9}\s+[1-9]\d{3}"
        r"(\s+\d{1,2}:\d\d(:\d\d(\.\d+)?)?((\s+(gmt|utc|ut)|\s*z)?(\s*[+-]\d\d(:?\d\d)?)?))?",
        r"((mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?[a-z]{3,9}\s+\d{1,2}\s+[1-9]\d{3}"
        r"(\s+\d{1,2}:\d\d(:\d\d(\.\d+)?)?((\s+(gmt|utc|ut)|\s*z)?(\s*[+-]\d\d(:?\d\d)?)?))?"
        r"(\s+\([^()]*\))?",
    )
]


def _exotic_date_strings(case: dict[str, Any], node: Any) -> list[str] | None:
    if case["kind"] != "item":
        return None
    found = []
    for key in _DATES:
        value = case["item"].get(key)
        text = value.get("S") if isinstance(value, dict) else None
        if text and not any(p.fullmatch(text) for p in _DOCUMENTED_DATES):
            found.append(f"'{key}'")
    return found or None


_ITEM_TYPES = {"N", "S", "BOOL", "NULL", "M", "L"}
_USER_TYPES = {
    "id": "I",
    "first_name": "S",
    "last_name": "S",
    "email": "S",
    "locale": "S",
    "email_verified": "BOOL",
    "account_owner": "BOOL",
    "collaborator": "BOOL",
}


def _item_types(case: dict[str, Any], node: Any) -> list[str] | None:
    if case["kind"] != "item":
        return None
    item = case["item"]
    bad = [k for k in ("id", "shop", "state", "isOnline") if _absent(item.get(k))]
    for key in ("id", "shop", "state", "scope", "accessToken", "refreshToken"):
        if not _absent(item.get(key)) and "S" not in item[key]:
            bad.append(key)
    for key, kinds in (
        ("isOnline", ("BOOL", "S", "N")),
        ("expires", ("S", "N")),
        ("refreshTokenExpires", ("S", "N")),
        ("onlineAccessInfo", ("M",)),
    ):
        if not _absent(item.get(key)) and not any(kind in item[key] for kind in kinds):
            bad.append(key)
    info = item.get("onlineAccessInfo")
    if not bad and isinstance(info, dict) and "M" in info:
        bad += _map_types(
            info["M"], "onlineAccessInfo", {"expires_in": "I", "associated_user_scope": "S"}
        )
        user = info["M"].get("associated_user")
        if isinstance(user, dict) and "NULL" not in user:
            if "M" not in user:
                bad.append("onlineAccessInfo.associated_user")
            else:
                bad += _map_types(user["M"], "onlineAccessInfo.associated_user", _USER_TYPES)
    return [f"'{key}'" for key in bad] or None


def _absent(value: Any) -> bool:
    return not value or "NULL" in value


def _map_types(raw: dict[str, Any], path: str, types: dict[str, str]) -> list[str]:
    bad = []
    for key, value in raw.items():
        if key == "associated_user" or _absent(value):
            continue
        kind = types.get(key)
        if kind is None:
            if not _storable(value):
                bad.append(f"{path}.{key}")
        elif kind == "I":
            if "N" not in value or not _safe_int_text(value["N"]):
                bad.append(f"{path}.{key}")
        elif kind not in value:
            bad.append(f"{path}.{key}")
    return bad


def _safe_int_text(text: str) -> bool:
    number = Decimal(text)
    return number == number.to_integral_value() and abs(number) <= _MAX_SAFE


def _storable(value: Any) -> bool:
    """Only JSON-like attribute types can be kept in ``extra`` (no B, SS, NS, BS)."""
    ((kind, data),) = value.items()
    if kind == "M":
        return all(_storable(inner) for inner in data.values())
    if kind == "L":
        return all(_storable(inner) for inner in data)
    return kind in _ITEM_TYPES


_PARAM_TYPES = {
    "id": str,
    "shop": str,
    "state": str,
    "isOnline": bool,
    "scope": str,
    "accessToken": str,
    "refreshToken": str,
}


def _type_checked(case: dict[str, Any], node: Any) -> list[str] | None:
    if case["kind"] != "session":
        return None
    params = case["params"]
    bad = [_PY.get(k, k) for k in ("id", "shop", "state", "isOnline") if params.get(k) is None]
    bad += [_PY.get(k, k) for k, t in _PARAM_TYPES.items() if not _is_or_none(params.get(k), t)]
    bad += [
        _PY[key]
        for key in _DATES
        if params.get(key) is not None
        and not (isinstance(params[key], dict) and isinstance(params[key].get("$date"), int))
    ]
    needles = [f"Session.{name}" for name in bad] + [f"'{name}'" for name in bad]
    info = params.get("onlineAccessInfo")
    if info is not None and not isinstance(info, dict):
        needles.append("Session.online_access_info")
    elif isinstance(info, dict):
        types = {"expires_in": int, "associated_user_scope": str, "associated_user": dict}
        needles += [f"OnlineAccessInfo.{k}" for k in _nested_types(info, types)]
        needles += ["OnlineAccessInfo.extra"] if _unsafe_float(info) else []
        user = info.get("associated_user")
        if isinstance(user, dict) and user.get("id") is not None:
            types = {k: bool if t == "BOOL" else str for k, t in _USER_TYPES.items()}
            needles += [f"AssociatedUser.{k}" for k in _nested_types(user, {**types, "id": int})]
            needles += ["AssociatedUser.extra"] if _unsafe_float(user) else []
    return needles or None


def _unsafe_float(value: Any) -> bool:
    """A float Node's marshall refuses (beyond 2**53), anywhere in a map's values."""
    if isinstance(value, float):
        return abs(value) > _MAX_SAFE
    if isinstance(value, dict):
        return any(_unsafe_float(inner) for inner in value.values())
    if isinstance(value, list):
        return any(_unsafe_float(inner) for inner in value)
    return False


_PY = {
    "isOnline": "is_online",
    "accessToken": "access_token",
    "refreshToken": "refresh_token",
    "refreshTokenExpires": "refresh_token_expires",
    "expires": "expires",
}


def _is_or_none(value: Any, kind: type) -> bool:
    return value is None or _is(value, kind)


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _nested_types(raw: dict[str, Any], types: dict[str, type]) -> list[str]:
    bad = []
    for key, kind in types.items():
        value = raw.get(key)
        if value is not None and (not _is(value, kind) or (kind is int and not _safe_int(value))):
            bad.append(key)
    return bad


# --- rewrite --------------------------------------------------------------------------------------


def _empty_strings(case: dict[str, Any]) -> dict[str, Any] | None:
    keys = ("scope", "accessToken", "refreshToken")
    if case["kind"] == "session":
        drop = [k for k in keys if case["params"].get(k) == ""]
        params = {k: v for k, v in case["params"].items() if k not in drop}
        return {**case, "params": params} if drop else None
    if case["kind"] == "item":
        drop = [k for k in keys if case["item"].get(k) == {"S": ""}]
        item = {k: v for k, v in case["item"].items() if k not in drop}
        return {**case, "item": item} if drop else None
    if case["kind"] == "pa":
        rows = _rows(case["entries"])
        drop = {k for k in ("scope", "accessToken") if rows and rows.get(k) == ""}
        entries = [
            [k, v]
            for k, v in case["entries"]
            if not (isinstance(k, str) and _RENAMES.get(k.lower(), k.lower()) in drop)
        ]
        return {**case, "entries": entries} if drop else None
    return None


def _user_bool_strings(case: dict[str, Any]) -> dict[str, Any] | None:
    if case["kind"] != "pa" or not case["rud"]:
        return None
    bools = {"emailVerified", "accountOwner", "collaborator"}
    entries = [
        [k, flag_from_text(v) is True]
        if isinstance(k, str) and _RENAMES.get(k.lower(), k.lower()) in bools and isinstance(v, str)
        else [k, v]
        for k, v in case["entries"]
    ]
    return {**case, "entries": entries} if entries != case["entries"] else None


def _isonline_string(case: dict[str, Any]) -> dict[str, Any] | None:
    value = case["item"].get("isOnline") if case["kind"] == "item" else None
    if not isinstance(value, dict) or ("S" not in value and "N" not in value):
        return None
    online = value["S"].lower() == "true" if "S" in value else Decimal(value["N"]) != 0
    return {**case, "item": {**case["item"], "isOnline": {"BOOL": online}}}


_NO_OFFSET = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?")


def _local_time(case: dict[str, Any]) -> dict[str, Any] | None:
    if case.get("tz", "UTC") == "UTC" or case["kind"] != "item":
        return None
    item = dict(case["item"])
    for key in _DATES:
        text = item.get(key, {}).get("S", "")
        if _NO_OFFSET.fullmatch(text):
            item[key] = {"S": text + "Z"}
    return {**case, "item": item, "tz": "UTC"}


_SESSION_ATTRIBUTES = {
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
}


def _unreadable_numbers(case: dict[str, Any]) -> dict[str, Any] | None:
    """Node's unmarshall throws on a number beyond 2**53 that is no integer literal, even in
    an attribute it then ignores; Python ignores such attributes without reading them."""
    if case["kind"] != "item":
        return None
    item = {
        key: value
        for key, value in case["item"].items()
        if key in _SESSION_ATTRIBUTES or not _has_unreadable_number(value)
    }
    return {**case, "item": item} if item != case["item"] else None


def _has_unreadable_number(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if "N" in value and not re.fullmatch(r"\s*[+-]?\d+\s*", value["N"]):
        return abs(Decimal(value["N"])) > _MAX_SAFE
    inner = list((value.get("M") or {}).values()) + list(value.get("L") or [])
    return any(_has_unreadable_number(v) for v in inner)


# --- transform ------------------------------------------------------------------------------------


def _pa_no_user(case: dict[str, Any], expected: Any) -> Any:
    info = _fields(expected).get("onlineAccessInfo")
    if not isinstance(info, dict) or info.get("associated_user") is not None:
        return None
    if not isinstance(expected.get("pa"), dict) or "error" not in expected["pa"]:
        return None
    return {**expected, "pa": expected["paUser"], "fromPaNoUser": expected["fromPa"]}


def _scopes_equals(case: dict[str, Any], expected: Any) -> Any:
    if case["kind"] != "scopes" or "error" in expected:
        return None
    changed = {
        "aEqualsB": expected["aEqualsB"] and expected["aHasB"],
        "bEqualsA": expected["bEqualsA"] and expected["bHasA"],
    }
    return {**expected, **changed}


RULES = {
    rule.id: rule
    for rule in (
        Rule("scopes-equals", "transform", _scopes_equals),
        Rule("empty-strings", "rewrite", _empty_strings),
        Rule("user-bool-strings", "rewrite", _user_bool_strings),
        Rule("pa-no-user", "transform", _pa_no_user),
        Rule("user-without-id", "refuse", _user_without_id),
        Rule("malformed-pa", "refuse", _malformed_pa),
        Rule("invalid-date", "refuse", _invalid_date),
        Rule("date-range", "refuse", _date_range),
        Rule("exotic-date-strings", "refuse", _exotic_date_strings),
        Rule("local-time", "rewrite", _local_time),
        Rule("isonline-string", "rewrite", _isonline_string),
        Rule("unreadable-numbers", "rewrite", _unreadable_numbers),
        Rule("item-types", "refuse", _item_types),
        Rule("type-checked", "refuse", _type_checked),
    )
}


@dataclass(frozen=True)
class Documented:
    """A row of the docs' table "Differences from Node" (Markdown cells)."""

    input: str
    node: str
    python: str
    why: str


# The docs table is generated from this (docs/hooks/generated.py): one row per rule of RULES
# and per store-time check of UNIT_TESTED, and nothing else (documented_rows checks).
DOCUMENTED = {
    "scopes-equals": Documented(
        "`AuthScopes.equals`",
        "checks one direction: `read_a` equals `write_a`",
        "symmetric: both grant the same scopes",
        "an equality that is not symmetric is a bug",
    ),
    "empty-strings": Documented(
        '`""` as `scope`, `accessToken`, `refreshToken`',
        "kept on the object and in `toPropertyArray`; `toObject()` drops it, so never stored",
        "`None` from the start",
        "the same item; a session equals itself after a round trip",
    ),
    "user-bool-strings": Documented(
        (
            "`emailVerified`, `accountOwner`, `collaborator` as strings in "
            "`fromPropertyArray(rows, true)`"
        ),
        "`Boolean('false')` is `true`",
        "`'true'` / `'false'` in any case as the booleans; other strings false",
        "Node's is a bug; SQL storages give strings back",
    ),
    "pa-no-user": Documented(
        "`toPropertyArray()` of a session whose `onlineAccessInfo` has no `associated_user`",
        "throws `TypeError`",
        "the pairs, without `onlineAccessInfo`",
        "Node's is a bug (with user data it gives the same pairs)",
    ),
    "user-without-id": Documented(
        (
            "an `associated_user` that is not empty but has no `id`: built in code, in an item, or "
            "user fields without `userId` in a property array"
        ),
        "accepted",
        "`TypeError` / `ValueError` / `CorruptSessionError` naming the id",
        (
            "a user without an id cannot own an online session (whose id embeds it); Node's empty "
            "`{}` is read and kept"
        ),
    ),
    "malformed-pa": Documented(
        (
            "property arrays missing `id`, `shop`, `state` or `isOnline`; a non-string `id`, "
            "`shop`, `state` or `accessToken`; arrays or objects as values; user ids that are not "
            "integers within 2^53"
        ),
        "builds a session that cannot be stored or checked",
        "`TypeError` / `ValueError` naming the property",
        "an import fails at the bad row, not later",
    ),
    "invalid-date": Documented(
        (
            'a date that is an Invalid Date in JavaScript (`"abc"`, epoch ms beyond ±8.64e15, '
            "month 13)"
        ),
        "a session that is never expired and cannot be stored (`toISOString` throws)",
        "refused naming the field; `CorruptSessionError` for items",
        'an unreadable expiry must not mean "never expires"',
    ),
    "date-range": Documented(
        (
            "valid JavaScript dates before year 1 or after 9999 (`8.64e15` ms is year 275760; "
            "`9999-12-31T23:59:59-05:00`)"
        ),
        "read",
        (
            "refused naming the field, never a raw `OverflowError`; find and scans skip such items "
            "with a warning"
        ),
        "Python's `datetime` spans years 1 to 9999",
    ),
    "exotic-date-strings": Documented(
        "date strings outside the forms listed below",
        (
            'V8\'s lenient fallback parser reads many (`2026/01/15`, `Jan 15 2026`, `"0"` as '
            "2000-01-01)"
        ),
        "`CorruptSessionError` naming the attribute",
        "V8's heuristics are not a format",
    ),
    "local-time": Documented(
        "a date-time string without an offset",
        "read in the host's time zone",
        "read as UTC",
        (
            "the same on UTC hosts (Lambda, containers); a service's answer should not depend on "
            "its host"
        ),
    ),
    "isonline-string": Documented(
        "`isOnline` stored as S or N",
        'kept as is, so `"false"` is truthy',
        (
            "a bool by `fromPropertyArray`'s rule (`'true'` in any case; a number `!= 0`), "
            "re-stored as BOOL"
        ),
        "Node keeps a latent bug",
    ),
    "unreadable-numbers": Documented(
        (
            "an attribute outside the session holding a number beyond 2^53 that is not an integer "
            "literal"
        ),
        "`loadSession` throws (its unmarshall)",
        "the attribute is ignored, like every unknown attribute",
        (
            "it is not part of the session; inside `onlineAccessInfo`, where it would be kept, "
            "Python refuses it too"
        ),
    ),
    "item-types": Documented(
        (
            "items with `id`, `shop`, `state` or `isOnline` missing; `id`, `shop`, `state`, "
            "`scope` or a token not S; `isOnline` not BOOL, S or N; a date not S or N; "
            "`onlineAccessInfo` not a map, or its known keys of the wrong type (`expires_in` or "
            "the user `id` not an integer within 2^53, a name not S, a flag not BOOL); binary or "
            "set values inside it"
        ),
        "read as they are",
        "`CorruptSessionError` naming the attribute (skipped with a warning by find and scans)",
        "`Session`'s typed fields hold what they say",
    ),
    "type-checked": Documented(
        (
            "wrong types given to `Session`, `OnlineAccessInfo`, `AssociatedUser` (ids and "
            "`expires_in` must be integers within 2^53; `extra` must hold JSON values, floats "
            "within 2^53)"
        ),
        "`new Session(anything)`",
        "`TypeError` / `ValueError` naming the field",
        "fail where the mistake is, not in DynamoDB or in Node's marshall",
    ),
    "lone-surrogates": Documented(
        "text with a lone UTF-16 surrogate (id, shop, state, scope, tokens, names, `extra`)",
        "no check",
        (
            "store, load, find and delete refuse it with `InvalidSessionError` naming the field, "
            "before any request"
        ),
        (
            "not valid UTF-8, so not storable as DynamoDB text (checked in "
            "`tests/test_node_parity.py`)"
        ),
    ),
}


def documented_rows() -> list[tuple[str, str, Documented]]:
    """(id, how it is checked, row) for every documented difference, in the table's order."""
    ids = {*RULES, *UNIT_TESTED}
    if set(DOCUMENTED) != ids:
        raise ValueError(
            f"rules without a documented row: {sorted(ids - set(DOCUMENTED))}; "
            f"rows without a rule: {sorted(set(DOCUMENTED) - ids)}"
        )
    return [
        (id, UNIT_TESTED.get(id) or f"differential ({RULES[id].kind})", row)
        for id, row in DOCUMENTED.items()
    ]


def rewritten(case: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """``case`` after every applicable rewrite rule, and the rules that changed it."""
    used = set()
    for rule in RULES.values():
        if rule.kind == "rewrite" and (new := rule.fn(case)) is not None and new != case:
            case, used = new, used | {rule.id}
    return case, used


def judge(
    case: dict[str, Any], node_of: Callable[[dict[str, Any]], Any], python: Any
) -> tuple[list[str], set[str]]:
    """Problems (undocumented differences) between Python's observation and Node's."""
    node = node_of(case)
    refusals = {
        rule.id: needles
        for rule in RULES.values()
        if rule.kind == "refuse" and (needles := rule.fn(case, node))
    }
    if refusals:
        if not is_error(python):
            return [f"documented as refused by {sorted(refusals)}, but Python accepted it"], set()
        message = python["message"]
        named = {rule for rule, needles in refusals.items() if any(n in message for n in needles)}
        if not named:
            return [f"Python's error {message!r} names none of {refusals}"], set()
        return [], named
    target, used = rewritten(case)
    expected = copy.deepcopy(node_of(target))
    for rule in RULES.values():
        if rule.kind == "transform" and (new := rule.fn(target, expected)) is not None:
            if new != expected:
                used.add(rule.id)
            expected = new
    return differences(expected, python), used


def is_error(value: Any) -> bool:
    return isinstance(value, dict) and "error" in value


def differences(node: Any, python: Any, path: str = "") -> list[str]:
    """Where two observations differ; two errors are alike, ``{"skip": true}`` is anything."""
    if isinstance(python, dict) and python.get("skip") is True:
        return []
    if is_error(node) or is_error(python):
        if is_error(node) and is_error(python):
            return []
        return [f"{path or '.'}: Node {_short(node)} / Python {_short(python)}"]
    if isinstance(node, dict) and isinstance(python, dict):
        out = []
        for key in sorted(set(node) | set(python)):
            if key not in node or key not in python:
                out.append(
                    f"{path}.{key}: Node {_short(node.get(key))} / Python {_short(python.get(key))}"
                )
            else:
                out += differences(node[key], python[key], f"{path}.{key}")
        return out
    if isinstance(node, list) and isinstance(python, list) and len(node) == len(python):
        return [
            d
            for i, (a, b) in enumerate(zip(node, python, strict=False))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if _canon(node) != _canon(python):
        return [f"{path or '.'}: Node {_short(node)} / Python {_short(python)}"]
    return []


def _canon(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", float(value) if abs(value) < 2**53 else value)
    if isinstance(value, (list, tuple)):
        return [_canon(inner) for inner in value]
    if isinstance(value, dict):
        return {key: _canon(inner) for key, inner in value.items()}
    return (type(value).__name__, value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
