"""Inputs for the differential suite: hypothesis strategies and hand-picked edges.

Cases are JSON (see tests/interop/differential.mjs). Sessions are generated as Node
constructor params; property arrays and items are derived from them here, by code that does
not use the package (so a bug in the package cannot shape its own inputs), then perturbed the
ways other writers and hands perturb them.
"""

from __future__ import annotations

import email.utils
from datetime import timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from .differential import EPOCH, MAX_MS, MIN_MS, NOW_MS

SCOPE_WORDS = (
    "read_products",
    "write_products",
    "read_orders",
    "write_orders",
    "unauthenticated_write_checkouts",
    "unauthenticated_read_checkouts",
    "write_customers",
    "read_customers",
    "write_a\rb",
    "write_",
    "Write_products",
)
# separators and padding where JavaScript's whitespace and Python's differ (U+FEFF, U+001C-F,
# U+0085), and where they agree
SPACES = ("", " ", "\t", "\u00a0", "\ufeff", "\x1c", "\x1f", "\u0085", "\u2028", "\u3000", "\n ")
_SAFE = 2**53 - 1
_DAY = 86_400_000

texts = st.text(max_size=8) | st.sampled_from(
    ["", "é", "日本語", "🙂", "a" * 300, "\ud800", "x\u0000y", "Ünïcødé ✓"]
)
ids = st.text(min_size=1, max_size=10) | st.sampled_from(
    ["offline_shop.myshopify.com", "shop.myshopify.com_42", "i" * 1000, "🙂_id"]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-_SAFE, max_value=_SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
date_ms = (
    st.integers(min_value=MIN_MS, max_value=MAX_MS)
    | st.integers(min_value=NOW_MS - 2 * _DAY, max_value=NOW_MS + 2 * _DAY)
    | st.sampled_from(
        [
            MIN_MS,
            MAX_MS,
            0,
            -1,
            1,
            NOW_MS,
            NOW_MS + 500,
            NOW_MS - 500,
            NOW_MS + 501,
            -62_135_596_799_999,
        ]
    )
)


@st.composite
def scope_strings(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(SCOPE_WORDS) | st.text(max_size=5), max_size=5))
    text = draw(st.sampled_from(SPACES))
    for word in words:
        text += word + draw(st.sampled_from(SPACES)) + "," + draw(st.sampled_from(SPACES))
    return text + draw(st.sampled_from(["", ",", " "]))


scope_lists = st.lists(
    st.builds(
        lambda a, w, b: a + w + b,
        st.sampled_from(SPACES),
        st.sampled_from(SCOPE_WORDS),
        st.sampled_from(SPACES),
    ),
    max_size=4,
)
scope_specs = st.recursive(
    st.none() | scope_strings() | scope_lists,
    lambda inner: st.builds(lambda spec: {"$scopes": spec}, inner),
    max_leaves=2,
)
probes = st.fixed_dictionaries(
    {
        "withins": st.just([0, 500, 1, -1, 60_000]),
        "scopes": st.lists(scope_specs, min_size=1, max_size=3).map(lambda s: [None, "", *s]),
    }
)


def _optional(strategy: Any) -> Any:
    return st.none() | strategy


users = st.fixed_dictionaries(
    {"id": st.integers(min_value=-_SAFE, max_value=_SAFE) | st.sampled_from([0, 42, 2**40, _SAFE])},
    optional={
        "first_name": _optional(texts),
        "last_name": _optional(texts),
        "email": _optional(texts),
        "email_verified": _optional(st.booleans()),
        "account_owner": _optional(st.booleans()),
        "locale": _optional(texts),
        "collaborator": _optional(st.booleans()),
        "scopes_granted": json_values,  # a key Shopify might add: kept as it is
    },
)
infos = st.fixed_dictionaries(
    {},
    optional={
        "expires_in": _optional(st.integers(min_value=-_SAFE, max_value=_SAFE)),
        "associated_user_scope": _optional(scope_strings()),
        "associated_user": st.none() | st.just({}) | users,
        "session_note": json_values,
    },
)


def _date(ms: int) -> dict[str, int]:
    return {"$date": ms}


session_params = st.fixed_dictionaries(
    {"id": ids, "shop": ids, "state": texts, "isOnline": st.booleans()},
    optional={
        "scope": _optional(scope_strings()),
        "expires": _optional(date_ms.map(_date)),
        "accessToken": _optional(texts),
        "refreshToken": _optional(texts),
        "refreshTokenExpires": _optional(date_ms.map(_date)),
        "onlineAccessInfo": _optional(infos),
    },
)
session_cases = st.builds(
    lambda p, q: {"kind": "session", "params": p, "probes": q}, session_params, probes
)


# --- property arrays ------------------------------------------------------------------------------

_PA_ORDER = (
    "id",
    "shop",
    "state",
    "isOnline",
    "scope",
    "expires",
    "accessToken",
    "refreshToken",
    "refreshTokenExpires",
)
_PA_USER = (
    ("userId", "id"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("email", "email"),
    ("locale", "locale"),
    ("emailVerified", "email_verified"),
    ("accountOwner", "account_owner"),
    ("collaborator", "collaborator"),
)


def node_property_array(params: dict[str, Any], user_data: bool) -> list[list[Any]]:
    """What Node's toPropertyArray gives for ``params`` (written from its source, not ours)."""
    pairs: list[list[Any]] = []
    for key in _PA_ORDER:
        value = params.get(key)
        if value is not None:
            pairs.append([key, value["$date"] if isinstance(value, dict) else value])
    user = (params.get("onlineAccessInfo") or {}).get("associated_user") or {}
    if user and not user_data:
        pairs.append(["onlineAccessInfo", user["id"]])
    elif user:
        pairs += [[key, user[name]] for key, name in _PA_USER if name in user]
    return pairs


_STRINGIFY = {
    "isOnline": lambda v: st.sampled_from([v, str(v).lower(), str(v).upper(), int(v), "yes"]),
    "expires": lambda v: st.sampled_from([v, str(v), f" {v} ", v + 0.7, -(abs(v) + 0.5), "0", 0]),
    "userId": lambda v: st.sampled_from([v, str(v), f"{v}.0", f"\ufeff{v}", f"0x{abs(v):x}"]),
    "emailVerified": lambda v: st.sampled_from([v, "true", "false", "FALSE", "", 0, 1, "no"]),
}


@st.composite
def pa_cases(draw: st.DrawFn) -> dict[str, Any]:
    params = draw(session_params)
    rud = draw(st.booleans())
    pairs = node_property_array(params, rud)
    out = []
    for key, value in pairs:
        convert = _STRINGIFY.get(key) or (
            _STRINGIFY["emailVerified"] if key in ("accountOwner", "collaborator") else None
        )
        if key == "refreshTokenExpires":
            convert = _STRINGIFY["expires"]
        if convert is not None and draw(st.booleans()):
            value = draw(convert(value))
        case = draw(st.sampled_from(["same", "lower", "upper", "same", "same"]))
        key = {"same": key, "lower": key.lower(), "upper": key.upper()}[case]
        out.append([key, value])
    if draw(st.booleans()):
        out = draw(st.permutations(out))
    extras = draw(
        st.lists(
            st.tuples(st.sampled_from(["foo", "Scope", "expires", "ID"]), json_scalars), max_size=2
        )
    )
    out += [list(pair) for pair in extras]
    return {"kind": "pa", "entries": out, "rud": rud, "probes": draw(probes)}


# --- items ----------------------------------------------------------------------------------------


def js_number_text(value: float) -> str:
    """JavaScript's String(number), for the few shapes generated here."""
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if text.endswith(".0"):
        text = text[:-2]
    return text


def marshall(value: Any) -> dict[str, Any]:
    """``@aws-sdk/util-dynamodb``'s marshall for JSON values (written from its behaviour)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": js_number_text(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [marshall(inner) for inner in value]}
    return {"M": {str(k): marshall(v) for k, v in value.items()}}


def iso(ms: int) -> str:
    moment = EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def node_item(params: dict[str, Any]) -> dict[str, Any]:
    """The item Node's adapter writes for ``new Session(params)``: toObject, ISO dates."""
    item: dict[str, Any] = {}
    for key in ("id", "shop", "state", "isOnline"):
        item[key] = marshall(params[key])
    for key in ("scope", "expires", "accessToken", "refreshToken", "refreshTokenExpires"):
        value = params.get(key)
        if value:
            item[key] = {"S": iso(value["$date"])} if isinstance(value, dict) else {"S": value}
    if params.get("onlineAccessInfo"):
        item["onlineAccessInfo"] = marshall(params["onlineAccessInfo"])
    return item


@st.composite
def date_texts(draw: st.DrawFn, ms: int) -> str:
    """``ms`` as one of the string forms other writers use (some beyond what Python reads)."""
    moment = EPOCH + timedelta(milliseconds=ms)
    offset = timezone(timedelta(minutes=draw(st.sampled_from([0, 330, -300, 59, -(23 * 60 + 59)]))))
    local = moment.astimezone(offset) if 1 < moment.year < 9999 else moment
    form = draw(st.sampled_from(range(12)))
    stamp = iso(ms)
    if form == 0:
        return local.isoformat(timespec="milliseconds")
    if form == 1:
        return stamp.lower()
    if form == 2:
        return (
            stamp[:19]
            + "."
            + draw(st.sampled_from(["", "1", "12", "123456", "1234567"])).ljust(1, "0")
            + "Z"
        )
    if form == 3:
        return stamp[:16] + "Z"
    if form == 4:
        return stamp[:10]
    if form == 5:
        return str(local)  # Python's str(datetime): "YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM"
    if form == 6 and moment.year >= 1000:
        return email.utils.format_datetime(moment, usegmt=True)
    if form == 7 and moment.year >= 1000:
        return email.utils.format_datetime(local)
    if form == 8 and moment.year >= 1000:
        name = local.strftime("%z")
        return local.strftime("%a %b %d %Y %H:%M:%S GMT") + name + " (Some Zone)"
    if form == 9:
        return "+00" + stamp if not stamp.startswith("-") else stamp
    if form == 10:
        return stamp.replace("T", " ")
    return draw(
        st.sampled_from(["2026/01/15", "Jan 15 2026 12:00", "next tuesday", "0", " " + stamp])
    )


@st.composite
def item_cases(draw: st.DrawFn) -> dict[str, Any]:
    params = draw(session_params)
    item = node_item(params)
    for key in ("expires", "refreshTokenExpires"):
        value = params.get(key)
        if isinstance(value, dict) and draw(st.booleans()):
            choice = draw(st.sampled_from(["text", "text", "number", "empty", "null"]))
            item[key] = {
                "text": lambda v=value: {"S": draw(date_texts(v["$date"]))},
                "number": lambda v=value: {"N": str(v["$date"])},
                "empty": lambda: {"S": ""},
                "null": lambda: {"NULL": True},
            }[choice]()
    if draw(st.integers(0, 5)) == 0:
        item["isOnline"] = draw(
            st.sampled_from([{"S": "true"}, {"S": "FALSE"}, {"S": "yes"}, {"N": "1"}, {"N": "0"}])
        )
    if draw(st.integers(0, 4)) == 0:
        item[draw(st.sampled_from(["ttl", "someOtherField"]))] = marshall(draw(json_scalars))
    return {"kind": "item", "item": item, "probes": draw(probes)}


scopes_cases = st.builds(lambda a, b: {"kind": "scopes", "a": a, "b": b}, scope_specs, scope_specs)
cases = st.one_of(session_cases, pa_cases(), item_cases(), scopes_cases)


# --- hand-picked edges ----------------------------------------------------------------------------

EDGE_PROBES = {
    "withins": [0, 500, 1, -1, 60_000],
    "scopes": [
        None,
        "",
        "read_products",
        ["write_products", "\ufeffread_orders"],
        {"$scopes": "read_orders"},
    ],
}
BASE = {
    "id": "offline_shop.myshopify.com",
    "shop": "shop.myshopify.com",
    "state": "st",
    "isOnline": False,
}
USER = {
    "id": 42,
    "first_name": "Ada",
    "last_name": "L",
    "email": "ada@example.com",
    "email_verified": True,
    "account_owner": False,
    "locale": "en",
    "collaborator": False,
}
ONLINE = {
    **BASE,
    "id": "shop.myshopify.com_42",
    "isOnline": True,
    "scope": "write_products,read_orders",
    "expires": {"$date": NOW_MS + 3_600_000},
    "accessToken": "shpua_token",
    "refreshToken": "shprt_token",
    "refreshTokenExpires": {"$date": NOW_MS + 86_400_000},
    "onlineAccessInfo": {
        "expires_in": 3600,
        "associated_user_scope": "write_products",
        "associated_user": USER,
    },
}
PA_BASE = [["id", "offline_x"], ["shop", "x.myshopify.com"], ["state", "s"], ["isOnline", False]]
PA_ONLINE = [["id", "x_42"], ["shop", "x.myshopify.com"], ["state", "s"], ["isOnline", True]]


def _session(**params: Any) -> dict[str, Any]:
    return {"kind": "session", "params": params, "probes": EDGE_PROBES}


def _pa(entries: list[list[Any]], rud: bool = False) -> dict[str, Any]:
    return {"kind": "pa", "entries": entries, "rud": rud, "probes": EDGE_PROBES}


def _item(tz: str = "UTC", **attributes: Any) -> dict[str, Any]:
    item = {**node_item(BASE), **attributes}
    item = {key: value for key, value in item.items() if value is not None}
    case = {"kind": "item", "item": item, "probes": EDGE_PROBES}
    return {**case, "tz": tz} if tz != "UTC" else case


def _online_item(info: dict[str, Any]) -> dict[str, Any]:
    return _item(isOnline={"BOOL": True}, onlineAccessInfo={"M": info})


def edge_cases() -> list[dict[str, Any]]:
    """The issue's classes 1-9, items 7 and 12 of issue 12, and boundaries, by hand."""
    user_m = marshall(USER)["M"]
    cases = [
        # 1: property-array order, with a refresh token and user data
        _session(**ONLINE),
        _session(**{**ONLINE, "refreshToken": None, "scope": "", "accessToken": ""}),
        _session(
            **{**BASE, "expires": {"$date": MAX_MS}, "refreshTokenExpires": {"$date": MIN_MS}}
        ),
        _session(**{**BASE, "expires": {"$date": NOW_MS + 500}, "scope": "write_a\rb,read_c"}),
        _session(**{**BASE, "id": "i" * 2000, "shop": "日本.myshopify.com", "state": "🙂"}),
        _session(**{**BASE, "id": "\ud800lone", "accessToken": "tok\udfff"}),
        # 2: user booleans as strings
        _pa(
            [
                *PA_ONLINE,
                ["userId", "42"],
                ["emailVerified", "false"],
                ["accountOwner", "FALSE"],
                ["collaborator", "true"],
            ],
            True,
        ),
        _pa(
            [
                *PA_ONLINE,
                ["userId", 42],
                ["emailVerified", ""],
                ["accountOwner", 0],
                ["collaborator", "yes"],
            ],
            True,
        ),
        # 3: online without a user id
        _pa(PA_ONLINE),
        _pa(PA_ONLINE, True),
        _pa([*PA_ONLINE, ["firstName", "Ada"], ["email", "a@b.c"]], False),
        _pa(
            [*PA_ONLINE, ["onlineAccessInfo", "42"], ["userId", "7"], ["onlineAccessInfo", "9"]],
            True,
        ),
        # 4: onlineAccessInfo without associated_user
        _session(**{**ONLINE, "onlineAccessInfo": {}}),
        _session(**{**ONLINE, "onlineAccessInfo": {"expires_in": 5, "associated_user": None}}),
        _session(**{**ONLINE, "onlineAccessInfo": {"associated_user": {}}}),
        # 5: associated_user without an id
        _session(**{**ONLINE, "onlineAccessInfo": {"associated_user": {"first_name": "Ada"}}}),
        _online_item({"associated_user": {"M": {"email": {"S": "a@b.c"}}}}),
        _online_item({"associated_user": {"M": {"id": {"NULL": True}, "email": {"S": "a@b.c"}}}}),
        _online_item({"associated_user": {"M": {}}}),
        _pa([*PA_ONLINE, ["firstName", "Ada"]], True),
        # 6: whitespace in scopes
        {
            "kind": "scopes",
            "a": "\ufeffread_a,\x1cwrite_b\u0085, read_c\u3000",
            "b": ["\ufeffread_a", " write_b\x1f"],
        },
        {
            "kind": "scopes",
            "a": "read_a,\u2028write_b,\u00a0\u0085",
            "b": {"$scopes": "write_b ,read_a"},
        },
        {"kind": "scopes", "a": "read_a", "b": "write_a"},
        {"kind": "scopes", "a": "write_a", "b": ["read_a", "write_a"]},
        {
            "kind": "scopes",
            "a": "unauthenticated_write_x,write_",
            "b": "unauthenticated_read_x,read_",
        },
        # 7: dates in property arrays
        *[
            _pa([*PA_BASE, ["expires", value], ["refreshTokenExpires", value]])
            for value in (
                "0",
                0,
                "-1.5",
                -1.5,
                1.9,
                "  ",
                "0x10",
                True,
                8.64e15,
                -8.64e15,
                8.64e15 + 1,
                "1e400",
                MAX_MS,
                MAX_MS + 1,
                MIN_MS,
                MIN_MS - 1,
                "abc",
                "",
            )
        ],
        # 8: malformed property arrays
        _pa(PA_BASE[1:]),
        _pa([["id", "x"], ["shop", "s"], ["isOnline", "true"]]),
        _pa([["id", 5], *PA_BASE[1:]]),
        _pa([*PA_BASE, ["scope", True]]),
        _pa([*PA_BASE, ["scope", 1.5]]),
        _pa([*PA_BASE, ["scope", 1e21]]),
        _pa([*PA_BASE, ["scope", ""], ["accessToken", ""], ["refreshToken", ""]]),
        _pa([*PA_BASE, ["refreshToken", 5]]),
        _pa([*PA_BASE, ["accessToken", 5]]),
        _pa([*PA_BASE, ["scope", ["a", "b"]]]),
        _pa([*PA_BASE, ["isOnline", []]]),
        _pa([[1, "x"], *PA_BASE]),
        _pa([*PA_ONLINE, ["onlineAccessInfo", "abc"]]),
        _pa([*PA_ONLINE, ["onlineAccessInfo", 4.5]]),
        _pa([*PA_ONLINE, ["onlineAccessInfo", ""]]),
        _pa([*PA_ONLINE, ["onlineAccessInfo", "9007199254740993"]]),
        _pa([*PA_ONLINE, ["userId", [1]]], True),
        _pa([*PA_BASE, ["onlineAccessInfo", "abc"]]),
        _pa(
            [*PA_ONLINE, ["userId", 7], ["firstName", 1e21], ["locale", True], ["email", 0.1]], True
        ),
        # 9: hand-written and other writers' items
        *[
            _item(expires={"S": text}, refreshTokenExpires={"S": text})
            for text in (
                "2026-01-15 12:00:00",
                "2026-01-15T12:00:00",
                "2026-01-15",
                "Thu, 15 Jan 2026 12:00:00 GMT",
                "Thu Jan 15 2026 13:00:00 GMT+0100 (Central European Standard Time)",
                "2026-01-15T12:00:00.123456789+05:30",
                "2026-02-30T00:00:00Z",
                "2026-01-15T24:00:00Z",
                "+002026-01-15T12:00:00.000Z",
                "9999-12-31T23:59:59.000-05:00",
                "0001-01-01T00:00:00.000+05:00",
                "+275760-09-13T00:00:00.000Z",
                "2026/01/15",
                "Jan 15 2026",
                "0",
                "next tuesday",
                " 2026-01-15T12:00:00Z",
                "",
            )
        ],
        _item(expires={"N": str(NOW_MS)}, refreshTokenExpires={"N": "0"}),
        _item(expires={"N": "-1.5"}),
        _item(expires={"N": "99999999999999999999"}),
        _item(expires={"NULL": True}, scope={"NULL": True}),
        _item(expires={"BOOL": True}),
        _item(isOnline={"S": "false"}),
        _item(isOnline={"S": "TRUE"}),
        _item(isOnline={"N": "1"}),
        _item(isOnline={"N": "0"}),
        _item(isOnline={"M": {}}),
        _item(scope={"S": ""}, accessToken={"S": ""}),
        _item(scope={"N": "5"}),
        _item(shop=None),
        _item(ttl={"N": "1768478400"}, someOtherField={"S": "x"}),
        _item(someOtherField={"M": {"n": {"N": "4.980021964709036e+16"}}}),
        _online_item(
            {
                "associated_user": {
                    "M": {**user_m, "new_field": {"S": "x"}, "locale": {"NULL": True}}
                }
            }
        ),
        _online_item(
            {
                "extra_key": {"L": [{"N": "1.50"}, {"S": "x"}, {"M": {"a": {"NULL": True}}}]},
                "expires_in": {"NULL": True},
            }
        ),
        _online_item({"expires_in": {"N": "0.000001"}}),
        _online_item({"expires_in": {"S": "3600"}}),
        _online_item({"expires_in": {"N": "3600.5"}}),
        _online_item({"expires_in": {"N": "9007199254740993"}}),
        _online_item(
            {"note": {"N": "1e2"}, "ratio": {"N": "0.000001"}, "big": {"N": "12345678901234567"}}
        ),
        _online_item({"blob": {"B": "AAE="}}),
        _online_item({"tags": {"SS": ["a", "b"]}}),
        _online_item({"associated_user": {"M": {**user_m, "id": {"S": "42"}}}}),
        _online_item({"associated_user": {"M": {**user_m, "id": {"N": "1.5"}}}}),
        _online_item({"associated_user": {"S": "42"}}),
        _online_item({"associated_user": {"NULL": True}}),
        _item(onlineAccessInfo={"S": "x"}),
        # local time: Node reads an offset-less date-time in its time zone, Python as UTC
        _item("Asia/Kolkata", expires={"S": "2026-01-15T12:00:00"}),
        _item(
            "America/New_York",
            expires={"S": "2026-01-15 12:00"},
            refreshTokenExpires={"S": "2026-01-15T12:00:00.5"},
        ),
        # issue 12 item 12: nested fields checked up front
        _session(**{**ONLINE, "onlineAccessInfo": {"expires_in": 3600.5}}),
        _session(**{**ONLINE, "onlineAccessInfo": {"expires_in": "3600"}}),
        _session(**{**ONLINE, "onlineAccessInfo": {"expires_in": 2**53}}),
        _session(**{**ONLINE, "onlineAccessInfo": {"associated_user": "42"}}),
        _session(**{**ONLINE, "onlineAccessInfo": {"associated_user": {**USER, "id": "42"}}}),
        _session(
            **{**ONLINE, "onlineAccessInfo": {"associated_user": {**USER, "first_name": True}}}
        ),
        _session(**{**ONLINE, "onlineAccessInfo": "x"}),
        _session(**{**BASE, "isOnline": "true"}),
        _session(**{**BASE, "scope": 5}),
        _session(id="x", state="s", isOnline=False),
        _session(
            **{
                **ONLINE,
                "onlineAccessInfo": {"associated_user": {**USER, "hobby": None, "email": None}},
            }
        ),
    ]
    return cases
