"""``DynamoDBSessionStorage``: the Node adapter's storage, in Python, on the same table.

Data path: ``Session`` --codec--> bound ``SessionModel`` --PynamoDB--> DynamoDB item, and back;
tokens optionally encrypted (``cipher``) and a ``ttl`` added (``ttl``) on the way in. Requests
(retries, errors, batches) are ``TableRequests``' business; this module deals in sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

from botocore.config import Config

from shopify_sessions import redact
from shopify_sessions.domain.session import Session
from shopify_sessions.domain.validation import (
    check_expected,
    check_id,
    check_session,
    check_shop,
    unique_ids,
)
from shopify_sessions.errors import (
    CorruptSessionError,
    InvalidSessionError,
    SchemaMismatchError,
    SessionConflictError,
)
from shopify_sessions.tokens.fresh import LoadsFreshSessions, SingleFlight

from .cipher import TOKEN_FIELDS, TokenCipher, is_encrypted, open_tokens
from .codec import item_to_session, session_to_model
from .item_size import MAX_ITEM_BYTES, item_size
from .lease import DynamoDBLeaseStore
from .model import SessionModel, bind_model, schema_differences
from .retry import RetryPolicy
from .settings import local_credentials, resolve_connection, resolve_names
from .table_requests import DEFAULT_MAX_CONCURRENCY, TableRequests
from .ttl import DEFAULT_TTL_GRACE, ttl_for

__all__ = ["DynamoDBSessionStorage"]

logger = logging.getLogger("shopify_sessions")
redact.install()



class DynamoDBSessionStorage(LoadsFreshSessions):
    """Sessions in a DynamoDB table shared, item for item, with Shopify's Node adapter.

    Names resolve as: arguments, then ``SHOPIFY_SESSIONS_TABLE`` /
    ``SHOPIFY_SESSIONS_SHOP_INDEX``, then ``shopify_sessions`` / ``shop_index``. Region and
    endpoint: arguments, then ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` and
    ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL``; credentials: arguments, then
    botocore's usual chain.

    ``page_size`` caps the keys per index query page (``None``: DynamoDB's 1 MB pages); every
    page is read either way. Reads of whole items are strongly consistent. ``max_concurrency``
    bounds the requests one call sends at once (chunks of a large batch, per-item fallbacks).
    ``retry`` says how failed requests and unprocessed batch parts are retried.
    ``botocore_config``: a ``botocore.config.Config`` whose explicitly set ``connect_timeout``,
    ``read_timeout``, ``max_pool_connections`` and ``retries`` (``total_max_attempts`` or
    ``max_attempts``, when ``retry`` is not given) are applied.
    ``token_cipher`` encrypts access and refresh tokens at rest (the Node adapter cannot read
    such items); without it, plaintext tokens are stored exactly as Node stores them.
    Ciphertexts are bound to ``cipher_table_name`` (default: the table's name), so a value
    copied into another table does not decrypt; after copying items to a renamed table, pass
    the old name until ``re_encrypt`` has run.
    ``ttl_grace``: sessions with a natural end get a ``ttl`` attribute (epoch seconds) that
    long after it, for DynamoDB's TTL to remove them; ``None`` writes no ``ttl``.
    """

    def __init__(
        self,
        session_table_name: str | None = None,
        shop_index_name: str | None = None,
        *,
        region: str | None = None,
        host: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        page_size: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        retry: RetryPolicy | None = None,
        token_cipher: TokenCipher | None = None,
        cipher_table_name: str | None = None,
        ttl_grace: timedelta | None = DEFAULT_TTL_GRACE,
        botocore_config: Config | None = None,
    ) -> None:
        given = dict(getattr(botocore_config, "_user_provided_options", {}) or {})
        self.table_name, self.shop_index_name = resolve_names(session_table_name, shop_index_name)
        if aws_access_key_id is None and aws_secret_access_key is None:
            # a local endpoint checks no signature; botocore still wants credentials
            placeholder = local_credentials(resolve_connection(host=host).host)
            aws_access_key_id = placeholder.get("aws_access_key_id")
            aws_secret_access_key = placeholder.get("aws_secret_access_key")
        self.connection = resolve_connection(
            region=region,
            host=host,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            connect_timeout=given.get("connect_timeout"),
            read_timeout=given.get("read_timeout"),
            max_pool_connections=given.get("max_pool_connections"),
        )
        if retry is None and given.get("retries"):
            retry = _retry_from_botocore(given["retries"])
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be a positive number of keys, or None")
        self.page_size = page_size
        self.token_cipher = token_cipher
        self.cipher_table_name = cipher_table_name or self.table_name
        self.ttl_grace = ttl_grace
        self.model: type[SessionModel] = bind_model(
            self.table_name, self.shop_index_name, self.connection
        )
        self.requests = TableRequests(self.model, retry or RetryPolicy(), max_concurrency)
        self._lease_store = DynamoDBLeaseStore(self)
        self._flights = SingleFlight()

    @property
    def retry(self) -> RetryPolicy:
        return self.requests.retry

    def __repr__(self) -> str:
        return (
            f"DynamoDBSessionStorage(table={self.table_name!r}, index={self.shop_index_name!r}, "
            f"region={self.connection.region!r}, host={self.connection.host!r})"
        )

    def close(self) -> None:
        """Stop the worker threads (idempotent); the storage stays usable and restarts them."""
        self.requests.close()

    # --- the SessionStorage contract ---------------------------------------------------------

    def store_session(self, session: Session, *, expected: Session | None = None) -> bool:
        """One PutItem of the whole item: a full replace, as the Node adapter does.

        With ``expected`` (the session as loaded before a token refresh), the write happens
        only if the stored item still holds ``expected``'s access and refresh tokens (absent
        matches absent); otherwise ``SessionConflictError`` and nothing is written.
        """
        check_session(session)
        check_expected(session, expected)
        instance, item = self._sealed_item(session)
        condition = self._expected_condition(expected) if expected is not None else None
        if not self._write(instance, item, condition):
            raise SessionConflictError(session.id)
        return True

    def load_session(self, id: str) -> Session | None:
        """One GetItem; an empty id is never stored, so it returns ``None`` with no request."""
        check_id(id, allow_empty=True)
        if not id:
            return None
        item = self.requests.get_item(id)
        return self._open(item_to_session(item, self.model)) if item else None

    def delete_session(self, id: str) -> bool:
        """One DeleteItem; deleting an id that is not stored still returns ``True``."""
        check_id(id)
        self.requests.delete_item(id)
        return True

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete every id: BatchWriteItem in chunks of 25 (duplicates collapsed).

        Missing ids are not an error. Raises ``StorageUnavailableError`` naming the ids not
        deleted when DynamoDB stops making progress on them.
        """
        self.requests.delete_items(unique_ids(ids))
        return True

    def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop`` (the uninstall webhook); returns how many."""
        ids = self.find_session_ids_by_shop(shop)
        self.requests.delete_items(ids)
        return len(ids)

    def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]:
        """Every session of ``shop``: all index pages, then BatchGetItem in chunks of 100.

        A session deleted between the query and the get is simply not returned. Corrupt items
        are skipped with a warning naming their ids, or raise ``CorruptSessionError`` when
        ``strict``.
        """
        ids = self.find_session_ids_by_shop(shop)
        read = self.requests.get_items(ids, self._decode)
        sessions = [entry for entry in read if isinstance(entry, Session)]
        corrupt = [entry for entry in read if isinstance(entry, CorruptSessionError)]
        if corrupt and strict:
            raise corrupt[0]
        if corrupt:
            logger.warning(
                "skipped %d corrupt sessions of shop %r: %s",
                len(corrupt), shop, "; ".join(str(error) for error in corrupt),
            )  # fmt: skip
        return sessions

    def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids the shop index holds for ``shop``, following every page."""
        check_shop(shop)
        ids: list[str] = []
        last_key: dict[str, Any] | None = None
        while True:
            page = self.requests.call(
                "Query",
                partial(
                    self.requests.connection().query,
                    shop,
                    index_name=self.shop_index_name,
                    limit=self.page_size,
                    exclusive_start_key=last_key,
                ),
            )
            ids.extend(item["id"]["S"] for item in page.get("Items", []))
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return ids

    # --- the table ----------------------------------------------------------------------------

    def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        *,
        ttl: bool = False,
    ) -> None:
        """Create the table and shop index if missing (on-demand unless capacity is given).

        ``ttl=True`` also turns on DynamoDB's TTL on the ``ttl`` attribute.
        """
        self.requests.call(
            "CreateTable",
            partial(
                self.model.create_table,
                wait=wait,
                read_capacity_units=read_capacity_units,
                write_capacity_units=write_capacity_units,
            ),
        )
        if ttl:
            if not wait:
                self.requests.call("DescribeTable", self.model.wait_until_active)
            self.requests.call("UpdateTimeToLive", self.model.enable_time_to_live)

    def verify_table(self) -> None:
        """Check the table against the Node adapter's schema (one DescribeTable).

        Raises ``TableNotFoundError``, ``AccessDeniedError``, or ``SchemaMismatchError`` naming
        every difference (hash key, missing index, index key, projection).
        """
        table = self.requests.call("DescribeTable", self.requests.connection().describe_table)
        differences = schema_differences(table, self.shop_index_name)
        if differences:
            raise SchemaMismatchError(self.table_name, differences)

    # --- whole-table work (admin) -----------------------------------------------------------------

    def iter_items(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every raw item of the table (Scan, page by page): for admin work and backups."""
        last_key: dict[str, Any] | None = None
        while True:
            page = self.requests.call(
                "Scan",
                partial(
                    self.requests.connection().scan, limit=page_size, exclusive_start_key=last_key
                ),
            )
            yield from page.get("Items", [])
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return

    def iter_sessions(self, *, strict: bool = False) -> Iterator[Session]:
        """Every session of the table (Scan); corrupt items skipped with a warning unless strict."""
        for item in self.iter_items():
            entry = self._decode(item)
            if isinstance(entry, Session):
                yield entry
            elif strict:
                raise entry
            else:
                logger.warning("skipped a corrupt session: %s", entry)

    def enable_ttl(self, progress: Callable[[int], None] | None = None) -> int:
        """Turn on DynamoDB's TTL and give every existing item the ``ttl`` it should carry.

        One Scan pass; an item whose ``ttl`` is missing or stale gets one conditional
        UpdateItem (never recreating an item deleted meanwhile). ``progress(n)`` is called
        after each item scanned. Returns how many items were updated.
        """
        if self.ttl_grace is None:
            raise ValueError("this storage writes no ttl (ttl_grace=None): nothing to enable")
        self.requests.call("UpdateTimeToLive", self.model.enable_time_to_live)
        updated = 0
        for item in self.iter_items():
            try:
                session = item_to_session(item, self.model)  # dates only: no need to decrypt
            except CorruptSessionError as error:
                logger.warning("enable-ttl skipped a corrupt session: %s", error)
            else:
                wanted = ttl_for(session, self.ttl_grace)
                if wanted is not None and item.get("ttl", {}).get("N") != str(wanted):
                    updated += self._set_ttl(session.id, wanted)
            if progress is not None:
                progress(1)
        return updated

    def re_encrypt(self, progress: Callable[[int], None] | None = None) -> int:
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
        for item in self.iter_items():
            stored = {name: item.get(name, {}).get("S") for _, name in TOKEN_FIELDS}
            if any(value and cipher.needs_reencryption(value) for value in stored.values()):
                try:
                    rewritten += self._reseal(item_to_session(item, self.model).id, stored)
                except CorruptSessionError as error:
                    logger.warning("re-encrypt skipped an unreadable session: %s", error)
            if progress is not None:
                progress(1)
        return rewritten

    def _reseal(self, id: str, stored: dict[str, str | None]) -> int:
        """One conditional UpdateItem of the token attributes, under the active key."""
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
        request = {
            "TableName": self.table_name,
            "Key": {"id": {"S": id}},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        try:
            self.requests.dispatch("UpdateItem", request)
        except SessionConflictError:  # refreshed or deleted since the scan: leave it
            return 0
        return 1

    def _set_ttl(self, id: str, ttl: int) -> int:
        request = {
            "TableName": self.table_name,
            "Key": {"id": {"S": id}},
            "UpdateExpression": "SET #ttl = :ttl",
            "ConditionExpression": "attribute_exists(id)",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": {":ttl": {"N": str(ttl)}},
        }
        try:
            self.requests.dispatch("UpdateItem", request)
        except SessionConflictError:  # deleted since the scan: leave it deleted
            return 0
        return 1

    # --- tokens at rest and the item's extras --------------------------------------------------

    def _sealed_item(self, session: Session) -> tuple[SessionModel, dict[str, Any]]:
        """The model to write and its item, refused before any request when over 400 KB."""
        instance = self._sealed_model(session)
        item = instance.serialize()
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise InvalidSessionError(
                f"session {session.id!r} is {size} bytes as a DynamoDB item, over the "
                f"{MAX_ITEM_BYTES}-byte limit (400 KB); nothing was written"
            )
        return instance, item

    def _write(self, instance: SessionModel, item: dict[str, Any], condition: Any) -> bool:
        """One PutItem; ``False`` when its condition failed (a retry's own write is no failure)."""
        if condition is None:
            self.requests.call("PutItem", instance.save)
            return True
        try:
            self.requests.call("PutItem", partial(instance.save, condition=condition))
        except SessionConflictError:
            # A retried request may find its own earlier, successful write: not a conflict.
            return self.requests.get_item(instance.id) == item
        return True

    def store_newest(self, session: Session, *, create: bool = False) -> bool:
        """Store ``session`` only if no later pair is stored; never recreate a deleted item.

        "Later" compares ``expires``: the Node-format strings sort in time order inside the
        condition, and an absent ``expires`` counts as older than any. A session without
        ``expires`` is stored only over one without it. ``create=True`` also writes when
        nothing is stored (imports). ``False``: a later pair is stored (or, without
        ``create``, none at all); nothing was written.
        """
        check_session(session)
        instance, item = self._sealed_item(session)
        model = self.model
        older = model.expires.does_not_exist()
        if session.expires is not None:
            older = older | (model.expires <= session.expires)
        condition = (model.id.does_not_exist() | older) if create else (model.id.exists() & older)
        return self._write(instance, item, condition)

    def _sealed_model(self, session: Session) -> SessionModel:
        """The model to write: ``ttl`` set, tokens encrypted when a cipher is configured."""
        instance = session_to_model(session, self.model)
        instance.ttl = ttl_for(session, self.ttl_grace)
        if self.token_cipher is not None:
            for name, stored in TOKEN_FIELDS:
                value = getattr(session, name)
                if value:
                    sealed = self.token_cipher.encrypt(
                        value, session_id=session.id, field=stored, table=self.cipher_table_name
                    )
                    setattr(instance, name, sealed)
        return instance

    def _decode(self, item: dict[str, Any]) -> Session | CorruptSessionError:
        """A session from a raw item, tokens decrypted; a corrupt item as its error."""
        try:
            return self._open(item_to_session(item, self.model))
        except CorruptSessionError as error:
            return error

    def _open(self, session: Session) -> Session:
        """Decrypt a freshly decoded session's tokens in place; plaintext ones stay as they are."""
        return open_tokens(session, self.token_cipher, table=self.cipher_table_name)

    def _expected_condition(self, expected: Session) -> Any:
        """The condition that the stored tokens are still ``expected``'s.

        Plaintext tokens are compared by DynamoDB in the PutItem itself. Encrypted ones carry
        a fresh nonce, so the stored item is read first (one GetItem), its tokens decrypted and
        compared, and the write is conditioned on the exact stored ciphertexts.
        """
        if self.token_cipher is None:
            return _tokens_condition(self.model, expected.access_token, expected.refresh_token)
        item = self.requests.get_item(expected.id)
        stored = self._open(item_to_session(item, self.model)) if item else None
        tokens = (expected.access_token, expected.refresh_token)
        if stored is None and tokens == (None, None):
            return _tokens_condition(self.model, None, None)
        if stored is None or item is None or (stored.access_token, stored.refresh_token) != tokens:
            raise SessionConflictError(expected.id)
        raw = [item.get(name, {}).get("S") for _, name in TOKEN_FIELDS]
        return _tokens_condition(self.model, raw[0], raw[1])


def _retry_from_botocore(retries: dict[str, Any]) -> RetryPolicy:
    """botocore's ``retries`` setting as our policy (we own retries; botocore's are off)."""
    if "total_max_attempts" in retries:
        return RetryPolicy(attempts=int(retries["total_max_attempts"]))
    if "max_attempts" in retries:  # botocore counts retries here, not attempts
        return RetryPolicy(attempts=int(retries["max_attempts"]) + 1)
    return RetryPolicy()


def _tokens_condition(model: type[SessionModel], access: str | None, refresh: str | None) -> Any:
    """Stored tokens equal these (``None``: the attribute is absent)."""
    return ((model.access_token == access) if access else model.access_token.does_not_exist()) & (
        (model.refresh_token == refresh) if refresh else model.refresh_token.does_not_exist()
    )
