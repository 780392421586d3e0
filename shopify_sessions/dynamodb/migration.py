"""What ``migrate-to-expiring`` keeps in a session's item: that Shopify refused its exchange.

When Shopify answers a migration exchange with ``invalid_grant`` (or ``invalid_subject_token``),
the old token is dead for good: asking again only costs calls. ``migrationRefused`` holds a
fingerprint of the stored access token that was refused, written only while the item still holds
that token, so a re-run skips the shop without a call until a new token is stored (the merchant
opened the app again; that write replaces the whole item and the mark with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopify_sessions.domain.session import Session
from shopify_sessions.tokens.lease_protocol import fingerprint

from .codec import item_to_session
from .ops import Plan
from .session_plans import SessionPlans

__all__ = ["MIGRATION_REFUSED", "MigrationPlans", "MigrationState"]

MIGRATION_REFUSED = "migrationRefused"


@dataclass(frozen=True)
class MigrationState:
    """A stored session as one strongly consistent read saw it, with its refusal mark."""

    session: Session
    stored_access_token: str | None = field(default=None, repr=False)  # as stored: maybe sealed
    refused: bool = False  # Shopify refused to exchange the stored access token


class MigrationPlans:
    """Read a session with its mark, and record a refusal, as plans on one table."""

    def __init__(self, table: SessionPlans) -> None:
        self.table = table

    def read(self, id: str) -> Plan[MigrationState | None]:
        item = yield from self.table.requests.get_item(id)
        if item is None:
            return None
        stored = item.get("accessToken", {}).get("S")
        mark = item.get(MIGRATION_REFUSED, {}).get("S")
        return MigrationState(
            session=self.table.open(item_to_session(item)),
            stored_access_token=stored,
            refused=stored is not None and mark == fingerprint(stored),
        )

    def mark_refused(self, state: MigrationState) -> Plan[bool]:
        """Record the refusal, only while the item still holds the refused token (and no
        refresh token): ``False`` when it changed meanwhile."""
        token = state.stored_access_token
        if token is None:
            return False
        request = {
            "UpdateExpression": "SET #refused = :refused",
            "ConditionExpression": "#at = :at AND attribute_not_exists(#rt)",
            "ExpressionAttributeNames": {
                "#refused": MIGRATION_REFUSED,
                "#at": "accessToken",
                "#rt": "refreshToken",
            },
            "ExpressionAttributeValues": {
                ":refused": {"S": fingerprint(token)},
                ":at": {"S": token},
            },
        }
        written: bool = yield from self.table.requests.update_item(state.session.id, request)
        return written
