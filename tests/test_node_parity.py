"""Node parity fixes (issue 11) and hardening (issue 12, items 7 and 12), one test each.

The differential suite (tests/test_differential.py) compares everything with the real Node
classes; these pin each fix down without Node, so a regression names itself.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from shopify_sessions import (
    AssociatedUser,
    AuthScopes,
    CorruptSessionError,
    InvalidSessionError,
    MemorySessionStorage,
    OnlineAccessInfo,
    Session,
)
from shopify_sessions.cli import cli
from shopify_sessions.domain import _jsdate
from shopify_sessions.dynamodb.codec import item_to_session, session_to_item
from shopify_sessions.dynamodb.ttl import ttl_for
from tests.conftest import Backend
from tests.support.factories import SHOP, full_user, offline, online

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BASE = [("id", "x_1"), ("shop", SHOP), ("state", "s")]
OFFLINE_ITEM = {
    "id": {"S": "offline_x"},
    "shop": {"S": SHOP},
    "state": {"S": "s"},
    "isOnline": {"BOOL": False},
    "accessToken": {"S": "tok"},
}


# --- issue 11 -------------------------------------------------------------------------------------


def test_property_array_puts_user_pairs_after_the_refresh_token() -> None:  # class 1
    session = online(refresh_token="rt", refresh_token_expires=EPOCH + timedelta(days=1))
    keys = [key for key, _ in session.to_property_array(True)]
    assert keys[keys.index("refreshToken") :][:3] == [
        "refreshToken",
        "refreshTokenExpires",
        "userId",
    ]
    assert [k for k, _ in session.to_property_array()][-1] == "onlineAccessInfo"


def test_user_booleans_as_strings_mean_what_they_say() -> None:  # class 2, on purpose
    rows = [*BASE, ("isOnline", True), ("userId", 1), ("emailVerified", "false")]
    rows += [("accountOwner", "TRUE"), ("collaborator", "")]
    user = Session.from_property_array(rows, True).online_access_info.associated_user  # type: ignore[union-attr]
    assert (user.email_verified, user.account_owner, user.collaborator) == (False, True, False)


@pytest.mark.parametrize("text", ["1", "0", "t", "f", "TRUE", " false ", "yes", ""])
def test_a_user_flag_as_text_reads_the_same_in_every_reader(text: str) -> None:
    from shopify_sessions.importers.values import as_bool

    rows = [*BASE, ("isOnline", True), ("userId", 1), ("accountOwner", text)]
    user = Session.from_property_array(rows, True).online_access_info.associated_user  # type: ignore[union-attr]
    try:
        sql = as_bool("accountOwner", text)
    except ValueError:  # not a flag: the SQL importer refuses it, the reader says false
        sql = False
    assert user.account_owner is sql, text  # type: ignore[union-attr]


def test_online_property_array_without_user_id_keeps_nodes_empty_user() -> None:  # class 3
    session = Session.from_property_array([*BASE, ("isOnline", "true")])
    assert session.online_access_info == OnlineAccessInfo(extra={"associated_user": {}})
    item = session_to_item(session)
    assert item["onlineAccessInfo"] == {"M": {"associated_user": {"M": {}}}}
    assert item_to_session(item) == session


def test_to_property_array_without_associated_user_gives_pairs() -> None:  # class 4, on purpose
    session = online(online_access_info=OnlineAccessInfo(expires_in=5))
    assert "onlineAccessInfo" not in dict(session.to_property_array())


def test_associated_user_without_id_is_refused_everywhere() -> None:  # class 5, on purpose
    with pytest.raises(TypeError, match="'id'"):
        AssociatedUser(first_name="x")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="userId"):
        Session.from_property_array([*BASE, ("isOnline", True), ("firstName", "x")], True)
    item = {
        **OFFLINE_ITEM,
        "onlineAccessInfo": {"M": {"associated_user": {"M": {"email": {"S": "e"}}}}},
    }
    with pytest.raises(CorruptSessionError, match=r"associated_user\.id' is missing"):
        item_to_session(item)


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        ("\ufeffread_a,\ufeffwrite_b", ["read_a", "write_b"]),  # U+FEFF: whitespace in JS
        ("read_a\x1c,write_b\x85", ["read_a\x1c", "write_b\x85"]),  # not whitespace in JS
        (["\u2028read_a\u3000", "\x1fwrite_b"], ["read_a", "\x1fwrite_b"]),
    ],
)
def test_scope_whitespace_is_javascripts(scopes: Any, expected: list[str]) -> None:  # class 6
    assert AuthScopes(scopes).to_list() == expected


def test_implied_scope_pattern_stops_at_line_terminators() -> None:  # class 6
    assert not AuthScopes("write_a\rb").has("read_a\rb")
    assert AuthScopes("write_a\u0085b").has("read_a\u0085b")


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [("0", 0), (0, None), ("-1.5", -1), (-1.5, -1), (1.9, 1), ("0x10", 16), ("  ", 0), (True, 1)],
)
def test_property_array_dates_convert_like_node(value: Any, expected_ms: int | None) -> None:  # 7
    session = Session.from_property_array([*BASE, ("isOnline", False), ("expires", value)])
    assert session.expires == (
        None if expected_ms is None else EPOCH + timedelta(milliseconds=expected_ms)
    )


@pytest.mark.parametrize("value", [8.64e15, -8.64e15, "253402300800000", 8.64e15 + 1, "abc"])
def test_out_of_range_property_array_dates_name_the_field(value: Any) -> None:  # class 7
    with pytest.raises(ValueError, match="'refreshTokenExpires'"):
        Session.from_property_array([*BASE, ("isOnline", 0), ("refreshTokenExpires", value)])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("id", "x"), ("shop", "s"), ("isOnline", "true")], "missing state"),
        ([("id", 5), ("shop", "s"), ("state", "s"), ("isOnline", 1)], "'id'"),
        ([*BASE, ("isOnline", [])], "'isOnline'"),
        ([*BASE, ("isOnline", True), ("onlineAccessInfo", "4.5")], "'onlineAccessInfo'"),
        ([*BASE, ("isOnline", True), ("onlineAccessInfo", "abc")], "'onlineAccessInfo'"),
    ],
)
def test_malformed_property_arrays_are_refused_naming_the_property(
    rows: list[tuple[str, Any]], message: str
) -> None:  # class 8, on purpose
    with pytest.raises((TypeError, ValueError), match=message):
        Session.from_property_array(rows)


def test_property_array_scalars_convert_like_javascript() -> None:  # class 8, followed
    session = Session.from_property_array(
        [*BASE, ("isOnline", 0), ("scope", True), ("refreshToken", 1e21)]
    )
    assert (session.scope, session.refresh_token) == ("true", "1e+21")
    offline_with_junk_user = [*BASE, ("isOnline", False), ("onlineAccessInfo", "abc")]
    assert Session.from_property_array(offline_with_junk_user).online_access_info is None


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"S": "2026-01-15 12:00:00"}, datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ({"S": "Thu, 15 Jan 2026 12:00:00 GMT"}, datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ({"S": "Thu Jan 15 2026 13:00:00 GMT+0100 (CET)"}, datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ({"S": "2026-02-30T00:00:00Z"}, datetime(2026, 3, 2, tzinfo=UTC)),
        ({"S": "2026-01-15"}, datetime(2026, 1, 15, tzinfo=UTC)),
        ({"N": "1768478400000"}, datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ({"N": "0"}, None),
        ({"S": ""}, None),
    ],
)
def test_items_other_writers_wrote_are_read_like_node(stored: Any, expected: Any) -> None:  # 9
    assert item_to_session({**OFFLINE_ITEM, "expires": stored}).expires == expected


@pytest.mark.parametrize(("stored", "expected"), [("true", True), ("FALSE", False), ("1", None)])
def test_is_online_as_a_string_or_number(stored: str, expected: bool | None) -> None:  # class 9
    value = {"S": stored} if expected is not None else {"N": stored}
    assert item_to_session({**OFFLINE_ITEM, "isOnline": value}).is_online is (expected is not False)


def test_unknown_and_null_nested_keys_survive_a_python_restore(dynamo: Backend) -> None:  # 9
    storage = dynamo.storage()
    info = {
        "M": {
            "expires_in": {"N": "3600"},
            "associated_user_scope": {"NULL": True},
            "granted_at": {"L": [{"N": "1.5"}, {"M": {"x": {"NULL": True}}}]},
            "associated_user": {
                "M": {"id": {"N": "7"}, "email": {"NULL": True}, "new_field": {"S": "kept"}}
            },
        }
    }
    item = {
        **OFFLINE_ITEM,
        "id": {"S": f"{SHOP}_7"},
        "isOnline": {"BOOL": True},
        "onlineAccessInfo": info,
    }
    dynamo.raw_client().put_item(TableName=storage.table_name, Item=item)
    session = storage.load_session(f"{SHOP}_7")
    assert session is not None and session.online_access_info is not None
    assert session.online_access_info.extra == {
        "associated_user_scope": None,
        "granted_at": [1.5, {"x": None}],
    }
    assert ("email", None) in session.to_property_array(True)
    session.access_token = "tok2"
    storage.store_session(session)
    assert dynamo.raw_item(storage, session.id)["onlineAccessInfo"] == info
    # a field set in Python replaces the stored NULL
    user = session.online_access_info.associated_user
    assert user is not None
    user.email = "a@b.c"
    assert "email" not in user.extra


# --- issue 12, item 7: dates that overflow ------------------------------------------------------

OVERFLOWING = [
    ("expires", "9999-12-31T23:59:59.000-05:00"),
    ("refreshTokenExpires", "0001-01-01T00:00:00.000+05:00"),
]


@pytest.mark.parametrize(("attribute", "text"), OVERFLOWING)
def test_overflowing_stored_dates_are_corrupt_sessions_naming_the_attribute(
    dynamo: Backend, attribute: str, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = dynamo.storage()
    good = {**OFFLINE_ITEM, "id": {"S": "offline_good"}}
    bad = {**OFFLINE_ITEM, attribute: {"S": text}}
    for item in (good, bad):
        dynamo.raw_client().put_item(TableName=storage.table_name, Item=item)
    with pytest.raises(CorruptSessionError) as raised:
        storage.load_session("offline_x")
    assert raised.value.attribute == attribute and "out of range" in str(raised.value)
    with caplog.at_level(logging.WARNING, logger="shopify_sessions"):
        assert [s.id for s in storage.find_sessions_by_shop(SHOP)] == ["offline_good"]
        assert [s.id for s in storage.iter_sessions()] == ["offline_good"]
    assert "offline_x" in caplog.text


def test_overflowing_stored_dates_in_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    with mock_aws():
        storage = Backend("moto").storage(table="cli_overflow")
        bad = {**OFFLINE_ITEM, "expires": {"S": OVERFLOWING[0][1]}}
        Backend("moto").raw_client().put_item(TableName="cli_overflow", Item=bad)
        storage.store_session(offline(id="offline_good"))
        runner = CliRunner()
        for args in (["stats", "--json"], ["list", "--shop", SHOP, "--json"], ["export", "-"]):
            result = runner.invoke(cli, ["--table", "cli_overflow", *args])
            assert not isinstance(result.exception, OverflowError), args
            assert "offline_good" in result.output or '"sessions": 1' in result.output, args
        assert (
            json.loads(runner.invoke(cli, ["--table", "cli_overflow", "stats", "--json"]).output)[
                "corrupt"
            ]
            == 1
        )


def test_far_future_never_expires_sessions_store_with_a_ttl(dynamo: Backend) -> None:
    storage = dynamo.storage()
    session = offline(expires=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    storage.store_session(session)  # the ttl (end + 7 days) is past year 9999: no overflow
    assert storage.load_session(session.id) == session
    assert (
        ttl_for(session)
        == int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) + 7 * 86400
    )
    with pytest.raises(ValueError, match=r"Session\.expires is out of range"):
        offline(expires=datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))))


def test_expiry_checks_never_overflow_at_the_ends_of_time() -> None:
    first = offline(expires=datetime(1, 1, 1, 0, 0, 0, 100000, tzinfo=UTC))
    assert first.is_expired(timedelta(milliseconds=500)) and not first.is_active()
    last = offline(expires=datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))
    assert not last.is_expired(timedelta(days=-1)) and last.is_active()


# --- issue 12, item 12: validation gaps -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "offline_\ud800"}, "session id"),
        ({"access_token": "shpat_\udfff"}, "access_token"),
        ({"refresh_token": "\ud800"}, "refresh_token"),
        ({"state": "\ud800"}, "state"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(
    dynamo: Backend, count_requests: Any, change: dict[str, Any], field: str
) -> None:
    session = offline(**change)
    for storage in (MemorySessionStorage(), dynamo.storage()):
        counter = count_requests(storage) if not isinstance(storage, MemorySessionStorage) else None
        with pytest.raises(InvalidSessionError, match=field) as raised:
            storage.store_session(session)
        assert "\ud800" not in str(raised.value) and "shpat" not in str(raised.value)
        assert counter is None or counter.total == 0
    with pytest.raises(InvalidSessionError, match="shop"):
        MemorySessionStorage().find_sessions_by_shop("\ud800")
    with pytest.raises(InvalidSessionError, match="session id"):
        MemorySessionStorage().load_session("\ud800")


@pytest.mark.parametrize(
    ("build", "error", "field"),
    [
        (lambda: OnlineAccessInfo(expires_in=math.nan), TypeError, "OnlineAccessInfo.expires_in"),
        (lambda: OnlineAccessInfo(expires_in="3600"), TypeError, "OnlineAccessInfo.expires_in"),
        (lambda: OnlineAccessInfo(associated_user={"id": 1}), TypeError, "associated_user"),
        (lambda: OnlineAccessInfo(associated_user_scope=5), TypeError, "associated_user_scope"),
        (
            lambda: AssociatedUser(id=1, email_verified="yes"),
            TypeError,
            "AssociatedUser.email_verified",
        ),
        (lambda: AssociatedUser(id=1, first_name=3), TypeError, "AssociatedUser.first_name"),
        (lambda: AssociatedUser(id=True), TypeError, "AssociatedUser.id"),
        (lambda: AssociatedUser(id=2**53), ValueError, "AssociatedUser.id"),
        (lambda: OnlineAccessInfo(extra={"x": math.inf}), ValueError, r"extra\['x'\]"),
        (lambda: OnlineAccessInfo(extra={"x": object()}), TypeError, r"extra\['x'\]"),
    ],
)
def test_nested_fields_are_checked_up_front_naming_the_field(
    build: Any, error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        build()


def test_nested_fields_are_checked_on_assignment_and_at_store() -> None:
    user = full_user(7)
    with pytest.raises(TypeError, match=r"AssociatedUser\.locale"):
        user.locale = 5  # type: ignore[assignment]
    session = online(online_access_info=OnlineAccessInfo(associated_user=user))
    assert session.online_access_info is not None
    session.online_access_info.extra["when"] = datetime.now(UTC)  # a dict changed in place
    with pytest.raises(InvalidSessionError, match=r"extra\['when'\]"):
        MemorySessionStorage().store_session(session)


_canonical_parts = st.tuples(
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 60),
    st.integers(0, 61),
    st.integers(0, 999),
)


@settings(max_examples=300, deadline=None)
@given(parts=_canonical_parts)
def test_the_canonical_date_shortcut_reads_what_the_full_parser_reads(
    parts: tuple[int, ...],
) -> None:
    """``toISOString()`` dates skip the V8 forms; any field out of range takes the long way."""
    year, month, day, hour, minute, second, ms = parts
    text = f"{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{ms:03}Z"
    assert _jsdate._is_canonical(text)

    def read(canonical: bool) -> Any:
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(_jsdate, "_is_canonical", lambda text: canonical)
            try:
                return _jsdate.parse_js_date(text)
            except ValueError as error:
                return type(error)

    fast, full = read(True), read(False)
    assert fast == full
    if isinstance(full, datetime):
        assert fast.tzinfo == full.tzinfo == timezone.utc


@pytest.mark.parametrize(
    "text",
    ["2026-11-24T18:17:37,123Z", "2026-11-24T18:17:37.123+", "\uff12026-11-24T18:17:37.123Z"],
)
def test_near_canonical_dates_take_the_full_parser(text: str) -> None:
    assert not _jsdate._is_canonical(text)
