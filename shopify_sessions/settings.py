"""Where settings come from: explicit arguments, then the environment, then AWS defaults.

Table names: ``SHOPIFY_SESSIONS_TABLE`` / ``SHOPIFY_SESSIONS_SHOP_INDEX``. Connection:
``AWS_REGION`` / ``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL``;
credentials left as ``None`` fall through to botocore's usual chain (env, profile, role).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["ConnectionSettings", "resolve_connection", "resolve_names"]

LOCAL_REGION = "us-east-1"


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach DynamoDB. Secrets are kept out of ``repr``."""

    region: str | None = None
    host: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    connect_timeout: float | None = None  # seconds; None: PynamoDB's 15
    read_timeout: float | None = None  # seconds; None: PynamoDB's 30
    max_pool_connections: int | None = None  # None: botocore's 10


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def resolve_names(session_table_name: str | None, shop_index_name: str | None) -> tuple[str, str]:
    """The table and index names: arguments, then environment, then the Node defaults."""
    table = session_table_name or _env("SHOPIFY_SESSIONS_TABLE") or "shopify_sessions"
    index = shop_index_name or _env("SHOPIFY_SESSIONS_SHOP_INDEX") or "shop_index"
    return table, index


def resolve_connection(
    *,
    region: str | None = None,
    host: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_pool_connections: int | None = None,
) -> ConnectionSettings:
    """Fill region and endpoint from the environment; credentials stay explicit-or-chain."""
    host = host or _env("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL")
    region = region or _env("AWS_REGION", "AWS_DEFAULT_REGION")
    if region is None and host is not None:
        region = LOCAL_REGION  # a local endpoint ignores the region, but botocore needs one
    return ConnectionSettings(
        region=region,
        host=host,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
    )
