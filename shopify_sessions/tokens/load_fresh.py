"""``load_fresh_session`` for the storages, the refresh protocol imported on the first call.

A storage that only loads and stores (a Lambda reading sessions) then never imports the lease
protocol and the grant answers: less to import and fewer objects made at its cold start. Each
storage's ``load_fresh_session`` is one call of :func:`load_fresh_session` (or its awaited twin)
with the lease store and single flight of its kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from shopify_sessions.domain.validation import check_id

if TYPE_CHECKING:
    from shopify_sessions.domain.session import Session

    from .lease_driver import LeaseStore, SingleFlight
    from .lease_driver_async import AsyncLeaseStore, AsyncSingleFlight
    from .lease_protocol import AsyncTokenRefresher, TokenRefresher

__all__ = ["DEFAULT_LEASE", "DEFAULT_WITHIN", "load_fresh_session", "load_fresh_session_async"]

DEFAULT_WITHIN = timedelta(minutes=5)  # load_fresh_session: refresh what expires this soon
DEFAULT_LEASE = timedelta(seconds=30)  # load_fresh_session: how long a refresh may hold the lease


def load_fresh_session(
    refreshing: Callable[[], tuple[LeaseStore, SingleFlight]],
    id: str,
    refresher: TokenRefresher,
    *,
    within: timedelta,
    lease: timedelta,
    rejected: Session | None,
) -> Session | None:
    """A blocking storage's ``load_fresh_session``, its lease store and single flight given by
    ``refreshing`` (made at the first call)."""
    from .lease_driver import load_fresh

    check_id(id)
    store, flights = refreshing()
    return load_fresh(store, flights, id, refresher, within=within, lease=lease, rejected=rejected)


async def load_fresh_session_async(
    refreshing: Callable[[], tuple[AsyncLeaseStore, AsyncSingleFlight]],
    id: str,
    refresher: AsyncTokenRefresher,
    *,
    within: timedelta,
    lease: timedelta,
    rejected: Session | None,
) -> Session | None:
    """An asyncio storage's ``load_fresh_session``: :func:`load_fresh_session`, awaited."""
    from .lease_driver_async import load_fresh_async

    check_id(id)
    store, flights = refreshing()
    return await load_fresh_async(
        store, flights, id, refresher, within=within, lease=lease, rejected=rejected
    )
