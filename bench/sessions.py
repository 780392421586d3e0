"""Bench sessions in the three forms the sides need, all describing the same item.

Node JSON (camelCase, ISO dates; what ``NodeAdapter`` sends), DynamoDB JSON (what raw botocore
sends and what the Node adapter writes) and ``Session`` (what the Python storage takes).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

from shopify_sessions import AssociatedUser, OnlineAccessInfo, Session

_EXPIRES = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=123000)
_EXPIRES_ISO = _EXPIRES.strftime("%Y-%m-%dT%H:%M:%S.") + f"{_EXPIRES.microsecond // 1000:03d}Z"


def shop_name(label: str) -> str:
    return f"{label}.bench.myshopify.com"


def session_id(shop: str, user_id: int) -> str:
    return f"{shop}_{user_id}"


def index_safe_users(shop: str, n: int) -> list[int]:
    """The first ``n`` user ids of ``shop`` whose sessions dynalite's shop index keeps apart.

    dynalite 4.0.0 keys a GSI entry by the index hash key plus only the first 6 hex digits of
    md5("Outliers" + table key); two sessions of one shop sharing those 24 bits overwrite each
    other in the index (the table keeps both), so a Query of a shop with 10,000 sessions misses
    ~3 of them. Skipping such ids keeps every count exact. Same ``shop``: longer lists extend
    shorter ones.
    """
    seen: set[str] = set()
    users: list[int] = []
    for user in range(1, 2 * n + 100):  # collisions are rare: this always suffices
        digest = hashlib.md5(b"Outliers" + session_id(shop, user).encode()).hexdigest()[:6]
        if digest not in seen:
            seen.add(digest)
            users.append(user)
            if len(users) == n:
                break
    return users


def node_json(shop: str, user_id: int) -> dict[str, Any]:
    """An online session with full user info, as the Node adapter's plain JSON."""
    return {
        "id": session_id(shop, user_id),
        "shop": shop,
        "state": "bench-state",
        "isOnline": True,
        "scope": "write_products,read_orders,write_customers",
        "expires": _EXPIRES_ISO,
        "accessToken": f"shpua_{user_id:032d}",
        "onlineAccessInfo": {
            "expires_in": 86400,
            "associated_user_scope": "write_products",
            "associated_user": {
                "id": user_id,
                "first_name": "Bench",
                "last_name": f"User {user_id}",
                "email": f"user{user_id}@example.com",
                "email_verified": True,
                "account_owner": user_id == 1,
                "locale": "en",
                "collaborator": False,
            },
        },
    }


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {k: _attr(v) for k, v in value.items()}}
    return {"S": str(value)}


def dynamo_item(shop: str, user_id: int) -> dict[str, Any]:
    """The same session as a DynamoDB JSON item, in the Node adapter's format."""
    return {k: _attr(v) for k, v in node_json(shop, user_id).items()}


def session(shop: str, user_id: int) -> Session:
    """The same session as a ``Session``."""
    obj = node_json(shop, user_id)
    info = obj["onlineAccessInfo"]
    return Session(
        id=obj["id"],
        shop=shop,
        state=obj["state"],
        is_online=True,
        scope=obj["scope"],
        expires=_EXPIRES,
        access_token=obj["accessToken"],
        online_access_info=OnlineAccessInfo(
            expires_in=info["expires_in"],
            associated_user_scope=info["associated_user_scope"],
            associated_user=AssociatedUser(**info["associated_user"]),
        ),
    )
