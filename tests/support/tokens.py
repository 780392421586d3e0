"""Sessions issued by the fake Shopify, and refreshers that reach it over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from shopify_sessions import Session, ShopifyTokenRefresher, offline_session_id
from shopify_sessions.testing import FakeShopify

SHOP = "storm.myshopify.com"


def installed(
    fake: FakeShopify, shop: str = SHOP, *, expires_in: timedelta = timedelta(hours=1)
) -> Session:
    """The offline session an app stores after install, its token expiring in ``expires_in``."""
    grant = fake.install(shop)
    now = datetime.now(timezone.utc)
    return Session(
        id=offline_session_id(shop),
        shop=shop,
        state="",
        is_online=False,
        scope=grant.scope,
        access_token=grant.access_token,
        expires=now + expires_in,
        refresh_token=grant.refresh_token,
        refresh_token_expires=now + timedelta(days=90),
    )


def refresher(fake: FakeShopify, **kwargs: Any) -> ShopifyTokenRefresher:
    """A refresher with the fake's credentials, sending through a real ``httpx.Client``."""
    return ShopifyTokenRefresher(
        fake.client_id, fake.client_secret, http_client=fake.client(), **kwargs
    )
