"""Quick start: store, load, find and delete Shopify sessions in DynamoDB.

Runs with no AWS account: when no endpoint is configured (``AWS_ENDPOINT_URL_DYNAMODB`` or
``AWS_ENDPOINT_URL``), it starts moto's DynamoDB-compatible server on 127.0.0.1 first.

    python examples/quickstart.py
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone

from shopify_sessions import (
    AssociatedUser,
    DynamoDBSessionStorage,
    OnlineAccessInfo,
    Session,
    offline_session_id,
    online_session_id,
)

SHOP = "example.myshopify.com"


def start_local_endpoint() -> str:
    """moto's threaded server on a free loopback port, with throwaway credentials."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")
    return f"http://{host}:{port}"


def main() -> None:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint is None:
        endpoint = start_local_endpoint()
        print(f"started a local DynamoDB endpoint (moto) at {endpoint}")

    storage = DynamoDBSessionStorage(host=endpoint)  # table shopify_sessions, index shop_index
    storage.create_table()
    print(f"table {storage.table_name!r} with index {storage.shop_index_name!r} is ready")

    offline = Session(
        id=offline_session_id(SHOP),
        shop=SHOP,
        state="state-1",
        is_online=False,
        scope="write_products,read_orders",
        access_token="shpat_example_offline_token",
    )
    online = Session(
        id=online_session_id(SHOP, 42),
        shop=SHOP,
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
    for session in (offline, online):
        storage.store_session(session)
        print(f"stored  {session.id}")

    for session in (offline, online):
        loaded = storage.load_session(session.id)
        assert loaded == session
        print(f"loaded  {loaded!r}")
        print(f"        active for read_products: {loaded.is_active('read_products')}")

    found = storage.find_sessions_by_shop(SHOP)
    print(f"found   {sorted(s.id for s in found)} for {SHOP}")

    storage.delete_sessions([s.id for s in found])
    print(f"deleted {len(found)} sessions; left for {SHOP}: {storage.find_sessions_by_shop(SHOP)}")


if __name__ == "__main__":
    main()
