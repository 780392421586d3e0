"""The Session domain: scopes, expiry, activity, property arrays, normalisation, secrecy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shopify_sessions import (
    AssociatedUser,
    AuthScopes,
    OnlineAccessInfo,
    Session,
    offline_session_id,
    online_session_id,
)
from tests.support.factories import SHOP, full_user, now, offline, online

# --- scopes -----------------------------------------------------------------------------------


def test_scopes_split_trim_and_drop_empty() -> None:
    assert AuthScopes("read_a, write_b,,  read_c ").to_list() == ["read_a", "write_b", "read_c"]
    assert AuthScopes(["read_a", " ", "write_b"]).to_list() == ["read_a", "write_b"]
    assert AuthScopes(None).to_list() == []


def test_write_implies_read_also_unauthenticated() -> None:
    scopes = AuthScopes("write_products,unauthenticated_write_checkouts")
    assert scopes.has("read_products")
    assert scopes.has(["unauthenticated_read_checkouts", "write_products"])
    assert not scopes.has("read_checkouts")
    assert not AuthScopes("read_products").has("write_products")


def test_str_is_compressed_scopes() -> None:
    assert (
        str(AuthScopes("read_products,write_products,read_orders")) == "write_products,read_orders"
    )


def test_equals_compares_compressed_sets() -> None:
    assert AuthScopes("write_a,read_a").equals("write_a")
    assert AuthScopes("write_a,read_b").equals(AuthScopes(["read_b", "write_a"]))
    assert not AuthScopes("write_a").equals("write_a,read_b")
    assert not AuthScopes("read_a").equals("write_a")
    assert AuthScopes("write_a") == "read_a,write_a"


# --- expiry and activity ------------------------------------------------------------------------


def test_is_expired() -> None:
    assert not offline(expires=None).is_expired()
    assert not offline(expires=now() + timedelta(minutes=1)).is_expired()
    assert offline(expires=now() - timedelta(seconds=1)).is_expired()
    assert offline(expires=now() + timedelta(seconds=10)).is_expired(within=timedelta(seconds=20))


def test_is_active() -> None:
    assert offline(scope="write_products").is_active("read_products")
    assert offline().is_active()
    assert not offline(access_token=None).is_active()
    assert not offline(expires=now() + timedelta(milliseconds=100)).is_active()
    assert offline(expires=now() + timedelta(seconds=5)).is_active()
    assert not offline(scope="read_products").is_active("write_products")


def test_scope_changed_and_included() -> None:
    session = offline(scope="write_products,read_orders")
    assert not session.is_scope_changed(None)
    assert not session.is_scope_changed("read_products,read_orders")
    assert session.is_scope_changed("write_orders")
    assert session.is_scope_included(AuthScopes("read_orders"))
    assert not offline(scope=None).is_scope_included("read_orders")


# --- construction, normalisation, equality, secrecy -------------------------------------------


def test_ids() -> None:
    assert offline_session_id(SHOP) == "offline_shop1.myshopify.com"
    assert online_session_id(SHOP, 42) == "shop1.myshopify.com_42"


def test_dates_normalised_to_utc_milliseconds() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5, 678999)
    aware = datetime(2026, 1, 2, 5, 4, 5, 678999, tzinfo=timezone(timedelta(hours=2)))
    expected = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    assert offline(expires=naive).expires == expected
    assert offline(refresh_token_expires=aware).refresh_token_expires == expected
    session = offline()
    session.expires = naive  # normalised on assignment too
    assert session.expires == expected


def test_empty_optional_strings_mean_absent() -> None:
    session = offline(scope="", access_token="", refresh_token="")
    assert (session.scope, session.access_token, session.refresh_token) == (None, None, None)
    assert offline(scope="") == offline(scope=None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 1),
        ("shop", None),
        ("state", None),
        ("is_online", "true"),
        ("scope", 3),
        ("expires", "2026-01-01"),
        ("access_token", b"x"),
        ("online_access_info", {}),
    ],
)
def test_wrong_field_types_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(TypeError, match=f"Session.{field}"):
        offline(**{field: value})


def test_associated_user_id_must_be_int() -> None:
    with pytest.raises(TypeError, match=r"AssociatedUser\.id"):
        AssociatedUser(id="42")  # type: ignore[arg-type]


def test_equality_is_on_persisted_fields_only() -> None:
    first, second = online(), online()
    second.expires = first.expires
    second.extra = "ignored"  # type: ignore[attr-defined]
    assert first == second
    second.state = "other"
    assert first != second
    assert first != "not a session"


def test_repr_and_str_hide_tokens() -> None:
    session = online(access_token="shpat_secret", refresh_token="shprt_secret")
    for text in (repr(session), str(session), repr([session])):
        assert "shpat_secret" not in text and "shprt_secret" not in text
        assert "access_token='***'" in text


def test_copy_is_deep() -> None:
    session = online()
    copied = session.copy()
    assert copied == session
    assert copied.online_access_info and copied.online_access_info.associated_user
    copied.online_access_info.associated_user.email = "x"
    assert session.online_access_info and session.online_access_info.associated_user
    assert session.online_access_info.associated_user.email == "a@b.c"


# --- property arrays --------------------------------------------------------------------------


def test_to_property_array_offline() -> None:
    expires = datetime(2026, 1, 1, tzinfo=timezone.utc)
    session = offline(expires=expires, refresh_token="rt", refresh_token_expires=expires)
    assert session.to_property_array() == [
        ("id", "offline_shop1.myshopify.com"),
        ("shop", SHOP),
        ("state", "state"),
        ("isOnline", False),
        ("scope", "test_scope"),
        ("expires", 1767225600000),
        ("accessToken", "shpat_token_offline"),
        ("refreshToken", "rt"),
        ("refreshTokenExpires", 1767225600000),
    ]


def test_to_property_array_online_with_and_without_user_data() -> None:
    session = online(expires=None)
    assert ("onlineAccessInfo", 123) in session.to_property_array()
    with_user = dict(session.to_property_array(return_user_data=True))
    assert "onlineAccessInfo" not in with_user
    assert with_user["userId"] == 123 and with_user["firstName"] == "first"
    assert with_user["emailVerified"] is True and with_user["collaborator"] is False


def test_property_array_round_trip_with_user_data() -> None:
    session = online(online_access_info=OnlineAccessInfo(associated_user=full_user(2**40)))
    rebuilt = Session.from_property_array(session.to_property_array(True), True)
    assert rebuilt == session


def test_property_array_round_trip_without_user_data_keeps_user_id() -> None:
    session = online()
    rebuilt = Session.from_property_array(session.to_property_array())
    assert rebuilt.online_access_info == OnlineAccessInfo(associated_user=AssociatedUser(id=123))
    assert rebuilt.expires == session.expires and rebuilt.access_token == session.access_token


def test_from_property_array_is_lenient_like_node() -> None:
    rows = [
        ("ID", "offline_x"),
        ("Shop", "x"),
        ("STATE", "s"),
        ("isonline", "false"),
        ("expires", "1767225600000"),
        ("accesstoken", "t"),
        ("unknown", "ignored"),
        ("scope", None),
    ]
    session = Session.from_property_array(rows)
    assert session == Session(
        id="offline_x",
        shop="x",
        state="s",
        is_online=False,
        access_token="t",
        expires=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    assert Session.from_property_array([*rows[:3], ("isOnline", 1)]).is_online is True


def test_from_property_array_rejects_garbage() -> None:
    with pytest.raises(TypeError):
        Session.from_property_array("not rows")
    with pytest.raises(ValueError, match="missing shop, state, is_online"):
        Session.from_property_array([("id", "x")])
