"""The token lifecycle: refreshing expiring offline tokens once for a fleet, and migrating.

``grants`` (Shopify's token endpoint) and ``lease_protocol`` (the fleet protocol) decide
without I/O; ``refresher`` and ``lease_driver`` are their blocking drivers, ``refresher_async``
and ``lease_driver_async`` their asyncio ones (sharing ``http`` and ``shopify_sessions.steps``,
so they differ only in ``await``); ``load_fresh`` is the storages' ``load_fresh_session``. The
refreshers import httpx, so they are imported only when a refresher is made.
"""

from .refresh_errors import ReauthorizationRequiredError, TokenRefreshError

__all__ = ["ReauthorizationRequiredError", "TokenRefreshError"]
