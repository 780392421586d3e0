"""Keep tokens out of logs, even at DEBUG.

PynamoDB logs every request's arguments (``Calling PutItem with arguments {...}``) and botocore
logs request and response bodies; all of them would show access and refresh tokens. A filter on
those loggers (and ours) replaces token values, and every condition value, with ``***`` before
any handler sees the record.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

__all__ = ["REDACTED", "TokenRedactingFilter", "install", "redact"]

REDACTED = "***"
SECRET_ATTRIBUTES = frozenset(
    {
        "accessToken",
        "refreshToken",
        # Shopify's token endpoint: request and answer bodies
        "access_token",
        "refresh_token",
        "client_secret",
        "subject_token",
    }
)
# ExpressionAttributeValues hold the tokens a conditional store compares against.
SECRET_CONTAINERS = frozenset({"ExpressionAttributeValues"})
LOGGERS = (
    "shopify_sessions",
    "pynamodb",
    "pynamodb.connection.base",
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.hooks",
    "botocore.auth",
    "httpx",
    "httpcore",
    "httpcore.http11",
    "httpcore.connection",
)
_TEXT_PATTERN = (  # compiled at the first record to redact
    r"""(?P<key>["']?(?:accessToken|refreshToken)["']?\s*:\s*\{\s*["']S["']\s*:\s*"""
    r"""|["']?(?:access_token|refresh_token|client_secret|subject_token)["']?\s*[:=]\s*)"""
    r"""(?P<quote>["'])(?:\\.|(?!(?P=quote)).)*(?P=quote)"""
)


def redact(value: Any) -> Any:
    """A copy of ``value`` with token values replaced; text is parsed as JSON when it is."""
    if isinstance(value, dict):
        return {
            key: (
                REDACTED
                if key in SECRET_ATTRIBUTES
                else {k: REDACTED for k in item}
                if key in SECRET_CONTAINERS and isinstance(item, dict)
                else redact(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    if isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode()
        except UnicodeDecodeError:
            return value
        return redact(text).encode()
    if isinstance(value, str) and any(
        name in value for name in SECRET_ATTRIBUTES | SECRET_CONTAINERS
    ):
        try:
            return json.dumps(redact(json.loads(value)))
        except ValueError:
            return re.sub(
                _TEXT_PATTERN, lambda m: f"{m['key']}{m['quote']}{REDACTED}{m['quote']}", value
            )
    return value


class TokenRedactingFilter(logging.Filter):
    """Redacts a record's arguments (and message text) in place; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = (
                redact(record.args) if isinstance(record.args, tuple) else redact(dict(record.args))
            )
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


_FILTER = TokenRedactingFilter()


def install() -> None:
    """Attach the filter to every logger that may see a token (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
