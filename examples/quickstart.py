"""Quick start: store, load, find and delete Shopify sessions in DynamoDB.

Copy what you need. With no endpoint configured (``AWS_ENDPOINT_URL_DYNAMODB``), it starts an
embedded DynamoDB-compatible endpoint on 127.0.0.1 first (``pip install
'shopify-sessions[local]'``), so it runs with no AWS account:

    python examples/quickstart.py
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

from shopify_sessions import (
    AssociatedUser,
    DynamoDBSessionStorage,
    OnlineAccessInfo,
    Session,
    offline_session_id,
    online_session_id,
)
from shopify_sessions.local.endpoint import LocalEndpoint

SHOP = "example.myshopify.com"


def main() -> None:
    with ExitStack() as stack:
        if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
            endpoint = stack.enter_context(LocalEndpoint())  # no AWS account needed
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint.url
            print(f"started a local DynamoDB endpoint at {endpoint.url}")

        # Table "shopify_sessions", index "shop_index": the Node adapter's defaults.
        storage = DynamoDBSessionStorage()
        storage.create_table()  # once; does nothing when the table exists

        # The two kinds of session a Shopify app stores.
        offline = Session(
            id=offline_session_id(SHOP),  # "offline_example.myshopify.com"
            shop=SHOP,
            state="",
            is_online=False,
            scope="write_products,read_orders",
            access_token="shpat_example_offline_token",
        )
        online = Session(
            id=online_session_id(SHOP, 42),  # "example.myshopify.com_42"
            shop=SHOP,
            state="",
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

        storage.store_session(offline)  # one PutItem
        storage.store_session(online)

        loaded = storage.load_session(offline.id)  # one GetItem; None when absent
        assert loaded == offline
        print(f"loaded  {loaded!r}")  # tokens never show in a repr
        print(f"active for read_products: {loaded.is_active('read_products')}")

        found = storage.find_sessions_by_shop(SHOP)  # every session of the shop
        print(f"found   {sorted(session.id for session in found)}")

        deleted = storage.delete_sessions_by_shop(SHOP)  # the app/uninstalled webhook
        print(f"deleted {deleted} sessions; left: {storage.find_sessions_by_shop(SHOP)}")
        storage.close()


if __name__ == "__main__":
    main()
