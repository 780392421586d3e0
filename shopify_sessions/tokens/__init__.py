"""The token lifecycle: refreshing expiring offline tokens once for a fleet, and migrating.

``grants`` (Shopify's token endpoint) and ``lease`` (the fleet protocol) decide without I/O;
``refresher`` and ``fresh`` are their blocking drivers, ``refresher_async`` and ``fresh_async``
their asyncio ones (sharing ``http`` and ``steps``, so they differ only in ``await``). The
refreshers import httpx, so they are imported only when a refresher is made.
"""

from .errors import ReauthorizationRequiredError, TokenRefreshError

__all__ = ["ReauthorizationRequiredError", "TokenRefreshError"]
