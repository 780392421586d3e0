"""Shopify's token endpoint without I/O: what to send, how to read the answer, when to retry.

``exchange(...)`` is a generator in the sans-IO style: it yields an :class:`HttpRequest` (or a
``Sleep``), is sent back an :class:`HttpAnswer` or a :class:`TransportFailure`, and
returns the validated answer. A thin driver (``refresher.py``) does the HTTP and the sleeping,
so every decision (retry, backoff, ``Retry-After``, the deadline, what counts as a dead grant,
what a valid answer is) lives here once.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from shopify_sessions.domain.session import Session
from shopify_sessions.redact import REDACTED
from shopify_sessions.steps import Sleep

from .refresh_errors import ReauthorizationRequiredError, TokenRefreshError

__all__ = [
    "OFFLINE_TOKEN_TYPE",
    "REFRESH_GRANT",
    "TOKEN_EXCHANGE_GRANT",
    "Exchange",
    "HttpAnswer",
    "HttpRequest",
    "TransportFailure",
    "exchange",
    "migration_body",
    "refresh_blocker",
    "refresh_body",
    "refreshed_session",
    "token_url",
]

REFRESH_GRANT = "refresh_token"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"

BASE_DELAY = 0.2  # seconds; full jitter, doubling per retry
MAX_DELAY = 2.0
MAX_DESCRIPTION = 200  # characters of Shopify's error text kept in an error message
_SECRET_FIELDS = ("client_secret", "refresh_token", "subject_token")  # of a request body
_SHOPIFY_TOKEN = re.compile(r"\bshp[a-z]{2}_[0-9A-Za-z_-]{8,}")  # shpat_, shprt_, shpss_, ...
_SHOP = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$", re.IGNORECASE)
# Answer fields an expiring offline grant must carry, with the JSON type each must have.
_EXPIRING_FIELDS: tuple[tuple[str, type], ...] = (
    ("access_token", str),
    ("expires_in", int),
    ("refresh_token", str),
    ("refresh_token_expires_in", int),
)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


_Result = tuple[dict[str, Any], datetime]


@dataclass(frozen=True)
class HttpRequest:
    """POST ``body`` as JSON to ``url``, giving up after ``timeout`` seconds."""

    url: str
    body: dict[str, str] = field(repr=False)  # holds the client secret and a token
    timeout: float
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold a token


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class TransportFailure:
    """No answer: ``what`` says why (timed out, connection refused or dropped)."""

    what: str


def token_url(shop: str) -> str:
    """``https://{shop}/admin/oauth/access_token``; the shop must be a bare host name."""
    if not isinstance(shop, str) or not _SHOP.match(shop):
        raise ValueError(f"shop {shop!r} is not a shop domain such as example.myshopify.com")
    return f"https://{shop}/admin/oauth/access_token"


def refresh_body(client_id: str, client_secret: str, refresh_token: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": REFRESH_GRANT,
        "refresh_token": refresh_token,
    }


def migration_body(client_id: str, client_secret: str, offline_token: str) -> dict[str, str]:
    """The token-exchange grant that turns a non-expiring offline token into an expiring one."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": offline_token,
        "subject_token_type": OFFLINE_TOKEN_TYPE,
        "requested_token_type": OFFLINE_TOKEN_TYPE,
        "expiring": "1",
    }


Exchange = Generator[HttpRequest | Sleep, HttpAnswer | TransportFailure | None, _Result]


def exchange(
    shop: str,
    body: dict[str, str],
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = _utcnow,
    *,
    secrets: tuple[str | None, ...] = (),
) -> Exchange:
    """Send ``body`` until Shopify gives a 200 or the ``timeout`` (all attempts) runs out.

    Returns the JSON answer and the time (``now()``) its request was sent: expiries count
    from then, so they never overstate a token's life. 429 honours ``Retry-After``; 429, 5xx
    and transport failures are retried with backoff; ``invalid_grant`` raises
    ``ReauthorizationRequiredError`` at once; other 4xx raise ``TokenRefreshError``. Each
    attempt's ``HttpRequest.timeout`` is what is left of ``timeout``: the driver must give up
    on the answer by then, however it trickles in. ``secrets`` (tokens beyond those in
    ``body``) are scrubbed from Shopify's error text, as the body's are.
    """
    hidden = tuple(body[name] for name in _SECRET_FIELDS if body.get(name)) + secrets
    url = token_url(shop)
    deadline = clock() + timeout
    attempts = 0
    problems: list[str] = []  # each kind once, in order: the deadline may cut the last short
    while True:
        sent_at = now()
        attempts += 1
        outcome = yield HttpRequest(url, body, max(deadline - clock(), 0.001))
        if isinstance(outcome, HttpAnswer) and outcome.status == 200:
            return _json(outcome, shop), sent_at
        problem, wait = _retry_plan(outcome, shop, attempts, hidden)
        if problem not in problems:
            problems.append(problem)
        left = deadline - clock()
        if wait >= left:
            raise TokenRefreshError(
                f"refreshing the token of shop {shop!r} failed after {attempts} "
                f"attempt{'s' if attempts != 1 else ''} within {timeout:g} s: "
                + "; then ".join(problems),
                shop=shop,
            )
        yield Sleep(wait)


def _retry_plan(
    outcome: HttpAnswer | TransportFailure | None,
    shop: str,
    attempts: int,
    secrets: tuple[str | None, ...],
) -> tuple[str, float]:
    """What went wrong and how long to wait before the next attempt; raises when final."""
    backoff = random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** min(attempts - 1, 10)))
    if not isinstance(outcome, HttpAnswer):
        return (outcome.what if outcome else "no answer"), backoff
    status = outcome.status
    if status == 429:
        after = _retry_after(outcome.headers)
        shown = f" (Retry-After {after:g} s)" if after is not None else ""
        return f"rate limited by Shopify (429){shown}", max(after or 0.0, backoff)
    if status >= 500:
        return f"Shopify answered {status}", backoff
    error, description = _error_of(outcome, secrets)
    if error in ("invalid_grant", "invalid_subject_token"):
        said = f": {description}" if description else ""
        raise ReauthorizationRequiredError(shop, f"Shopify refused the grant (invalid_grant{said})")
    detail = f" {error}" if error else ""
    detail += f": {description}" if description else ""
    raise TokenRefreshError(
        f"Shopify refused the token request for shop {shop!r} ({status}{detail})", shop=shop
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def _error_of(answer: HttpAnswer, secrets: tuple[str | None, ...]) -> tuple[str, str]:
    """The OAuth ``error`` code and a short description, scrubbed of secrets, then cut."""
    try:
        parsed = json.loads(answer.body)
    except ValueError:
        return "", ""
    if not isinstance(parsed, dict):
        return "", ""
    error = parsed.get("error")
    description = parsed.get("error_description") or parsed.get("errors") or ""
    text = scrubbed(str(description), secrets)[:MAX_DESCRIPTION]
    return (scrubbed(error, secrets)[:MAX_DESCRIPTION] if isinstance(error, str) else ""), text


def scrubbed(text: str, secrets: tuple[str | None, ...]) -> str:
    """``text`` without the secrets it was sent with, nor anything shaped as a Shopify token.

    Done before any cut: cutting first leaves the head of a secret that no longer matches.
    """
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _SHOPIFY_TOKEN.sub(REDACTED, text)


def _json(answer: HttpAnswer, shop: str) -> dict[str, Any]:
    try:
        parsed = json.loads(answer.body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise TokenRefreshError(
            f"Shopify's token answer for shop {shop!r} is not a JSON object", shop=shop
        )
    return parsed


def refreshed_session(previous: Session, answer: dict[str, Any], sent_at: datetime) -> Session:
    """``previous`` with the new expiring pair of ``answer``; every field checked first.

    Never gives an expiring session without an expiry (shopify-app-js#3400): a missing or
    mistyped field raises ``TokenRefreshError`` naming it, and nothing is built.
    """
    for name, kind in _EXPIRING_FIELDS:
        value = answer.get(name)
        if value is None:
            raise TokenRefreshError(
                f"Shopify's token answer for shop {previous.shop!r} has no {name!r}; "
                f"nothing was stored",
                shop=previous.shop,
            )
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is str and not value):
            raise TokenRefreshError(
                f"Shopify's token answer for shop {previous.shop!r}: {name!r} is not a "
                f"{'non-empty string' if kind is str else 'whole number'}; nothing was stored",
                shop=previous.shop,
            )
        if isinstance(value, int) and value <= 0:
            raise TokenRefreshError(
                f"Shopify's token answer for shop {previous.shop!r}: {name!r} is not positive; "
                f"nothing was stored",
                shop=previous.shop,
            )
    scope = answer.get("scope", previous.scope)
    if scope is not None and not isinstance(scope, str):
        raise TokenRefreshError(
            f"Shopify's token answer for shop {previous.shop!r}: 'scope' is not a string",
            shop=previous.shop,
        )
    fresh = previous.copy()
    fresh.access_token = answer["access_token"]
    fresh.scope = scope
    fresh.expires = _expiry(previous.shop, sent_at, answer, "expires_in")
    fresh.refresh_token = answer["refresh_token"]
    fresh.refresh_token_expires = _expiry(
        previous.shop, sent_at, answer, "refresh_token_expires_in"
    )
    return fresh


def _expiry(shop: str, sent_at: datetime, answer: dict[str, Any], name: str) -> datetime:
    """``sent_at`` plus the lifetime ``answer[name]``; past any date that can be stored (year
    9999) it is a ``TokenRefreshError``, never a raw ``OverflowError``."""
    try:
        return sent_at + timedelta(seconds=answer[name])
    except OverflowError:
        raise TokenRefreshError(
            f"Shopify's token answer for shop {shop!r}: {name!r} ({answer[name]} s) ends past "
            f"any date that can be stored; nothing was stored",
            shop=shop,
        ) from None


def refresh_blocker(session: Session, now: datetime) -> str | None:
    """Why ``session`` cannot be refreshed without the merchant (``None``: it can)."""
    if not session.refresh_token:
        return "the session has no refresh token"
    if session.refresh_token_expires is not None and session.refresh_token_expires <= now:
        return "its refresh token expired"
    return None
