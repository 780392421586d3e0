"""One shop's migration to an expiring token, such that no failure loses the shop.

Shopify revokes the old token when it answers the exchange, but it answers the *same* pair
again when the exchange is retried with the same old token, for up to 7 days (until the pair is
first refreshed or a later install replaces it). So the old token stays in the item until the
new pair is stored: the store is retried for as long as the process lives, and a process that
died or gave up between the exchange and the store leaves an item that a re-run migrates again,
getting the same pair. A shop whose exchange Shopify refused is recorded in its item
(``migrationRefused``) and never asked again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import click

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.migration import MigrationPlans, MigrationState
from shopify_sessions.errors import (
    AccessDeniedError,
    InvalidSessionError,
    SessionConflictError,
    SessionStorageError,
    TableNotFoundError,
)
from shopify_sessions.tokens.refresh_errors import ReauthorizationRequiredError, TokenRefreshError

__all__ = ["MIGRATED", "Migrator"]

MIGRATED = "migrated"
CHANGED = "changed since it was read (refreshed or reinstalled): not overwritten"
GONE = "deleted meanwhile (uninstalled)"
RECORDED = "reauthorize: Shopify refused this token's exchange in an earlier run (not asked again)"
RERUN = (
    "the table still holds the old token: run again within 7 days (Shopify answers the same pair)"
)
FIRST_PAUSE = 0.5  # seconds between store attempts, doubling up to MAX_PAUSE
MAX_PAUSE = 30.0
# what retrying cannot fix: reported at once (the re-run recovers the shop once it is fixed)
_FINAL = (AccessDeniedError, TableNotFoundError, InvalidSessionError)


@dataclass
class Migrator:
    """Migrates one session at a time; ``give_up`` (set by a second Ctrl-C) ends the retries."""

    storage: DynamoDBSessionStorage
    exchange: Callable[[Session], Session]  # the refresher's migrate
    give_up: threading.Event

    def __call__(self, session: Session) -> str:
        plans = MigrationPlans(self.storage.plans)
        try:
            state: MigrationState | None = self.storage.run(plans.read(session.id))
        except SessionStorageError as error:
            return f"reading the session failed: {error}"
        if state is None:
            return GONE
        if (state.session.access_token, state.session.refresh_token) != (
            session.access_token,
            session.refresh_token,
        ):
            return CHANGED
        if state.refused:
            return RECORDED
        try:
            new = self.exchange(session)
        except ReauthorizationRequiredError as error:
            with contextlib.suppress(SessionStorageError):  # else the next run asks again
                self.storage.run(plans.mark_refused(state))
            return f"reauthorize: {error.reason}"
        except (TokenRefreshError, ValueError) as error:
            return str(error)
        return self._store(new, session)

    def _store(self, new: Session, old: Session) -> str:
        """Store ``new`` over ``old`` until it lands, the item changes, or the operator gives up."""
        pause = FIRST_PAUSE
        told = False
        while True:
            try:
                self.storage.store_session(new, expected=old)
                return MIGRATED
            except SessionConflictError:
                return self._after_conflict(new)
            except _FINAL as error:
                return f"exchanged, but storing the new pair failed: {error}; {RERUN}"
            except SessionStorageError as error:
                if not told:
                    click.echo(
                        f"{new.shop}: storing the new pair failed ({error}); retrying until it "
                        f"is stored (Ctrl-C twice gives up; a re-run within 7 days recovers it)",
                        err=True,
                    )
                    told = True
                if self.give_up.wait(pause):
                    return f"exchanged, but not stored (stopped while retrying): {RERUN}"
                pause = min(pause * 2, MAX_PAUSE)

    def _after_conflict(self, new: Session) -> str:
        """A conditional store that found other tokens: maybe our own earlier attempt landed."""
        try:
            stored = self.storage.load_session(new.id)
        except SessionStorageError as error:
            return f"exchanged; whether the new pair was stored is unknown ({error}): {RERUN}"
        if stored is None:
            return GONE
        if (stored.access_token, stored.refresh_token) == (new.access_token, new.refresh_token):
            return MIGRATED
        return CHANGED
