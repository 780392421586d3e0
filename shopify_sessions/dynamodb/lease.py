"""The refresh lease in a DynamoDB item: the conditional writes ``tokens.lease`` asks for.

The lease lives in the session's own item (``refreshLeaseHolder``, ``refreshLeaseExpires``,
``refreshTokenDead``), so it costs no second table and no extra IAM action beyond UpdateItem.
The Node adapter ignores these attributes and drops them when it re-stores the item; the
newest-pair condition of the final write still protects the pair then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopify_sessions.domain.session import Session
from shopify_sessions.errors import SessionConflictError
from shopify_sessions.tokens.lease import (
    DEAD_REFRESH_TOKEN,
    LEASE_EXPIRES,
    LEASE_HOLDER,
    Snapshot,
    fingerprint,
)

from .codec import item_to_session

if TYPE_CHECKING:
    from .storage import DynamoDBSessionStorage

__all__ = ["DynamoDBLeaseStore"]

_NAMES = {
    "#holder": LEASE_HOLDER,
    "#until": LEASE_EXPIRES,
    "#dead": DEAD_REFRESH_TOKEN,
    "#rt": "refreshToken",
}


class DynamoDBLeaseStore:
    """Lease operations on one storage's table, through its retries and error translation."""

    def __init__(self, storage: DynamoDBSessionStorage) -> None:
        self.storage = storage

    def read(self, id: str) -> Snapshot | None:
        """One strongly consistent GetItem: the session (tokens opened) and its lease state."""
        item = self.storage.requests.get_item(id)
        if item is None:
            return None
        session = self.storage._open(item_to_session(item, self.storage.model))
        until = item.get(LEASE_EXPIRES, {}).get("N")
        return Snapshot(
            session=session,
            stored_refresh_token=item.get("refreshToken", {}).get("S"),
            lease_holder=item.get(LEASE_HOLDER, {}).get("S"),
            lease_expires_ms=int(until) if until is not None else None,
            dead_refresh_token=item.get(DEAD_REFRESH_TOKEN, {}).get("S"),
        )

    def take_lease(self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int) -> bool:
        token = _stored_token(snapshot)
        return self._update(
            snapshot.session.id,
            "SET #holder = :holder, #until = :until",
            "attribute_exists(id) AND #rt = :rt"
            " AND (attribute_not_exists(#until) OR #until < :now)"
            " AND (attribute_not_exists(#dead) OR #dead <> :dead)",
            {
                ":holder": {"S": holder},
                ":until": {"N": str(expires_ms)},
                ":rt": {"S": token},
                ":now": {"N": str(now_ms)},
                ":dead": {"S": fingerprint(token)},
            },
        )

    def store_newest(self, session: Session) -> bool:
        return self.storage.store_newest(session)

    def mark_dead(self, snapshot: Snapshot) -> None:
        """Record that Shopify refused this refresh token, and drop the lease, in one write."""
        token = _stored_token(snapshot)
        self._update(
            snapshot.session.id,
            "SET #dead = :dead REMOVE #holder, #until",
            "#rt = :rt",
            {":dead": {"S": fingerprint(token)}, ":rt": {"S": token}},
        )

    def release_lease(self, snapshot: Snapshot, holder: str) -> None:
        self._update(
            snapshot.session.id,
            "REMOVE #holder, #until",
            "#holder = :holder",
            {":holder": {"S": holder}},
        )

    def _update(
        self, id: str, update: str, condition: str, values: dict[str, dict[str, str]]
    ) -> bool:
        """One conditional UpdateItem; ``False`` when the condition failed."""
        used = {name: stored for name, stored in _NAMES.items() if name in update + condition}
        request: dict[str, Any] = {
            "TableName": self.storage.table_name,
            "Key": {"id": {"S": id}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": used,
            "ExpressionAttributeValues": values,
        }
        try:
            self.storage.requests.dispatch("UpdateItem", request)
        except SessionConflictError:
            return False
        return True


def _stored_token(snapshot: Snapshot) -> str:
    if snapshot.stored_refresh_token is None:  # the flow never leases without a refresh token
        raise ValueError(f"session {snapshot.session.id!r} has no stored refresh token")
    return snapshot.stored_refresh_token
