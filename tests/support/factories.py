"""Sessions shaped like the ones Shopify apps produce."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from shopify_sessions import AssociatedUser, OnlineAccessInfo, Session

SHOP = "shop1.myshopify.com"


def now() -> datetime:
    return datetime.now(timezone.utc)


def offline(shop: str = SHOP, **overrides: Any) -> Session:
    fields: dict[str, Any] = dict(
        id=f"offline_{shop}",
        shop=shop,
        state="state",
        is_online=False,
        scope="test_scope",
        access_token="shpat_token_offline",
    )
    fields.update(overrides)
    return Session(**fields)


def full_user(user_id: int = 123) -> AssociatedUser:
    return AssociatedUser(
        id=user_id,
        first_name="first",
        last_name="last",
        email="a@b.c",
        email_verified=True,
        account_owner=True,
        locale="en",
        collaborator=False,
    )


def online(shop: str = SHOP, user_id: int = 123, **overrides: Any) -> Session:
    fields: dict[str, Any] = dict(
        id=f"{shop}_{user_id}",
        shop=shop,
        state="state",
        is_online=True,
        scope="test_scope",
        access_token="shpua_token_online",
        expires=now() + timedelta(hours=1),
        online_access_info=OnlineAccessInfo(
            expires_in=3600,
            associated_user_scope="test_scope",
            associated_user=full_user(user_id),
        ),
    )
    fields.update(overrides)
    return Session(**fields)
