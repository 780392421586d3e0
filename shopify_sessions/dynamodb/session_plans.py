"""``SessionPlans``: the session storage contract of the DynamoDB storages, as plans (no I/O).

Data path, going down: ``Session`` --codec--> bound ``SessionModel`` --serialize--> item, its
tokens sealed (``cipher``) and a ``ttl`` added on the way in, and back. Each method returns a
plan (see :mod:`.ops`) of the requests to send; ``DynamoDBSessionStorage`` runs it blocking,
``AsyncDynamoDBSessionStorage`` awaits it. Table administration (create, verify, scans, TTL,
re-encryption) is added by :class:`~.table_plans.TablePlans`, which extends this class
and is what the storages hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shopify_sessions.domain.newest import replaces
from shopify_sessions.domain.session import Session
from shopify_sessions.domain.validation import (
    check_expected,
    check_id,
    check_session,
    check_shop,
    unique_ids,
)
from shopify_sessions.errors import CorruptSessionError, SessionConflictError

from .cipher import TOKEN_FIELDS, TokenCipher, open_tokens
from .codec import item_to_session, session_to_item
from .item_limits import check_item
from .ops import Plan
from .stored_version import unchanged_condition
from .table_requests import TableRequests, check_ids
from .ttl import ttl_for

if TYPE_CHECKING:  # the model is bound at the first store: a load needs no PynamoDB
    from pynamodb.expressions.condition import Condition

    from .session_model import SessionModel

__all__ = ["SessionPlans", "condition_fields"]

logger = logging.getLogger("shopify_sessions")
MAX_NEWEST_ROUNDS = 8  # store_newest: reads and conditional writes before giving up


class SessionPlans:
    """The sessions of one table: the storage contract as plans over :class:`TableRequests`."""

    def __init__(
        self,
        bind: Callable[[], type[SessionModel]],
        requests: TableRequests,
        *,
        shop_index_name: str,
        page_size: int | None,
        token_cipher: TokenCipher | None,
        cipher_table_name: str,
        ttl_grace: timedelta | None,
    ) -> None:
        self._bind = bind
        self._model: type[SessionModel] | None = None
        self.requests = requests
        self.table_name = requests.table_name
        self.shop_index_name = shop_index_name
        self.page_size = page_size
        self.token_cipher = token_cipher
        self.cipher_table_name = cipher_table_name
        self.ttl_grace = ttl_grace

    @property
    def model(self) -> type[SessionModel]:
        """The ``SessionModel`` bound to this table, made when first needed (a store, a
        condition, the schema): a storage that only loads never imports PynamoDB. Binding is
        cached, so two threads binding at once get the same class."""
        if self._model is None:
            self._model = self._bind()
        return self._model

    # --- the SessionStorage contract ---------------------------------------------------------

    def store_session(self, session: Session, *, expected: Session | None = None) -> Plan[bool]:
        """One PutItem of the whole item: a full replace, as the Node adapter does.

        With ``expected`` (the session as loaded before a token refresh), the write happens
        only if the stored item still holds ``expected``'s access and refresh tokens (absent
        matches absent); otherwise ``SessionConflictError`` and nothing is written.
        """
        check_session(session)
        check_expected(session, expected)
        item = self.sealed_item(session)
        if expected is None:
            yield from self.requests.write_item((session.id, item))
            return True
        condition = yield from self._expected_condition(expected)
        if not (yield from self._write(item, condition)):
            raise SessionConflictError(session.id)
        return True

    def store_newest(self, session: Session, *, create: bool = False) -> Plan[bool]:
        """Store ``session`` only if no later pair is stored; never recreate a deleted item.

        "Later" compares ``expires`` as instants (``domain.newest.replaces``), in whatever form
        the stored item spells it (Node's string, an ISO string with an offset, an epoch-ms
        number), so it cannot be a condition: the item is read (one strongly consistent
        GetItem), compared here, and written only if it still holds exactly the pair that was
        read, else read again. An absent ``expires`` counts as older than any; a session without
        ``expires`` is stored only over one without it. ``create=True`` also writes when
        nothing is stored (imports). ``False``: a later pair is stored (or, without
        ``create``, none at all); nothing was written.
        """
        check_session(session)
        item = self.sealed_item(session)
        if create and (yield from self.requests.put_item(item, unchanged_condition(None))):
            return True  # nothing was stored (an import into a new table): one request
        for _ in range(MAX_NEWEST_ROUNDS):
            stored = yield from self.requests.get_item(session.id)
            if stored is None and not create:
                return False
            if stored is not None and not replaces(session.expires, _expires_of(stored)):
                return False
            if (yield from self.requests.put_item(item, unchanged_condition(stored))):
                return True
        raise SessionConflictError(session.id)  # another pair was stored every round

    def load_session(self, id: str) -> Plan[Session | None]:
        """One GetItem; an empty id is never stored, so it returns ``None`` with no request."""
        check_id(id, allow_empty=True)
        if not id:
            return None
        item = yield from self.requests.get_item(id)
        return self.open(item_to_session(item)) if item else None

    def delete_session(self, id: str) -> Plan[bool]:
        """One DeleteItem; deleting an id that is not stored still returns ``True``."""
        check_id(id)
        yield from self.requests.write_item((id, None))
        return True

    def delete_sessions(self, ids: Iterable[str]) -> Plan[bool]:
        """Delete every id: BatchWriteItem in chunks of 25 (duplicates collapsed).

        Missing ids are not an error. Raises ``StorageUnavailableError`` naming the ids not
        deleted when DynamoDB stops making progress on them.
        """
        yield from self.requests.write_items([(id, None) for id in unique_ids(ids)])
        return True

    def delete_sessions_by_shop(self, shop: str) -> Plan[int]:
        """Delete every session of ``shop`` (the uninstall webhook); returns how many."""
        ids = yield from self.find_session_ids_by_shop(shop)
        yield from self.requests.write_items([(id, None) for id in ids])
        return len(ids)

    def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> Plan[list[Session]]:
        """Every session of ``shop``: all index pages, then BatchGetItem in chunks of 100.

        A session deleted between the query and the get is simply not returned. Corrupt items
        are skipped with a warning naming their ids, or raise ``CorruptSessionError`` when
        ``strict``.
        """
        ids = yield from self.find_session_ids_by_shop(shop)
        read = yield from self.requests.get_items(ids, self.decode)
        sessions = [entry for entry in read if isinstance(entry, Session)]
        corrupt = [entry for entry in read if isinstance(entry, CorruptSessionError)]
        if corrupt and strict:
            raise corrupt[0]
        if corrupt:
            logger.warning(
                "skipped %d corrupt sessions of shop %r: %s",
                len(corrupt),
                shop,
                "; ".join(str(error) for error in corrupt),
            )
        return sessions

    def find_session_ids_by_shop(self, shop: str) -> Plan[list[str]]:
        """The ids the shop index holds for ``shop``, following every page."""
        check_shop(shop)
        ids: list[str] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.shop_index_name,
            "KeyConditionExpression": "#shop = :shop",
            "ExpressionAttributeNames": {"#shop": "shop"},
            "ExpressionAttributeValues": {":shop": {"S": shop}},
        }
        if self.page_size is not None:
            request["Limit"] = self.page_size
        while True:
            page = yield from self.requests.call("Query", request)
            items = page.get("Items", [])
            check_ids(self.table_name, "Query", "an index entry", items)
            ids.extend(item["id"]["S"] for item in items)
            if not page.get("LastEvaluatedKey"):
                return ids
            request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    # --- the item: tokens at rest, ttl, size ---------------------------------------------------

    def sealed_item(self, session: Session) -> dict[str, Any]:
        """The item to write, ``ttl`` set and tokens sealed, refused (naming the attribute)
        when DynamoDB would refuse it: over 400 KB, a number or nesting beyond its limits."""
        sealed: dict[str, str] = {}
        if self.token_cipher is not None:
            for name, stored in TOKEN_FIELDS:
                value = getattr(session, name)
                if value:
                    sealed[name] = self.token_cipher.encrypt(
                        value, session_id=session.id, field=stored, table=self.cipher_table_name
                    )
        ttl = ttl_for(session, self.ttl_grace)
        item = session_to_item(session, self.model, ttl=ttl, stored_tokens=sealed)
        check_item(item, session.id)
        return item

    def decode(self, item: dict[str, Any]) -> Session | CorruptSessionError:
        """A session from a raw item, tokens opened; a corrupt item as its error."""
        try:
            return self.open(item_to_session(item))
        except CorruptSessionError as error:
            return error

    def open(self, session: Session) -> Session:
        """Decrypt a freshly decoded session's tokens in place; plaintext ones stay as they are."""
        return open_tokens(session, self.token_cipher, table=self.cipher_table_name)

    def _write(self, item: dict[str, Any], condition: Condition) -> Plan[bool]:
        """One conditional PutItem; ``False`` when the condition failed, unless what is
        stored is this very item (a retried request finding its own earlier write)."""
        if (yield from self.requests.put_item(item, condition_fields(condition))):
            return True
        stored = yield from self.requests.get_item(item["id"]["S"])
        return stored == item

    def _expected_condition(self, expected: Session) -> Plan[Condition]:
        """The condition that the stored tokens are still ``expected``'s.

        Plaintext tokens are compared by DynamoDB in the PutItem itself. Encrypted ones carry
        a fresh nonce, so the stored item is read first (one GetItem), its tokens decrypted and
        compared, and the write is conditioned on the exact stored ciphertexts.
        """
        if self.token_cipher is None:
            return _tokens_condition(self.model, expected.access_token, expected.refresh_token)
        item = yield from self.requests.get_item(expected.id)
        stored = self.open(item_to_session(item)) if item else None
        tokens = (expected.access_token, expected.refresh_token)
        if stored is None and tokens == (None, None):
            return _tokens_condition(self.model, None, None)
        if stored is None or item is None or (stored.access_token, stored.refresh_token) != tokens:
            raise SessionConflictError(expected.id)
        raw = [item.get(name, {}).get("S") for _, name in TOKEN_FIELDS]
        return _tokens_condition(self.model, raw[0], raw[1])


def condition_fields(condition: Condition) -> dict[str, Any]:
    """A PynamoDB condition as a request's ``ConditionExpression`` and its placeholders."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    fields: dict[str, Any] = {
        "ConditionExpression": condition.serialize(names, values),
        "ExpressionAttributeNames": {placeholder: name for name, placeholder in names.items()},
    }
    if values:
        fields["ExpressionAttributeValues"] = values
    return fields


def _tokens_condition(
    model: type[SessionModel], access: str | None, refresh: str | None
) -> Condition:
    """Stored tokens equal these (``None``: the attribute is absent)."""
    access_matches = (
        (model.access_token == access) if access else model.access_token.does_not_exist()
    )
    refresh_matches = (
        (model.refresh_token == refresh) if refresh else model.refresh_token.does_not_exist()
    )
    both: Condition = access_matches & refresh_matches
    return both


def _expires_of(item: dict[str, Any]) -> datetime | None:
    """The stored ``expires`` as the reader reads it (``CorruptSessionError`` if unreadable)."""
    return item_to_session(item).expires
