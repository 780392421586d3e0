"""Which pair Shopify issued last, asked of Shopify: is this access token the active one?

Shopify keeps one expiring offline token active per app and shop, so the token it accepts is
the one it issued last. Expiry dates cannot say it: a Node app dates its pair from when the
answer arrived, this package from when the request left, so a Node pair issued first can look
later. One Admin API request, without I/O (``exchange``'s style): the refreshers carry it out.
"""

from __future__ import annotations

from collections.abc import Generator

from shopify_sessions.steps import Sleep

from .grants import HttpAnswer, HttpRequest, TransportFailure, token_url

__all__ = ["ADMIN_API_VERSION", "Probe", "active_check"]

ADMIN_API_VERSION = "2026-01"  # an unsupported version falls forward to the oldest supported
_QUERY = "{ shop { id } }"  # needs no access scope

Probe = Generator[HttpRequest | Sleep, HttpAnswer | TransportFailure | None, bool | None]


def active_check(shop: str, access_token: str | None, timeout: float) -> Probe:
    """``True``: Shopify's Admin API accepts ``access_token`` now; ``False``: it answers 401;
    ``None``: it cannot be told (no token, no answer, throttled, another status)."""
    if not access_token:
        return None
    base = token_url(shop).removesuffix("/oauth/access_token")
    outcome = yield HttpRequest(
        f"{base}/api/{ADMIN_API_VERSION}/graphql.json",
        {"query": _QUERY},
        timeout,
        headers={"X-Shopify-Access-Token": access_token},
    )
    if isinstance(outcome, HttpAnswer) and outcome.status in (200, 401):
        return outcome.status == 200
    return None
