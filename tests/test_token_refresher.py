"""ShopifyTokenRefresher against the fake Shopify token endpoint, over real HTTP (httpx)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from shopify_sessions import (
    ReauthorizationRequiredError,
    Session,
    ShopifyTokenRefresher,
    TokenRefreshError,
    offline_session_id,
)
from shopify_sessions.testing import FakeShopify
from tests.support.tokens import SHOP, installed, refresher

FIELDS = ("access_token", "expires_in", "refresh_token", "refresh_token_expires_in")


def test_refresh_gives_the_new_pair_and_revokes_the_old_token(fake_shopify: FakeShopify) -> None:
    old = installed(fake_shopify)
    before = datetime.now(timezone.utc)
    new = refresher(fake_shopify).refresh(old)
    after = datetime.now(timezone.utc)
    assert (new.id, new.shop, new.state, new.is_online) == (old.id, old.shop, "", False)
    assert new.access_token != old.access_token and new.refresh_token != old.refresh_token
    assert new.expires is not None and new.refresh_token_expires is not None
    slack = timedelta(milliseconds=1)
    assert before - slack <= new.expires - timedelta(seconds=3600) <= after
    assert before - slack <= new.refresh_token_expires - timedelta(days=90) <= after
    assert fake_shopify.active_token(SHOP) == new.access_token
    assert not fake_shopify.is_active(SHOP, old.access_token or "")
    assert fake_shopify.call_count(SHOP, "refresh_token") == 1


@pytest.mark.parametrize("missing", FIELDS)
def test_an_answer_missing_a_field_names_it(fake_shopify: FakeShopify, missing: str) -> None:
    fake_shopify.omit_next(missing)
    with pytest.raises(TokenRefreshError, match=missing) as caught:
        refresher(fake_shopify).refresh(installed(fake_shopify))
    assert not isinstance(caught.value, ReauthorizationRequiredError)
    assert fake_shopify.call_count(grant="refresh_token") == 1  # not retried


@pytest.mark.parametrize(
    "replace",
    [
        {"expires_in": "3600"},
        {"refresh_token_expires_in": None},
        {"access_token": 5},
        {"expires_in": True},
        {"refresh_token": ""},
        {"expires_in": -1},
        {"scope": ["a"]},
    ],
)
def test_an_answer_with_a_wrong_type_names_the_field(
    fake_shopify: FakeShopify, replace: dict[str, object]
) -> None:
    fake_shopify.omit_next(replace=replace)
    with pytest.raises(TokenRefreshError, match=next(iter(replace))):
        refresher(fake_shopify).refresh(installed(fake_shopify))


def test_invalid_grant_asks_for_reauthorization_without_retrying(
    fake_shopify: FakeShopify,
) -> None:
    session = installed(fake_shopify)
    fake_shopify.uninstall(SHOP)
    with pytest.raises(ReauthorizationRequiredError, match=SHOP) as caught:
        refresher(fake_shopify).refresh(session)
    assert caught.value.shop == SHOP
    assert fake_shopify.call_count(grant="refresh_token") == 1


def test_a_known_dead_refresh_token_makes_no_call(fake_shopify: FakeShopify) -> None:
    session = installed(fake_shopify)
    session.refresh_token_expires = datetime.now(timezone.utc) - timedelta(seconds=1)
    with pytest.raises(ReauthorizationRequiredError, match="expired"):
        refresher(fake_shopify).refresh(session)
    session = installed(fake_shopify)
    session.refresh_token = None
    with pytest.raises(ReauthorizationRequiredError, match="no refresh token"):
        refresher(fake_shopify).refresh(session)
    assert fake_shopify.call_count() == 0


def test_429_honours_retry_after(fake_shopify: FakeShopify) -> None:
    fake_shopify.fail_next(429, retry_after="1")
    started = time.monotonic()
    new = refresher(fake_shopify).refresh(installed(fake_shopify))
    assert time.monotonic() - started >= 1.0
    assert fake_shopify.active_token(SHOP) == new.access_token
    assert fake_shopify.call_count(grant="refresh_token") == 2


def test_a_retry_after_beyond_the_timeout_gives_up_at_once(fake_shopify: FakeShopify) -> None:
    fake_shopify.fail_next(429, retry_after="30")
    started = time.monotonic()
    with pytest.raises(TokenRefreshError, match=r"429.*Retry-After 30"):
        refresher(fake_shopify, timeout=5).refresh(installed(fake_shopify))
    assert time.monotonic() - started < 20  # at once, not after the 30 s it was asked to wait


def test_5xx_and_dropped_connections_are_retried(fake_shopify: FakeShopify) -> None:
    fake_shopify.fail_next(503)
    fake_shopify.fail_next(500, drop=True)
    fake_shopify.fail_next(502)
    new = refresher(fake_shopify).refresh(installed(fake_shopify))
    assert fake_shopify.active_token(SHOP) == new.access_token
    assert fake_shopify.call_count(grant="refresh_token") == 4


def test_a_failing_endpoint_gives_up_within_the_timeout(fake_shopify: FakeShopify) -> None:
    fake_shopify.fail_next(500, times=1000)
    started = time.monotonic()
    with pytest.raises(TokenRefreshError, match="500") as caught:
        refresher(fake_shopify, timeout=1.5).refresh(installed(fake_shopify))
    assert time.monotonic() - started < 10  # 1.5 s expected, never 1,000 retries
    assert not isinstance(caught.value, ReauthorizationRequiredError)


def test_a_slow_endpoint_times_out_within_the_timeout(fake_shopify: FakeShopify) -> None:
    fake_shopify.latency = 30.0
    started = time.monotonic()
    with pytest.raises(TokenRefreshError, match="timed out"):
        refresher(fake_shopify, timeout=1.0).refresh(installed(fake_shopify))
    assert time.monotonic() - started < 10  # 1 s expected, not the answer's 30 s


def test_other_refusals_are_not_retried(fake_shopify: FakeShopify) -> None:
    bad = ShopifyTokenRefresher(
        fake_shopify.client_id, "wrong-secret", http_client=fake_shopify.client()
    )
    with pytest.raises(TokenRefreshError, match="401 invalid_client") as caught:
        bad.refresh(installed(fake_shopify))
    assert not isinstance(caught.value, ReauthorizationRequiredError)
    assert fake_shopify.call_count(grant="refresh_token") == 1


def test_migrate_exchanges_a_non_expiring_token(fake_shopify: FakeShopify) -> None:
    grant = fake_shopify.install(SHOP, expiring=False)
    old = Session(offline_session_id(SHOP), SHOP, "", False, grant.scope, None, grant.access_token)
    new = refresher(fake_shopify).migrate(old)
    assert new.expires is not None and new.refresh_token and new.refresh_token_expires
    assert fake_shopify.active_token(SHOP) == new.access_token
    assert not fake_shopify.is_active(SHOP, old.access_token or "")
    assert fake_shopify.call_count(SHOP, "token_exchange") == 1
    with pytest.raises(ValueError, match="already has an expiring token"):
        refresher(fake_shopify).migrate(new)


def test_secrets_stay_out_of_reprs_errors_and_debug_logs(
    fake_shopify: FakeShopify, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = installed(fake_shopify)
    client = refresher(fake_shopify, timeout=2.0)
    new = client.refresh(session)
    fake_shopify.fail_next(500, times=100)
    errors = []
    for attempt in (lambda: client.refresh(new), lambda: client.migrate(_non_expiring(new))):
        with pytest.raises(TokenRefreshError) as caught:
            attempt()
        errors.append(caught.value)
    fake_shopify.reset_faults()
    fake_shopify.uninstall(SHOP)
    with pytest.raises(ReauthorizationRequiredError) as dead:
        client.refresh(new)
    shown = " ".join([caplog.text, repr(client), repr(new), *map(str, errors), str(dead.value)])
    assert "httpcore" in caplog.text  # the transport's DEBUG logs were captured
    secrets = [
        fake_shopify.client_secret,
        session.access_token,
        session.refresh_token,
        new.access_token,
        new.refresh_token,
    ]
    for secret in secrets:
        assert secret and secret not in shown


def _non_expiring(session: Session) -> Session:
    copy = session.copy()
    copy.refresh_token = None
    copy.expires = copy.refresh_token_expires = None
    return copy


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="client_secret"):
        ShopifyTokenRefresher("id", "")
    with pytest.raises(ValueError, match="timeout"):
        ShopifyTokenRefresher("id", "secret", timeout=0)
    with pytest.raises(ValueError, match="shop"):
        ShopifyTokenRefresher("id", "secret").refresh(
            Session("offline_x", "evil.com/x?", "", False, refresh_token="r")
        )


def test_without_a_client_the_refresher_owns_one() -> None:
    with ShopifyTokenRefresher("id", "secret", timeout=0.5) as owned:
        assert "secret" not in repr(owned)
