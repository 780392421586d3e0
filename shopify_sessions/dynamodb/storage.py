"""``DynamoDBSessionStorage``: the Node adapter's storage, in Python, on the same table.

Every method is a plan of :class:`~.admin.TablePlans` (the decisions: codec, conditions,
batches, retries) run by the blocking :class:`~.driver.Driver` with PynamoDB's botocore client.
``AsyncDynamoDBSessionStorage`` runs the very same plans awaited.
"""

from __future__ import annotations

import logging
from typing import Any

from shopify_sessions import redact
from shopify_sessions.tokens.fresh_methods import LoadsFreshSessions

from .admin import TablePlans
from .clients import shared_client
from .driver import Driver, driven, streamed
from .ops import Plan
from .options import TableStorage

__all__ = ["DynamoDBSessionStorage"]

logger = logging.getLogger("shopify_sessions")
redact.install()


class DynamoDBSessionStorage(TableStorage, LoadsFreshSessions):
    __doc__ = TableStorage.__doc__

    def _start(self) -> None:
        self.driver = Driver(self._client, self.retry.sleep)

    def _new_flights(self) -> Any:
        from shopify_sessions.tokens.fresh import SingleFlight

        return SingleFlight()

    def _client(self) -> Any:
        """The botocore client for these settings (one per process, shared with the models)."""
        return shared_client(self.connection)

    def run(self, plan: Plan[Any]) -> Any:
        """Carry a plan of :attr:`plans` out (for admin tools composing their own)."""
        return self.driver.run(plan)

    def close(self) -> None:
        """Stop the worker threads (idempotent); the storage stays usable and restarts them."""
        self.driver.close()

    # the SessionStorage contract
    store_session = driven(TablePlans.store_session)
    store_newest = driven(TablePlans.store_newest)
    load_session = driven(TablePlans.load_session)
    delete_session = driven(TablePlans.delete_session)
    delete_sessions = driven(TablePlans.delete_sessions)
    delete_sessions_by_shop = driven(TablePlans.delete_sessions_by_shop)
    find_sessions_by_shop = driven(TablePlans.find_sessions_by_shop)
    find_session_ids_by_shop = driven(TablePlans.find_session_ids_by_shop)
    # the table and whole-table work
    create_table = driven(TablePlans.create_table)
    verify_table = driven(TablePlans.verify_table)
    enable_ttl = driven(TablePlans.enable_ttl)
    re_encrypt = driven(TablePlans.re_encrypt)
    iter_items = streamed(TablePlans.iter_items)
    scan_pages = streamed(TablePlans.scan_pages)
    iter_sessions = streamed(TablePlans.iter_sessions)
