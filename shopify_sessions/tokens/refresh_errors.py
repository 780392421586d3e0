"""Errors of the token lifecycle: a refresh that failed, and a grant that is dead for good.

Messages name the shop and what happened, never a token or the client secret.
"""

from __future__ import annotations

__all__ = ["ReauthorizationRequiredError", "TokenRefreshError"]


class TokenRefreshError(Exception):
    """A refresh or token exchange did not give a usable pair; the stored pair is unchanged.

    Transient (Shopify kept failing or throttling, the network dropped, a waiter gave up) or
    a malformed answer: trying again later may work.
    """

    def __init__(self, message: str, *, shop: str | None = None) -> None:
        self.shop = shop
        super().__init__(message)


class ReauthorizationRequiredError(TokenRefreshError):
    """The shop's grant cannot be refreshed: the merchant must open the app again.

    Raised for ``invalid_grant`` (revoked, reinstalled, rotated away, expired), a refresh
    token known to be past its expiry, or an expired session with no refresh token. Retrying
    does not help; a new token exchange or OAuth does.
    """

    def __init__(self, shop: str, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"shop {shop!r} must open the app again to re-authorize it: {reason}", shop=shop
        )
