"""Where settings come from: explicit arguments, then the environment, then AWS defaults.

Table names: ``SHOPIFY_SESSIONS_TABLE`` / ``SHOPIFY_SESSIONS_SHOP_INDEX``. Connection:
``AWS_REGION`` / ``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL``;
credentials left as ``None`` fall through to botocore's usual chain (env, profile, role).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, TypedDict
from urllib.parse import urlsplit

__all__ = [
    "LOCAL_CREDENTIALS",
    "ConnectionSettings",
    "Credentials",
    "aws_credentials_configured",
    "is_local_endpoint",
    "local_credentials",
    "resolve_connection",
    "resolve_names",
]

LOCAL_REGION = "us-east-1"
# A hung endpoint must cost seconds, not minutes (PynamoDB's defaults are 15 s and 30 s, times
# six attempts). DynamoDB answers in milliseconds; the read timeout is per byte, not total.
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach DynamoDB. Secrets are kept out of ``repr``."""

    region: str | None = None
    host: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    connect_timeout: float | None = None  # seconds; None: PynamoDB's 15
    read_timeout: float | None = None  # seconds without a byte; None: PynamoDB's 30
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
    if host is not None and "://" not in host:
        raise ValueError(
            f"endpoint {host!r} has no scheme: write it as http://{host} (a local endpoint) "
            f"or https://{host}"
        )
    region = region or _env("AWS_REGION", "AWS_DEFAULT_REGION")
    if region is None and host is not None:
        region = LOCAL_REGION  # a local endpoint ignores the region, but botocore needs one
    return ConnectionSettings(
        region=region,
        host=host,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        connect_timeout=connect_timeout if connect_timeout is not None else DEFAULT_CONNECT_TIMEOUT,
        read_timeout=read_timeout if read_timeout is not None else DEFAULT_READ_TIMEOUT,
        max_pool_connections=max_pool_connections,
    )


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Credentials(TypedDict, total=False):
    """Keyword arguments of ``DynamoDBSessionStorage`` for explicit credentials."""

    aws_access_key_id: str
    aws_secret_access_key: str


# what a local endpoint accepts: it checks no signature
LOCAL_CREDENTIALS: Credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def is_local_endpoint(url: str | None) -> bool:
    """Whether ``url`` points at this machine (127.0.0.1, localhost, ::1)."""
    if not url:
        return False
    try:
        return urlsplit(url).hostname in LOCAL_HOSTS
    except ValueError:
        return False


def aws_credentials_configured() -> bool:
    """Whether botocore finds credentials (environment, profile, SSO, ...), without asking the
    EC2 instance metadata service, which would cost a timeout off EC2."""
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        return True  # botocore's first provider: no need to build a session to know
    import botocore.session
    from botocore.exceptions import BotoCoreError

    session = botocore.session.Session()
    try:
        resolver: Any = session.get_component("credential_provider")
        with contextlib.suppress(Exception):
            resolver.remove("iam-role")
        return session.get_credentials() is not None
    except BotoCoreError:  # a broken profile: let the real call report it
        return True


def local_credentials(url: str | None) -> Credentials:
    """Placeholder credentials for a local endpoint when none are configured; else nothing.

    A local endpoint (``serve-local``, moto, dynalite, DynamoDB Local) checks no signature,
    but botocore refuses to send a request without credentials.
    """
    if is_local_endpoint(url) and not aws_credentials_configured():
        return LOCAL_CREDENTIALS.copy()
    return Credentials()
