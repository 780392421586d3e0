"""The quick start, runnable: store, load, find and delete sessions, printing each step.

With no endpoint it starts an embedded one (moto, the ``local`` extra) and needs no AWS account;
``shopify-sessions demo`` and ``examples/quickstart.py`` both run :func:`run_demo`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from shopify_sessions.domain.session import (
    AssociatedUser,
    OnlineAccessInfo,
    Session,
    offline_session_id,
    online_session_id,
)
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage

from .endpoint import LocalEndpoint

__all__ = ["DEMO_SHOP", "demo_sessions", "run_demo"]

DEMO_SHOP = "example.myshopify.com"


def demo_sessions(shop: str = DEMO_SHOP) -> list[Session]:
    """An offline session and an online one (user 42, expiring in an hour) of ``shop``."""
    offline = Session(
        id=offline_session_id(shop),
        shop=shop,
        state="state-1",
        is_online=False,
        scope="write_products,read_orders",
        access_token="shpat_example_offline_token",
    )
    online = Session(
        id=online_session_id(shop, 42),
        shop=shop,
        state="state-2",
        is_online=True,
        scope="write_products",
        access_token="shpua_example_online_token",
        expires=datetime.now(timezone.utc) + timedelta(hours=1),
        online_access_info=OnlineAccessInfo(
            expires_in=3600,
            associated_user_scope="write_products",
            associated_user=AssociatedUser(id=42, first_name="Ada", email="ada@example.com"),
        ),
    )
    return [offline, online]


def run_demo(
    endpoint: str | None = None,
    *,
    session_table_name: str | None = None,
    shop_index_name: str | None = None,
    region: str | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the quick start against ``endpoint``, or an embedded endpoint when it is ``None``.

    Only the demo's own two sessions are deleted at the end; other sessions of the demo shop
    (on a shared endpoint) are left alone.
    """
    with contextlib.ExitStack() as stack:
        if endpoint is None:
            local = LocalEndpoint(
                session_table_name=session_table_name,
                shop_index_name=shop_index_name,
                region=region,
            )
            stack.enter_context(local)
            endpoint = local.url
            echo(f"started a local DynamoDB endpoint (moto) at {endpoint}")
        # a loopback endpoint needs no credentials: the storage brings placeholders
        storage = DynamoDBSessionStorage(
            session_table_name, shop_index_name, region=region, host=endpoint
        )
        stack.callback(storage.close)
        storage.create_table()
        echo(f"table {storage.table_name!r} with index {storage.shop_index_name!r} is ready")

        sessions = demo_sessions()
        for session in sessions:
            storage.store_session(session)
            echo(f"stored  {session.id}")

        for session in sessions:
            loaded = storage.load_session(session.id)
            if loaded != session:
                raise RuntimeError(f"session {session.id!r} did not load back equal")
            assert loaded is not None
            echo(f"loaded  {loaded!r}")
            echo(f"        active for read_products: {loaded.is_active('read_products')}")

        found = storage.find_sessions_by_shop(DEMO_SHOP)
        echo(f"found   {sorted(s.id for s in found)} for {DEMO_SHOP}")

        ids = [session.id for session in sessions]
        storage.delete_sessions(ids)
        left = sorted(s.id for s in storage.find_sessions_by_shop(DEMO_SHOP))
        echo(f"deleted {len(ids)} sessions; left for {DEMO_SHOP}: {left}")
