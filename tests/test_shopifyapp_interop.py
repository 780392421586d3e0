"""``Session`` <-> shopifyapp's ``TokenExchangeAccessToken``, with the real ``shopifyapp`` package.

The last tests run shopifyapp's own ID token verification and token exchange over a real
``httpx.Client`` against the fake Shopify of ``shopify_sessions.testing.fake_shopify``.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shopify_app import ShopifyApp
from shopify_app.types import TokenExchangeAccessToken, User

from shopify_sessions import AssociatedUser, OnlineAccessInfo, Session
from shopify_sessions.integrations.shopifyapp import (
    normalize_shop,
    session_from_shopifyapp,
    session_to_shopifyapp,
)

UTC = timezone.utc
SHOP = "shop1.myshopify.com"
SECRET_TOKEN = "shpat_fake-test-token-not-a-secret"


def token(**overrides: Any) -> TokenExchangeAccessToken:
    """An offline expiring token, shaped exactly as shopifyapp 1.0.2 builds one."""
    fields: dict[str, Any] = dict(
        shop="shop1",
        token=SECRET_TOKEN,
        expires="2030-01-02T03:04:05Z",
        scope="read_products,write_orders",
        access_mode="offline",
        refresh_token="shprt_refresh",
        refresh_token_expires="2030-03-04T05:06:07Z",
        user=None,
    )
    fields.update(overrides)
    return TokenExchangeAccessToken(**fields)


def shopifyapp_user(**overrides: Any) -> User:
    fields: dict[str, Any] = dict(
        id=902541635,
        first_name="John",
        last_name="Smith",
        scope="read_products",
        email="john@example.com",
        account_owner=True,
        locale="en",
        collaborator=False,
        email_verified=True,
    )
    fields.update(overrides)
    return User(**fields)


def online_token(**overrides: Any) -> TokenExchangeAccessToken:
    fields: dict[str, Any] = dict(
        access_mode="online",
        token="shpua_online",
        refresh_token=None,
        refresh_token_expires=None,
        user=shopifyapp_user(),
    )
    fields.update(overrides)
    return token(**fields)


# --- TokenExchangeAccessToken -> Session --------------------------------------------------------


def test_offline_expiring_token() -> None:
    session = session_from_shopifyapp(token())

    assert session == Session(
        id="offline_shop1.myshopify.com",
        shop=SHOP,
        state="",
        is_online=False,
        scope="read_products,write_orders",
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        access_token=SECRET_TOKEN,
        refresh_token="shprt_refresh",
        refresh_token_expires=datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC),
    )
    assert session.online_access_info is None
    assert session_to_shopifyapp(session) == token()


def test_offline_non_expiring_token() -> None:
    t = token(expires=None, refresh_token=None, refresh_token_expires=None)
    session = session_from_shopifyapp(t)

    assert session.id == "offline_shop1.myshopify.com"
    assert session.expires is None
    assert session.refresh_token is None
    assert session.refresh_token_expires is None
    assert not session.is_expired()
    assert session.is_active("read_products")
    assert session_to_shopifyapp(session) == t


def test_online_token_with_full_user() -> None:
    session = session_from_shopifyapp(online_token())

    assert session == Session(
        id="shop1.myshopify.com_902541635",
        shop=SHOP,
        state="",
        is_online=True,
        scope="read_products,write_orders",
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        access_token="shpua_online",
        online_access_info=OnlineAccessInfo(
            expires_in=None,  # not in the token: never invented
            associated_user_scope="read_products",
            associated_user=AssociatedUser(
                id=902541635,
                first_name="John",
                last_name="Smith",
                email="john@example.com",
                email_verified=True,
                account_owner=True,
                locale="en",
                collaborator=False,
            ),
        ),
    )
    assert session_to_shopifyapp(session) == online_token()


def test_state_is_empty_like_node_create_session_unless_given() -> None:
    assert session_from_shopifyapp(token()).state == ""
    assert session_from_shopifyapp(token(), state="st").state == "st"


@pytest.mark.parametrize(
    "shop", ["shop1", "shop1.myshopify.com", "https://shop1.myshopify.com/", "SHOP1"]
)
def test_token_shop_with_or_without_suffix_gives_the_same_session(shop: str) -> None:
    session = session_from_shopifyapp(token(shop=shop))
    assert session.shop == SHOP
    assert session.id == "offline_shop1.myshopify.com"
    assert session_to_shopifyapp(session).shop == "shop1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05+00:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T05:04:05+02:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-01T22:34:05-0430", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05.123Z", datetime(2030, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
        ("2030-01-02T03:04:05.123987654Z", datetime(2030, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_dates_are_parsed_from_any_offset(text: str | None, expected: datetime | None) -> None:
    session = session_from_shopifyapp(token(expires=text, refresh_token_expires=text))
    assert session.expires == expected
    assert session.refresh_token_expires == expected
    if expected is not None:
        assert session.expires is not None and session.expires.tzinfo == UTC


def test_empty_strings_become_none_like_every_session() -> None:
    session = session_from_shopifyapp(token(token="", scope="", refresh_token=""))
    assert session.access_token is None
    assert session.scope is None
    assert session.refresh_token is None


def test_user_fields_are_copied_as_shopifyapp_holds_them() -> None:
    # shopifyapp's placeholders for fields Shopify left out stay as they are; JSON nulls stay None
    user = shopifyapp_user(first_name="", locale=None, account_owner=False, scope="")
    info = session_from_shopifyapp(online_token(user=user)).online_access_info
    assert info is not None and info.associated_user is not None
    assert info.associated_user.first_name == ""
    assert info.associated_user.locale is None
    assert info.associated_user.account_owner is False
    assert info.associated_user_scope == ""


# --- Session -> TokenExchangeAccessToken --------------------------------------------------------


def test_dates_use_shopifyapps_format() -> None:
    # shopifyapp writes strftime("%Y-%m-%dT%H:%M:%SZ") (exchange/token_exchange.py)
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    t = session_to_shopifyapp(session_from_shopifyapp(token()))
    assert t.expires == when.strftime("%Y-%m-%dT%H:%M:%SZ") == "2030-01-02T03:04:05Z"


def test_milliseconds_are_kept_in_a_form_shopifyapp_reads() -> None:
    session = session_from_shopifyapp(token(expires="2030-01-02T03:04:05.120Z"))
    t = session_to_shopifyapp(session)
    assert t.expires == "2030-01-02T03:04:05.120Z"
    # exactly how shopifyapp's refresh reads it (exchange/refresh_token.py)
    assert t.expires is not None
    assert datetime.fromisoformat(t.expires.replace("Z", "+00:00")) == session.expires
    assert session_from_shopifyapp(t) == session


def test_other_timezones_and_old_years_are_written_in_utc() -> None:
    session = session_from_shopifyapp(token())
    session.expires = datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    session.refresh_token_expires = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)
    t = session_to_shopifyapp(session)
    assert t.expires == "2030-01-02T03:04:05Z"
    assert t.refresh_token_expires == "0999-01-02T03:04:05Z"


def test_token_refresh_accepts_the_converted_token() -> None:
    # shopifyapp's refresh checks shop and dates before any HTTP; a far expiry short-circuits
    app = ShopifyApp(client_id="cid", client_secret="secret")
    t = session_to_shopifyapp(session_from_shopifyapp(token()))
    result = app.refresh_token_exchanged_access_token(t)
    assert result.ok, result.log
    assert result.log.code == "token_still_valid"
    assert result.shop == "shop1"


def test_none_user_fields_become_shopifyapps_defaults() -> None:
    session = session_from_shopifyapp(online_token())
    info = session.online_access_info
    assert info is not None
    info.associated_user = AssociatedUser(id=7)
    info.associated_user_scope = None
    info.expires_in = 3600

    t = session_to_shopifyapp(session)
    assert t.user == User(
        id=7,
        first_name="",
        last_name="",
        scope="",
        email="",
        account_owner=False,
        locale="",
        collaborator=False,
        email_verified=False,
    )
    back = session_from_shopifyapp(t)
    assert back.id == "shop1.myshopify.com_7"
    assert back.online_access_info == OnlineAccessInfo(
        expires_in=None,
        associated_user_scope="",
        associated_user=AssociatedUser(
            id=7,
            first_name="",
            last_name="",
            email="",
            email_verified=False,
            account_owner=False,
            locale="",
            collaborator=False,
        ),
    )


def test_missing_tokens_become_empty_strings() -> None:
    session = session_from_shopifyapp(token(token="", scope=""))
    t = session_to_shopifyapp(session)
    assert t.token == ""
    assert t.scope == ""


# --- round trips --------------------------------------------------------------------------------

_names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
_dates = st.none() | st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
_text = st.text(max_size=12)
_secrets = st.none() | st.text(min_size=1, max_size=12)


@st.composite
def representable_sessions(draw: st.DrawFn) -> Session:
    shop = draw(_names) + ".myshopify.com"
    online = draw(st.booleans())
    info = None
    session_id = f"offline_{shop}"
    if online:
        user = AssociatedUser(
            id=draw(st.integers(1, 2**53 - 1)),  # AssociatedUser refuses ids JS cannot hold
            first_name=draw(_text),
            last_name=draw(_text),
            email=draw(_text),
            email_verified=draw(st.booleans()),
            account_owner=draw(st.booleans()),
            locale=draw(_text),
            collaborator=draw(st.booleans()),
        )
        info = OnlineAccessInfo(associated_user_scope=draw(_text), associated_user=user)
        session_id = f"{shop}_{user.id}"
    return Session(
        id=session_id,
        shop=shop,
        state="",
        is_online=online,
        scope=draw(_secrets),
        expires=draw(_dates),
        access_token=draw(_secrets),
        refresh_token=draw(_secrets),
        refresh_token_expires=draw(_dates),
        online_access_info=info,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(representable_sessions())
def test_session_round_trip(session: Session) -> None:
    t = session_to_shopifyapp(session)
    assert "." not in t.shop  # shopifyapp's bare shop name
    assert session_from_shopifyapp(t) == session
    # and the token is stable: shopifyapp's form in, the same form out
    assert session_to_shopifyapp(session_from_shopifyapp(t)) == t


@pytest.mark.parametrize(
    "t", [token(), token(expires=None, refresh_token_expires=None), online_token()]
)
def test_token_round_trip(t: TokenExchangeAccessToken) -> None:
    assert session_to_shopifyapp(session_from_shopifyapp(t)) == t


# --- shop normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("shop1", SHOP),
        ("shop1.myshopify.com", SHOP),
        ("https://shop1.myshopify.com", SHOP),
        ("https://shop1.myshopify.com/", SHOP),
        ("http://shop1.myshopify.com/", SHOP),
        ("HTTPS://Shop1.MyShopify.COM/", SHOP),
        ("SHOP1", SHOP),
        ("  shop1.myshopify.com\n", SHOP),
        ("shop1.myshopify.com/", SHOP),
        ("my-shop-2", "my-shop-2.myshopify.com"),
        ("0shop", "0shop.myshopify.com"),
    ],
)
def test_normalize_shop(given: str, expected: str) -> None:
    assert normalize_shop(given) == expected
    assert normalize_shop(expected) == expected  # idempotent


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("shop1.example.com", "not a .myshopify.com domain"),
        ("myshopify.com", "not a .myshopify.com domain"),
        (".myshopify.com", "no shop name"),
        ("https://", "no shop name"),
        ("https://shop1.myshopify.com/admin", "path"),
        ("shop1.myshopify.com?x=1", "query"),
        ("shop1.myshopify.com:443", "port"),
        ("user@shop1.myshopify.com", "user part"),
        ("ftp://shop1.myshopify.com", "scheme"),
        ("-shop1", "must start with a letter or digit"),
        ("shop 1", "only letters, digits and hyphens"),
        ("shop_1.myshopify.com", "only letters, digits and hyphens"),
        ("shöp", "only letters, digits and hyphens"),
        (SECRET_TOKEN, "only letters, digits and hyphens"),
    ],
)
def test_normalize_shop_rejects(bad: str, problem: str) -> None:
    with pytest.raises(ValueError, match=r"^shop ") as info:
        normalize_shop(bad)
    assert problem in str(info.value)
    # never echoes the value (it might be a token passed by mistake)
    assert "shop1" not in str(info.value) and SECRET_TOKEN not in str(info.value)


def test_normalize_shop_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="shop must be a str"):
        normalize_shop(123)  # type: ignore[arg-type]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "field"),
    [
        (token(expires="tomorrow"), "TokenExchangeAccessToken.expires"),
        (token(expires="2030-13-01T00:00:00Z"), "TokenExchangeAccessToken.expires"),
        (token(expires="2030-01-01"), "TokenExchangeAccessToken.expires"),
        (token(expires=1893456000), "TokenExchangeAccessToken.expires"),
        (token(refresh_token_expires="soon"), "TokenExchangeAccessToken.refresh_token_expires"),
        (token(access_mode="both"), "TokenExchangeAccessToken.access_mode"),
        (token(access_mode="ONLINE"), "TokenExchangeAccessToken.access_mode"),
        (online_token(user=None), "TokenExchangeAccessToken.user"),
        (token(user=shopifyapp_user()), "TokenExchangeAccessToken.user"),
        (online_token(user={"id": 1}), "TokenExchangeAccessToken.user"),
        (online_token(user=shopifyapp_user(id=0)), "TokenExchangeAccessToken.user.id"),
        (online_token(user=shopifyapp_user(id="1")), "TokenExchangeAccessToken.user.id"),
        (online_token(user=shopifyapp_user(id=True)), "TokenExchangeAccessToken.user.id"),
        (online_token(user=shopifyapp_user(email=1)), "TokenExchangeAccessToken.user.email"),
        (
            online_token(user=shopifyapp_user(collaborator="no")),
            "TokenExchangeAccessToken.user.collaborator",
        ),
        (token(shop="shop1.example.com"), "TokenExchangeAccessToken.shop"),
        (token(shop=""), "TokenExchangeAccessToken.shop"),
        (token(shop=None), "TokenExchangeAccessToken.shop"),
        (token(token=123), "TokenExchangeAccessToken.token"),
        (token(scope=["read_products"]), "TokenExchangeAccessToken.scope"),
    ],
)
def test_bad_token_values_name_the_field(t: TokenExchangeAccessToken, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}( |$)") as info:
        session_from_shopifyapp(t)
    assert SECRET_TOKEN not in str(info.value)


def test_a_token_in_the_shop_field_is_not_echoed() -> None:
    with pytest.raises(ValueError, match=r"^TokenExchangeAccessToken\.shop ") as info:
        session_from_shopifyapp(token(shop=SECRET_TOKEN))
    assert SECRET_TOKEN not in str(info.value)


def test_not_a_token_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="TokenExchangeAccessToken"):
        session_from_shopifyapp({"shop": "shop1"})  # type: ignore[arg-type]


def _online_session() -> Session:
    return session_from_shopifyapp(online_token())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: setattr(s, "online_access_info", None), "Session.online_access_info"),
        (
            lambda s: setattr(s, "online_access_info", OnlineAccessInfo(expires_in=60)),
            "Session.online_access_info.associated_user",
        ),
        (lambda s: setattr(s, "is_online", False), "Session.online_access_info"),
        (lambda s: setattr(s, "shop", "shop1.example.com"), "Session.shop"),
        (lambda s: setattr(s, "shop", SECRET_TOKEN), "Session.shop"),
    ],
)
def test_unrepresentable_sessions_name_the_field(change: Any, field: str) -> None:
    session = _online_session()
    change(session)
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}") as info:
        session_to_shopifyapp(session)
    assert SECRET_TOKEN not in str(info.value)


# --- packaging ----------------------------------------------------------------------------------


def test_missing_shopifyapp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "shopify_sessions.integrations.shopifyapp"
    monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "shopify_app.types", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'shopify-sessions\[shopifyapp\]'"):
        importlib.import_module(name)


def test_integrations_package_imports_no_optional_dependency() -> None:
    code = (
        "import sys, shopify_sessions.integrations as m; "
        "assert m.__doc__; assert 'shopify_app' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- end to end: shopifyapp's token exchange over HTTP against a fake Shopify -------------------

CLIENT_ID = "fake-client-id"
# 32+ bytes: pyjwt warns about shorter HMAC keys
CLIENT_SECRET = "fake-client-secret-0123456789abcdef"


def mint_id_token(shop: str, user_id: int, *, secret: str = CLIENT_SECRET) -> str:
    """An App Home ID token with every claim shopifyapp's verification reads."""
    import jwt

    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": CLIENT_ID,
        "sub": str(user_id),
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
def fake_shopify() -> Iterator[Any]:
    try:
        from shopify_sessions.testing.fake_shopify import FakeShopify
    except ImportError as exc:
        pytest.skip(f"shopify_sessions.testing.fake_shopify is not importable: {exc}")
    with FakeShopify(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        yield fake


def exchange(fake: Any, shop: str, user_id: int, access_mode: str, expiring: bool = True) -> Any:
    """shopifyapp verifies the App Home request's ID token, then exchanges it over HTTP."""
    app = ShopifyApp(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    verified = app.verify_app_home_req(
        {
            "method": "GET",
            "headers": {"Authorization": f"Bearer {mint_id_token(shop, user_id)}"},
            "url": "https://app.example.com/api/products",
            "body": "",
        },
        "/auth/patch-id-token",
    )
    assert verified.ok, verified.log
    assert verified.id_token is not None and verified.user_id == str(user_id)
    with fake.client() as http:
        result = app.exchange_using_token_exchange(
            access_mode,
            id_token=verified.id_token,
            invalid_token_response=verified.invalid_token_response,
            expiring=expiring,
            http_client=http,
        )
    assert result.ok, result.log
    assert result.access_token is not None
    return result


@pytest.mark.parametrize("expiring", [True, False])
def test_end_to_end_offline_token_exchange(fake_shopify: Any, expiring: bool) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = exchange(fake_shopify, "e2e-shop.myshopify.com", 42, "offline", expiring)
    t = result.access_token
    assert t.shop == "e2e-shop"  # shopifyapp drops the suffix

    session = session_from_shopifyapp(t)
    assert session.id == "offline_e2e-shop.myshopify.com"
    assert session.shop == "e2e-shop.myshopify.com"
    assert session.state == ""
    assert not session.is_online
    assert session.online_access_info is None
    assert session.access_token == t.token and session.access_token
    assert session.scope == (t.scope or None)
    if expiring:
        assert session.expires is not None and session.expires > before
        assert session.refresh_token == t.refresh_token and session.refresh_token
        assert session.refresh_token_expires is not None
        assert session.refresh_token_expires >= session.expires
    else:
        assert session.expires is None
        assert session.refresh_token is None
    assert session.is_active()
    assert session_to_shopifyapp(session) == t


def test_end_to_end_online_token_exchange(fake_shopify: Any) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = exchange(fake_shopify, "e2e-shop.myshopify.com", 902541635, "online")
    t = result.access_token
    assert t.access_mode == "online" and t.user is not None and t.user.id == 902541635

    session = session_from_shopifyapp(t)
    assert session.id == "e2e-shop.myshopify.com_902541635"
    assert session.is_online
    assert session.expires is not None and session.expires > before
    info = session.online_access_info
    assert info is not None and info.associated_user is not None
    assert info.associated_user.id == 902541635
    assert info.associated_user_scope == t.user.scope
    assert info.expires_in is None
    assert session.is_active()
    assert session_to_shopifyapp(session) == t


def test_end_to_end_session_survives_storage(fake_shopify: Any) -> None:
    from shopify_sessions import MemorySessionStorage

    session = session_from_shopifyapp(
        exchange(fake_shopify, "e2e-shop.myshopify.com", 42, "offline").access_token
    )
    storage = MemorySessionStorage()
    storage.store_session(session)
    assert storage.load_session("offline_e2e-shop.myshopify.com") == session
