"""The refresher keeps its promises (issue 21.7): ``timeout`` bounds a whole refresh, absurd
answers are ``TokenRefreshError``s, a ``within`` no token can leave is refused, and no secret
survives in Shopify's error text."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest

from shopify_sessions import (
    AsyncShopifyTokenRefresher,
    MemorySessionStorage,
    ShopifyTokenRefresher,
    TokenRefreshError,
)
from shopify_sessions.testing import FakeShopify, LoopbackTransport
from tests.support.tokens import SHOP, installed, refresher
from tests.support.trickle import trickling_server

SECRET = "shpss_" + "s3cr3t" * 6  # 42 characters, as long as Shopify's client secrets


def test_timeout_bounds_a_trickled_answer_blocking(fake_shopify: FakeShopify) -> None:
    session = installed(fake_shopify)
    with trickling_server() as url:  # ~300 bytes at 0.05 s: 15 s for the whole answer
        client = httpx.Client(transport=LoopbackTransport(url))
        slow = ShopifyTokenRefresher("id", "secret", http_client=client, timeout=1)
        started = time.monotonic()
        with pytest.raises(TokenRefreshError, match="timed out"):
            slow.refresh(session)
        assert time.monotonic() - started < 10  # 1 s expected; the whole answer takes 15 s


def test_timeout_bounds_a_trickled_answer_async(fake_shopify: FakeShopify) -> None:
    session = installed(fake_shopify)

    async def refresh(url: str) -> float:
        client = httpx.AsyncClient(transport=LoopbackTransport(url))
        slow = AsyncShopifyTokenRefresher("id", "secret", http_client=client, timeout=1)
        started = time.monotonic()
        with pytest.raises(TokenRefreshError, match="timed out"):
            await slow.refresh(session)
        await client.aclose()
        return time.monotonic() - started

    with trickling_server() as url:
        assert asyncio.run(refresh(url)) < 6


def test_a_trickled_answer_frees_the_lease_before_it_lapses(fake_shopify: FakeShopify) -> None:
    storage = MemorySessionStorage()
    session = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(session)
    with trickling_server() as url:
        client = httpx.Client(transport=LoopbackTransport(url))
        slow = ShopifyTokenRefresher("id", "secret", http_client=client, timeout=1)
        with pytest.raises(TokenRefreshError, match="timed out"):
            storage.load_fresh_session(session.id, slow, lease=timedelta(seconds=30))
    snapshot = storage._lease_store.read(session.id)
    assert snapshot is not None and snapshot.lease_holder is None
    assert storage.load_session(session.id) == session


@pytest.mark.parametrize("field", ["expires_in", "refresh_token_expires_in"])
def test_an_absurd_lifetime_is_a_refresh_error_and_frees_the_lease(
    fake_shopify: FakeShopify, field: str
) -> None:
    storage = MemorySessionStorage()
    session = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(session)
    fake_shopify.omit_next(replace={field: 10**12})
    with pytest.raises(TokenRefreshError, match=field):
        storage.load_fresh_session(session.id, refresher(fake_shopify))
    snapshot = storage._lease_store.read(session.id)
    assert snapshot is not None and snapshot.lease_holder is None
    fresh = storage.load_fresh_session(session.id, refresher(fake_shopify))  # no lease wait
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)


def test_a_within_as_long_as_the_tokens_life_is_refused(fake_shopify: FakeShopify) -> None:
    storage = MemorySessionStorage()
    session = installed(fake_shopify, expires_in=timedelta(minutes=30))
    storage.store_session(session)
    for within in (timedelta(hours=1), timedelta(hours=2)):
        with pytest.raises(ValueError, match="within") as caught:
            storage.load_fresh_session(session.id, refresher(fake_shopify), within=within)
        assert "life" in str(caught.value)
    assert fake_shopify.call_count() == 0


@pytest.mark.parametrize("fake_shopify_options", [{"access_ttl": 600}])
def test_a_within_longer_than_the_life_shopify_gives_is_refused(
    fake_shopify: FakeShopify,
) -> None:
    storage = MemorySessionStorage()
    session = installed(fake_shopify, expires_in=timedelta(minutes=5))
    storage.store_session(session)
    client = refresher(fake_shopify)
    within = timedelta(minutes=15)  # the tokens live 10 minutes: every call would refresh
    with pytest.raises(ValueError, match="within"):
        storage.load_fresh_session(session.id, client, within=within)
    stored = storage.load_session(session.id)  # the pair Shopify rotated to is kept
    assert stored is not None and stored.access_token == fake_shopify.active_token(SHOP)
    for _ in range(3):
        with pytest.raises(ValueError, match="within"):
            storage.load_fresh_session(session.id, client, within=within)
    assert fake_shopify.call_count(grant="refresh_token") == 1


@pytest.mark.parametrize("fake_shopify_options", [{"client_secret": SECRET}])
def test_secrets_are_scrubbed_before_the_description_is_cut(fake_shopify: FakeShopify) -> None:
    session = installed(fake_shopify)
    assert session.access_token and session.refresh_token
    secrets = [SECRET, session.refresh_token, session.access_token]
    for secret in secrets:
        for padding in (0, 170, 185, 195):
            description = "x" * padding + f" got {secret} here"
            fake_shopify.fail_next(
                400, body={"error": "invalid_request", "error_description": description}
            )
            with pytest.raises(TokenRefreshError) as caught:
                refresher(fake_shopify).refresh(session)
            message = str(caught.value)
            for leaked in (s[i : i + 8] for s in secrets for i in range(len(s) - 7)):
                assert leaked not in message, (padding, message)
