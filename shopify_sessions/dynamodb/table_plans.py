"""``TablePlans``: every plan of a DynamoDB storage, the session ones and the table's own.

:class:`~.session_plans.SessionPlans` (store, load, find, delete) extended with the table's
administration: creating and checking the table, scans of every item or session, turning on TTL and
re-encrypting tokens after a key rotation. Scans are streaming plans: they yield
:class:`~.ops.Emit` for each value, which the drivers turn into an iterator or an async
iterator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shopify_sessions.domain.session import Session
from shopify_sessions.errors import CorruptSessionError, SchemaMismatchError

from . import lifecycle
from .cipher import TOKEN_FIELDS, is_encrypted
from .codec import item_to_session
from .ops import Emit, Plan
from .session_plans import SessionPlans
from .ttl import TTL_ATTRIBUTE, ttl_for

__all__ = ["MAX_TOTAL_SEGMENTS", "TablePlans", "check_segment"]

logger = logging.getLogger("shopify_sessions")

Progress = Callable[[int], None] | None


class TablePlans(SessionPlans):
    """Everything a storage of one table does, as plans."""

    def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        *,
        ttl: bool = False,
    ) -> Plan[None]:
        """Create the table and shop index if missing (on-demand unless capacity is given).

        ``ttl=True`` also turns on DynamoDB's TTL on the ``ttl`` attribute.
        """
        if (read_capacity_units is None) != (write_capacity_units is None):
            raise ValueError("give both read_capacity_units and write_capacity_units, or neither")
        provisioned = None
        if read_capacity_units is not None and write_capacity_units is not None:
            provisioned = (read_capacity_units, write_capacity_units)
        from .table_definition import create_table_input  # PynamoDB's schema: admin work only

        create_input = create_table_input(self.model, provisioned)
        yield from lifecycle.create_table(self.requests, create_input, wait=wait, ttl=ttl)

    def verify_table(self) -> Plan[None]:
        """Check the table against the Node adapter's schema (one DescribeTable).

        Raises ``TableNotFoundError``, ``AccessDeniedError``, or ``SchemaMismatchError`` naming
        every difference (hash key, missing index, index key, projection).
        """
        from .session_model import schema_differences

        table = yield from lifecycle.describe(self.requests)
        differences = schema_differences(table, self.shop_index_name)
        if differences:
            raise SchemaMismatchError(self.table_name, differences)

    # --- whole-table work (admin) -----------------------------------------------------------------

    def iter_items(self, page_size: int | None = None) -> Plan[None]:
        """Every raw item of the table (Scan, page by page): for admin work and backups."""
        yield from self._scan(page_size, _emit)

    def scan_pages(
        self, segment: int, total_segments: int, page_size: int | None = None
    ) -> Plan[None]:
        """The raw items of one segment of a parallel Scan, emitted a page (a list) at a time.

        The ``total_segments`` segments of one scan hold every item exactly once, so separate
        processes (hosts, Lambda invocations, job indexes) can each read one; a page at a time
        keeps the memory of a reader bounded by ``page_size``, not by the table.
        """
        check_segment(segment, total_segments)
        yield from self._scan(page_size, _emit, (segment, total_segments), pages=True)

    def iter_sessions(self, *, strict: bool = False) -> Plan[None]:
        """Every session of the table (Scan); corrupt items skipped with a warning unless strict."""

        def each(item: dict[str, Any]) -> Plan[None]:
            entry = self.decode(item)
            if isinstance(entry, Session):
                yield Emit(entry)
            elif strict:
                raise entry
            else:
                logger.warning("skipped a corrupt session: %s", entry)

        yield from self._scan(None, each)

    def enable_ttl(self, progress: Progress = None) -> Plan[int]:
        """Turn on DynamoDB's TTL and give every existing item the ``ttl`` it should carry.

        One Scan pass; an item whose ``ttl`` is missing or stale gets one conditional
        UpdateItem (never recreating an item deleted meanwhile). ``progress(n)`` is called
        after each item scanned. Returns how many items were updated.
        """
        grace = self.ttl_grace
        if grace is None:
            raise ValueError("this storage writes no ttl (ttl_grace=None): nothing to enable")
        yield from lifecycle.enable_time_to_live(self.requests)
        updated = 0

        def each(item: dict[str, Any]) -> Plan[None]:
            nonlocal updated
            try:
                session = item_to_session(item)  # dates only: no need to decrypt
            except CorruptSessionError as error:
                logger.warning("enable-ttl skipped a corrupt session: %s", error)
            else:
                wanted = ttl_for(session, grace)
                if wanted is not None and item.get(TTL_ATTRIBUTE, {}).get("N") != str(wanted):
                    updated += yield from self._set_ttl(session.id, wanted)
            if progress is not None:
                progress(1)

        yield from self._scan(None, each)
        return updated

    def re_encrypt(self, progress: Progress = None) -> Plan[int]:
        """Rewrite every item whose tokens are plaintext, v1 or under another key than the
        active one.

        Only the two token attributes change, in one UpdateItem conditioned on their stored
        values: a token refreshed meanwhile is never overwritten (it was written under the
        active key anyway), and every other attribute (a scope changed meanwhile, another
        writer's attributes) stays as it is. Items that cannot be read or decrypted are
        skipped with a warning, so one bad item never stops a key rotation. Returns how many
        items were rewritten.
        """
        cipher = self.token_cipher
        if cipher is None:
            raise ValueError("re_encrypt needs a storage with a token_cipher")
        rewritten = 0

        def each(item: dict[str, Any]) -> Plan[None]:
            nonlocal rewritten
            stored = {name: item.get(name, {}).get("S") for _, name in TOKEN_FIELDS}
            if any(value and cipher.needs_reencryption(value) for value in stored.values()):
                try:
                    id = item_to_session(item).id
                    rewritten += yield from self.reseal(id, stored)
                except CorruptSessionError as error:
                    logger.warning("re-encrypt skipped an unreadable session: %s", error)
            if progress is not None:
                progress(1)

        yield from self._scan(None, each)
        return rewritten

    def reseal(self, id: str, stored: dict[str, str | None]) -> Plan[int]:
        """One conditional UpdateItem of the token attributes, under the active key: 1 if
        written, 0 if they changed (or the item went) since ``stored`` was read."""
        cipher = self.token_cipher
        assert cipher is not None
        table = self.cipher_table_name
        names: dict[str, str] = {}
        values: dict[str, dict[str, str]] = {}
        sets: list[str] = []
        conditions = ["attribute_exists(id)"]
        for n, (_, field) in enumerate(TOKEN_FIELDS):
            old = stored[field]
            names[f"#t{n}"] = field
            if not old:
                conditions.append(f"attribute_not_exists(#t{n})")
                continue
            plain = (
                cipher.decrypt(old, session_id=id, field=field, table=table)
                if is_encrypted(old)
                else old
            )
            sealed = cipher.encrypt(plain, session_id=id, field=field, table=table)
            values[f":new{n}"] = {"S": sealed}
            values[f":old{n}"] = {"S": old}
            sets.append(f"#t{n} = :new{n}")
            conditions.append(f"#t{n} = :old{n}")
        written = yield from self.requests.update_item(
            id,
            {
                "UpdateExpression": "SET " + ", ".join(sets),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            },
        )
        return int(written)

    def _set_ttl(self, id: str, ttl: int) -> Plan[int]:
        """Set the item's ``ttl`` unless it was deleted since the scan: 1 if written."""
        written = yield from self.requests.update_item(
            id,
            {
                "UpdateExpression": "SET #ttl = :ttl",
                "ConditionExpression": "attribute_exists(id)",
                "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": {":ttl": {"N": str(ttl)}},
            },
        )
        return int(written)

    # --- the table's own requests ----------------------------------------------------------------

    def _scan(
        self,
        page_size: int | None,
        each: Callable[[Any], Plan[None]],
        segment: tuple[int, int] | None = None,
        *,
        pages: bool = False,
    ) -> Plan[None]:
        """Scan every page (of one ``(segment, total_segments)`` when given), running ``each``
        on every item as it comes, or on every page's list of items with ``pages``."""
        request: dict[str, Any] = {"TableName": self.table_name}
        if page_size is not None:
            request["Limit"] = page_size
        if segment is not None:
            request["Segment"], request["TotalSegments"] = segment
        while True:
            page = yield from self.requests.call("Scan", request)
            items = page.get("Items", [])
            if pages:
                yield from each(items)
            else:
                for item in items:
                    yield from each(item)
            if not page.get("LastEvaluatedKey"):
                return
            request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def _emit(value: Any) -> Plan[None]:
    yield Emit(value)


MAX_TOTAL_SEGMENTS = 1_000_000  # DynamoDB's limit on a parallel Scan's TotalSegments


def check_segment(segment: int, total_segments: int) -> None:
    """A parallel Scan's segment, checked before any request (DynamoDB's own limits)."""
    if not 1 <= total_segments <= MAX_TOTAL_SEGMENTS:
        raise ValueError(
            f"total_segments must be 1 to {MAX_TOTAL_SEGMENTS:,}, got {total_segments}"
        )
    if not 0 <= segment < total_segments:
        raise ValueError(
            f"segment must be 0 to {total_segments - 1} (zero-based, below total_segments), "
            f"got {segment}"
        )
