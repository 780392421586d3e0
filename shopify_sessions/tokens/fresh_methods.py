"""``load_fresh_session`` as the storages' method, the refresh protocol imported on first call.

A storage that only loads and stores (a Lambda reading sessions) then never imports the lease
protocol and the grant answers: less to import and fewer objects made at its cold start.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from shopify_sessions.domain.validation import check_id

if TYPE_CHECKING:
    from shopify_sessions.domain.session import Session

    from .fresh import LeaseStore, SingleFlight
    from .fresh_async import AsyncLeaseStore, AsyncSingleFlight
    from .lease import AsyncTokenRefresher, TokenRefresher

__all__ = ["DEFAULT_LEASE", "DEFAULT_WITHIN", "AsyncLoadsFreshSessions", "LoadsFreshSessions"]

DEFAULT_WITHIN = timedelta(minutes=5)  # load_fresh_session: refresh what expires this soon
DEFAULT_LEASE = timedelta(seconds=30)  # load_fresh_session: how long a refresh may hold the lease


class LoadsFreshSessions:
    """``load_fresh_session`` for a storage, from the lease store and single flight it gives."""

    def _refreshing(self) -> tuple[LeaseStore, SingleFlight]:
        raise NotImplementedError

    def load_fresh_session(
        self,
        id: str,
        refresher: TokenRefresher,
        *,
        within: timedelta = DEFAULT_WITHIN,
        lease: timedelta = DEFAULT_LEASE,
        rejected: Session | None = None,
    ) -> Session | None:
        """The session under ``id`` with a usable token: what a job calls before an Admin call.

        Not expiring within ``within`` (or never expiring): the stored session, one GetItem.
        Otherwise, or when ``rejected`` (a session whose token the Admin API answered 401 to)
        still holds the stored token, the token is refreshed once for the whole fleet: callers
        in this process share one refresh, other processes and hosts wait on a lease in the
        item (see README, "Expiring offline tokens"), and the new pair is stored only if no
        newer one is. ``None`` when nothing is stored. Raises ``ReauthorizationRequiredError``
        when the merchant must open the app again, ``TokenRefreshError`` when the refresh
        failed for now (the stored pair is unchanged), ``ValueError`` when ``lease`` does not
        exceed the refresher's ``timeout`` with room for the write.
        """
        from .fresh import load_fresh

        check_id(id)
        store, flights = self._refreshing()
        return load_fresh(
            store, flights, id, refresher, within=within, lease=lease, rejected=rejected
        )


class AsyncLoadsFreshSessions:
    """``load_fresh_session``, awaited, from the lease store and single flight it gives."""

    def _refreshing(self) -> tuple[AsyncLeaseStore, AsyncSingleFlight]:
        raise NotImplementedError

    async def load_fresh_session(
        self,
        id: str,
        refresher: AsyncTokenRefresher,
        *,
        within: timedelta = DEFAULT_WITHIN,
        lease: timedelta = DEFAULT_LEASE,
        rejected: Session | None = None,
    ) -> Session | None:
        """The session under ``id`` with a usable token; see ``load_fresh_session`` of the
        blocking storages for the protocol, the arguments and the errors, which are the same.
        Tasks of this event loop share one refresh."""
        from .fresh_async import load_fresh_async

        check_id(id)
        store, flights = self._refreshing()
        return await load_fresh_async(
            store, flights, id, refresher, within=within, lease=lease, rejected=rejected
        )
