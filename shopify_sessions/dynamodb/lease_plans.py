"""The refresh lease in a DynamoDB item: the conditional writes ``tokens.lease_protocol`` asks for.

The lease lives in the session's own item (``refreshLeaseHolder``, ``refreshLeaseExpires``,
``refreshTokenDead``), so it costs no second table and no extra IAM action beyond UpdateItem.
The Node adapter ignores these attributes and drops them when it re-stores the item; the
newest-pair condition of the final write still protects the pair then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopify_sessions.domain.session import Session
from shopify_sessions.domain.validation import check_session
from shopify_sessions.tokens.lease_protocol import (
    DEAD_REFRESH_TOKEN,
    LEASE_EXPIRES,
    LEASE_HOLDER,
    Snapshot,
    fingerprint,
)

from .codec import item_to_session
from .ops import Plan
from .session_plans import SessionPlans
from .stored_version import unchanged_condition

if TYPE_CHECKING:  # the drivers: the async one brings aiobotocore
    from .driver import Driver
    from .driver_async import AsyncDriver

__all__ = ["AsyncDynamoDBLeaseStore", "DynamoDBLeaseStore", "LeasePlans"]

_NAMES = {
    "#holder": LEASE_HOLDER,
    "#until": LEASE_EXPIRES,
    "#dead": DEAD_REFRESH_TOKEN,
    "#rt": "refreshToken",
}


class LeasePlans:
    """The lease operations ``tokens.lease_driver`` needs, as plans on one table."""

    def __init__(self, table: SessionPlans) -> None:
        self.table = table

    def read(self, id: str) -> Plan[Snapshot | None]:
        """One strongly consistent GetItem: the session (tokens opened) and its lease state."""
        item = yield from self.table.requests.get_item(id)
        if item is None:
            return None
        session = self.table.open(item_to_session(item))
        until = item.get(LEASE_EXPIRES, {}).get("N")
        return Snapshot(
            session=session,
            stored_refresh_token=item.get("refreshToken", {}).get("S"),
            lease_holder=item.get(LEASE_HOLDER, {}).get("S"),
            lease_expires_ms=int(until) if until is not None else None,
            dead_refresh_token=item.get(DEAD_REFRESH_TOKEN, {}).get("S"),
            version=item,
        )

    def take_lease(
        self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int
    ) -> Plan[bool]:
        token = _stored_token(snapshot)
        taken = yield from self._update(
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
        return taken

    def store_newest(self, session: Session, holder: str | None = None) -> Plan[bool]:
        """One PutItem over the item while it holds ``holder``'s lease (nothing was stored since
        it was taken: no read needed), else ``SessionPlans.store_newest``."""
        if holder is not None:
            check_session(session)
            leased = {
                "ConditionExpression": "#holder = :holder",
                "ExpressionAttributeNames": {"#holder": LEASE_HOLDER},
                "ExpressionAttributeValues": {":holder": {"S": holder}},
            }
            if (yield from self.table.requests.put_item(self.table.sealed_item(session), leased)):
                return True
        stored = yield from self.table.store_newest(session)
        return stored

    def store_over(self, session: Session, latest: Snapshot) -> Plan[bool]:
        """One PutItem of ``session``, conditioned on the item holding exactly the pair
        ``latest`` read (``True`` too when a retried request finds its own write)."""
        check_session(session)
        item = self.table.sealed_item(session)
        if (yield from self.table.requests.put_item(item, unchanged_condition(latest.version))):
            return True
        stored = yield from self.table.requests.get_item(session.id)
        return stored == item

    def mark_dead(self, snapshot: Snapshot) -> Plan[None]:
        """Record that Shopify refused this refresh token, and drop the lease, in one write."""
        token = _stored_token(snapshot)
        yield from self._update(
            snapshot.session.id,
            "SET #dead = :dead REMOVE #holder, #until",
            "#rt = :rt",
            {":dead": {"S": fingerprint(token)}, ":rt": {"S": token}},
        )

    def release_lease(self, snapshot: Snapshot, holder: str) -> Plan[None]:
        yield from self._update(
            snapshot.session.id,
            "REMOVE #holder, #until",
            "#holder = :holder",
            {":holder": {"S": holder}},
        )

    def _update(
        self, id: str, update: str, condition: str, values: dict[str, dict[str, str]]
    ) -> Plan[bool]:
        """One conditional UpdateItem; ``False`` when the condition failed."""
        used = {name: stored for name, stored in _NAMES.items() if name in update + condition}
        request: dict[str, Any] = {
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": used,
            "ExpressionAttributeValues": values,
        }
        written: bool = yield from self.table.requests.update_item(id, request)
        return written


class DynamoDBLeaseStore:
    """The lease plans of one table, run by the blocking driver: a ``LeaseStore``."""

    def __init__(self, plans: LeasePlans, driver: Driver) -> None:
        self.plans = plans
        self.driver = driver

    def read(self, id: str) -> Snapshot | None:
        """The session (tokens opened) and its lease state, as one GetItem saw them."""
        return self.driver.run(self.plans.read(id))

    def take_lease(self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int) -> bool:
        """Set the lease if the refresh token is still the snapshot's and no lease is live."""
        return self.driver.run(self.plans.take_lease(snapshot, holder, expires_ms, now_ms))

    def store_newest(self, session: Session, holder: str | None = None) -> bool:
        """Store the pair (dropping the lease) unless the item is gone or holds a later one;
        with ``holder``, one write while that holder's lease is still on the item."""
        return self.driver.run(self.plans.store_newest(session, holder))

    def store_over(self, session: Session, latest: Snapshot) -> bool:
        """Store ``session`` over exactly the pair ``latest`` read (Shopify said ours is the
        active one)."""
        return self.driver.run(self.plans.store_over(session, latest))

    def mark_dead(self, snapshot: Snapshot) -> None:
        """Record that Shopify refused the snapshot's refresh token, dropping the lease."""
        self.driver.run(self.plans.mark_dead(snapshot))

    def release_lease(self, snapshot: Snapshot, holder: str) -> None:
        """Drop the lease if ``holder`` still holds it."""
        self.driver.run(self.plans.release_lease(snapshot, holder))


class AsyncDynamoDBLeaseStore:
    """The lease plans of one table, awaited by the asyncio driver: an ``AsyncLeaseStore``."""

    def __init__(self, plans: LeasePlans, driver: AsyncDriver) -> None:
        self.plans = plans
        self.driver = driver

    async def read(self, id: str) -> Snapshot | None:
        """The session (tokens opened) and its lease state, as one GetItem saw them."""
        return await self.driver.run(self.plans.read(id))

    async def take_lease(
        self, snapshot: Snapshot, holder: str, expires_ms: int, now_ms: int
    ) -> bool:
        """Set the lease if the refresh token is still the snapshot's and no lease is live."""
        return await self.driver.run(self.plans.take_lease(snapshot, holder, expires_ms, now_ms))

    async def store_newest(self, session: Session, holder: str | None = None) -> bool:
        """Store the pair (dropping the lease) unless the item is gone or holds a later one;
        with ``holder``, one write while that holder's lease is still on the item."""
        return await self.driver.run(self.plans.store_newest(session, holder))

    async def store_over(self, session: Session, latest: Snapshot) -> bool:
        """Store ``session`` over exactly the pair ``latest`` read (Shopify said ours is the
        active one)."""
        return await self.driver.run(self.plans.store_over(session, latest))

    async def mark_dead(self, snapshot: Snapshot) -> None:
        """Record that Shopify refused the snapshot's refresh token, dropping the lease."""
        await self.driver.run(self.plans.mark_dead(snapshot))

    async def release_lease(self, snapshot: Snapshot, holder: str) -> None:
        """Drop the lease if ``holder`` still holds it."""
        await self.driver.run(self.plans.release_lease(snapshot, holder))


def _stored_token(snapshot: Snapshot) -> str:
    if snapshot.stored_refresh_token is None:  # the flow never leases without a refresh token
        raise ValueError(f"session {snapshot.session.id!r} has no stored refresh token")
    return snapshot.stored_refresh_token
