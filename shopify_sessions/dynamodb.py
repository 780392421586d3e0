"""``DynamoDBSessionStorage``: the Node adapter's storage, in Python, on the same table.

Data path: ``Session`` --codec--> bound ``SessionModel`` --PynamoDB--> DynamoDB item, and back.
Every request goes through :meth:`DynamoDBSessionStorage._call`, which retries what is worth
retrying and turns every failure into a ``SessionStorageError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from pynamodb.exceptions import PynamoDBException, TableDoesNotExist

from . import redact
from .batch import chunked, send_until_done
from .cipher import TokenCipher, UnknownKeyError, is_encrypted, key_id_of
from .codec import item_to_session, session_to_model
from .errors import (
    AccessDeniedError,
    CorruptSessionError,
    InvalidSessionError,
    SchemaMismatchError,
    SessionConflictError,
    SessionStorageError,
    StorageUnavailableError,
    TableNotFoundError,
)
from .item_size import MAX_ITEM_BYTES, item_size
from .model import SessionModel, bind_model
from .retry import RetryPolicy, is_retryable
from .session import Session
from .settings import resolve_connection, resolve_names
from .ttl import DEFAULT_TTL_GRACE, ttl_for

__all__ = ["DynamoDBSessionStorage"]

logger = logging.getLogger("shopify_sessions")
redact.install()

T = TypeVar("T")
R = TypeVar("R")

BATCH_GET_SIZE = 100  # DynamoDB's limit of keys in one BatchGetItem
BATCH_WRITE_SIZE = 25  # DynamoDB's limit of requests in one BatchWriteItem
DEFAULT_MAX_CONCURRENCY = 10  # botocore's default pool holds 10 HTTP connections
_SINGLE_FALLBACK = {"BatchGetItem": "GetItem", "BatchWriteItem": "DeleteItem"}


class DynamoDBSessionStorage:
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
    ``token_cipher`` encrypts access and refresh tokens at rest (the Node adapter cannot read
    such items); without it, plaintext tokens are stored exactly as Node stores them.
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
        ttl_grace: timedelta | None = DEFAULT_TTL_GRACE,
    ) -> None:
        self.table_name, self.shop_index_name = resolve_names(session_table_name, shop_index_name)
        self.connection = resolve_connection(
            region=region,
            host=host,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
        )
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be a positive number of keys, or None")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.page_size = page_size
        self.max_concurrency = max_concurrency
        self.retry = retry or RetryPolicy()
        self.token_cipher = token_cipher
        self.ttl_grace = ttl_grace
        self.model: type[SessionModel] = bind_model(
            self.table_name, self.shop_index_name, self.connection
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._denied_batch_actions: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"DynamoDBSessionStorage(table={self.table_name!r}, index={self.shop_index_name!r}, "
            f"region={self.connection.region!r}, host={self.connection.host!r})"
        )

    # --- table -------------------------------------------------------------------------------

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
        self._call(
            "CreateTable",
            lambda: self.model.create_table(
                wait=wait,
                read_capacity_units=read_capacity_units,
                write_capacity_units=write_capacity_units,
            ),
        )
        if ttl:
            if not wait:
                self._call("DescribeTable", self.model.wait_until_active)
            self._call("UpdateTimeToLive", self.model.enable_time_to_live)

    def enable_ttl(self, progress: Callable[[int], None] | None = None) -> int:
        """Turn on DynamoDB's TTL and give every existing item the ``ttl`` it should carry.

        One Scan pass; an item whose ``ttl`` is missing or stale gets one conditional
        UpdateItem (never recreating an item deleted meanwhile). ``progress(n)`` is called
        after each item scanned. Returns how many items were updated.
        """
        if self.ttl_grace is None:
            raise ValueError("this storage writes no ttl (ttl_grace=None): nothing to enable")
        self._call("UpdateTimeToLive", self.model.enable_time_to_live)
        updated = 0
        for item in self.iter_items():
            session = self._decode_plain(item)
            if isinstance(session, Session):
                wanted = ttl_for(session, self.ttl_grace)
                stored = item.get("ttl", {}).get("N")
                if wanted is not None and stored != str(wanted):
                    updated += self._set_ttl(session.id, wanted)
            if progress is not None:
                progress(1)
        return updated

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
            self._dispatch("UpdateItem", request)
        except SessionConflictError:  # deleted since the scan: leave it deleted
            return 0
        return 1

    def iter_items(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every raw item of the table (Scan, page by page): for admin work and backups."""
        last_key: dict[str, Any] | None = None
        while True:
            page = self._call(
                "Scan",
                partial(self._connection().scan, limit=page_size, exclusive_start_key=last_key),
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

    def re_encrypt(self, progress: Callable[[int], None] | None = None) -> int:
        """Rewrite every item whose tokens are plaintext or under another key than the active one.

        Each rewrite is a conditional store (the tokens must still be the ones read), so a
        token refreshed meanwhile is never overwritten; such an item was just written under
        the active key anyway. Returns how many items were rewritten.
        """
        cipher = self.token_cipher
        if cipher is None:
            raise ValueError("re_encrypt needs a storage with a token_cipher")
        rewritten = 0
        for item in self.iter_items():
            values = [item.get(name, {}).get("S") for name in ("accessToken", "refreshToken")]
            if any(value and cipher.needs_reencryption(value) for value in values):
                entry = self._decode(item)
                if isinstance(entry, Session):
                    try:
                        self.store_session(entry, expected=entry)
                        rewritten += 1
                    except SessionConflictError:
                        pass
                else:
                    logger.warning("re-encrypt skipped a corrupt session: %s", entry)
            if progress is not None:
                progress(1)
        return rewritten

    def verify_table(self) -> None:
        """Check the table against the Node adapter's schema (one DescribeTable).

        Raises ``TableNotFoundError``, ``AccessDeniedError``, or ``SchemaMismatchError`` naming
        every difference (hash key, missing index, index key, projection).
        """
        table = self._call("DescribeTable", lambda: self._connection().describe_table())
        differences = _schema_differences(table, self.shop_index_name)
        if differences:
            raise SchemaMismatchError(self.table_name, differences)

    # --- the SessionStorage contract ---------------------------------------------------------

    def store_session(self, session: Session, *, expected: Session | None = None) -> bool:
        """One PutItem of the whole item: a full replace, as the Node adapter does.

        With ``expected`` (the session as loaded before a token refresh), the write happens
        only if the stored item still holds ``expected``'s access and refresh tokens (absent
        matches absent); otherwise ``SessionConflictError`` and nothing is written.
        """
        _check_session(session)
        if expected is not None:
            _check_session(expected)
            if expected.id != session.id:
                raise InvalidSessionError(
                    f"expected is session {expected.id!r}, not {session.id!r}"
                )
        instance = self._sealed_model(session)
        item = instance.serialize()
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise InvalidSessionError(
                f"session {session.id!r} is {size} bytes as a DynamoDB item, over the "
                f"{MAX_ITEM_BYTES}-byte limit (400 KB); nothing was written"
            )
        if expected is None:
            self._call("PutItem", instance.save)
            return True
        condition = self._expected_condition(expected)
        try:
            self._call("PutItem", lambda: instance.save(condition=condition))
        except SessionConflictError:
            # A retried request may find its own earlier, successful write: not a conflict.
            if self._load_item(session.id) != item:
                raise SessionConflictError(session.id) from None
        return True

    def load_session(self, id: str) -> Session | None:
        """One GetItem; an empty id is never stored, so it returns ``None`` with no request."""
        _check_id(id, allow_empty=True)
        if not id:
            return None
        item = self._load_item(id)
        return self._open(item_to_session(item, self.model)) if item else None

    def delete_session(self, id: str) -> bool:
        """One DeleteItem; deleting an id that is not stored still returns ``True``."""
        _check_id(id)
        self._call("DeleteItem", lambda: self._connection().delete_item(id))
        return True

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete every id: BatchWriteItem in chunks of 25 (duplicates collapsed).

        Missing ids are not an error. Raises ``SessionStorageError`` naming the ids not deleted
        when DynamoDB stops making progress on them.
        """
        unique = _unique_ids(ids)
        if not unique:
            return True
        if not self._batch_allowed("BatchWriteItem"):
            self._each(self.delete_session, unique)
            return True
        try:
            left = self._each(self._delete_chunk, list(chunked(unique, BATCH_WRITE_SIZE)))
        except AccessDeniedError as error:
            self._note_denied(error)
            self._each(self.delete_session, unique)
            return True
        not_deleted = [id for chunk_left in left for id in chunk_left]
        if not_deleted:
            raise StorageUnavailableError(
                "BatchWriteItem",
                self.table_name,
                self.retry.stalled_rounds,
                f"{len(not_deleted)} sessions left undeleted: {_id_list(not_deleted)}",
            )
        return True

    def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop`` (the uninstall webhook); returns how many."""
        ids = self.find_session_ids_by_shop(shop)
        self.delete_sessions(ids)
        return len(ids)

    def find_sessions_by_shop(self, shop: str, *, strict: bool = False) -> list[Session]:
        """Every session of ``shop``: all index pages, then BatchGetItem in chunks of 100.

        A session deleted between the query and the get is simply not returned. Corrupt items
        are skipped with a warning naming their ids, or raise ``CorruptSessionError`` when
        ``strict``.
        """
        ids = self.find_session_ids_by_shop(shop)
        read = self._read_sessions(ids) if ids else []
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

    def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids the shop index holds for ``shop``, following every page."""
        _check_shop(shop)
        ids: list[str] = []
        last_key: dict[str, Any] | None = None
        while True:
            page = self._call("Query", partial(self._query_page, shop, last_key))
            ids.extend(item["id"]["S"] for item in page.get("Items", []))
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return ids

    def close(self) -> None:
        """Stop the worker threads (idempotent); the storage stays usable and restarts them."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # --- single requests ----------------------------------------------------------------------

    def _load_item(self, id: str) -> dict[str, Any] | None:
        response = self._call(
            "GetItem", lambda: self._connection().get_item(id, consistent_read=True)
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query_page(self, shop: str, last_key: dict[str, Any] | None) -> dict[str, Any]:
        page: dict[str, Any] = self._connection().query(
            shop,
            index_name=self.shop_index_name,
            limit=self.page_size,
            exclusive_start_key=last_key,
        )
        return page

    # --- batches --------------------------------------------------------------------------------

    def _read_sessions(self, ids: list[str]) -> list[Session | CorruptSessionError]:
        """The sessions of ``ids`` that exist: BatchGetItem by 100, or GetItem each if refused.

        Items are decoded in the worker threads as their responses arrive, so decoding one
        chunk overlaps the wait for the others and raw items do not pile up.
        """
        if self._batch_allowed("BatchGetItem"):
            try:
                chunks = self._each(self._get_chunk, list(chunked(ids, BATCH_GET_SIZE)))
            except AccessDeniedError as error:
                self._note_denied(error)
            else:
                not_loaded = [id for _, left in chunks for id in left]
                if not_loaded:
                    raise StorageUnavailableError(
                        "BatchGetItem",
                        self.table_name,
                        self.retry.stalled_rounds,
                        f"{len(not_loaded)} sessions left unread: {_id_list(not_loaded)}",
                    )
                return [entry for found, _ in chunks for entry in found]
        loaded = self._each(self._load_item, ids)
        return [self._decode(item) for item in loaded if item]

    def _decode(self, item: dict[str, Any]) -> Session | CorruptSessionError:
        try:
            return self._open(item_to_session(item, self.model))
        except CorruptSessionError as error:
            return error

    def _decode_plain(self, item: dict[str, Any]) -> Session | CorruptSessionError:
        """Decode without decrypting tokens (enough for dates, and needs no key)."""
        try:
            return item_to_session(item, self.model)
        except CorruptSessionError as error:
            return error

    # --- tokens at rest -----------------------------------------------------------------------

    def _sealed_model(self, session: Session) -> SessionModel:
        """The model to write: tokens encrypted when a cipher is configured."""
        instance = session_to_model(session, self.model)
        instance.ttl = ttl_for(session, self.ttl_grace)
        cipher = self.token_cipher
        if cipher is not None:
            if session.access_token:
                instance.access_token = cipher.encrypt(
                    session.access_token, session_id=session.id, field="accessToken"
                )
            if session.refresh_token:
                instance.refresh_token = cipher.encrypt(
                    session.refresh_token, session_id=session.id, field="refreshToken"
                )
        return instance

    def _open(self, session: Session) -> Session:
        """Decrypt a freshly decoded session's tokens in place; plaintext ones stay as they are."""
        for name, stored in (("access_token", "accessToken"), ("refresh_token", "refreshToken")):
            value = getattr(session, name)
            if value is None or not is_encrypted(value):
                continue
            if self.token_cipher is None:
                raise UnknownKeyError(session.id, stored, key_id_of(value) or "?", held=[])
            setattr(
                session, name, self.token_cipher.decrypt(value, session_id=session.id, field=stored)
            )
        return session

    def _expected_condition(self, expected: Session) -> Any:
        """The condition that the stored tokens are still ``expected``'s.

        Plaintext tokens are compared by DynamoDB in the PutItem itself. Encrypted ones carry
        a fresh nonce, so the stored item is read first (one GetItem), its tokens decrypted and
        compared, and the write is conditioned on the exact stored ciphertexts.
        """
        if self.token_cipher is None:
            return _tokens_condition(self.model, expected.access_token, expected.refresh_token)
        item = self._load_item(expected.id)
        stored = self._open(item_to_session(item, self.model)) if item else None
        if stored is None or (stored.access_token, stored.refresh_token) != (
            expected.access_token,
            expected.refresh_token,
        ):
            if stored is None and not expected.access_token and not expected.refresh_token:
                return _tokens_condition(self.model, None, None)
            raise SessionConflictError(expected.id)
        raw_access = item.get("accessToken", {}).get("S") if item else None
        raw_refresh = item.get("refreshToken", {}).get("S") if item else None
        return _tokens_condition(self.model, raw_access, raw_refresh)

    def _get_chunk(self, ids: list[str]) -> tuple[list[Session | CorruptSessionError], list[str]]:
        """BatchGetItem of up to 100 ids until done or stalled: (sessions found, ids left)."""
        found: list[Session | CorruptSessionError] = []

        def send(pending: list[str]) -> list[str]:
            keys = [{"id": {"S": id}} for id in pending]
            request = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            response = self._dispatch("BatchGetItem", {"RequestItems": request})
            found.extend(map(self._decode, response.get("Responses", {}).get(self.table_name, [])))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name, {})
            return [key["id"]["S"] for key in unprocessed.get("Keys", [])]

        left = send_until_done(send, ids, self.retry)
        return found, left

    def _delete_chunk(self, ids: list[str]) -> list[str]:
        """BatchWriteItem deleting up to 25 ids until done or stalled: the ids left."""

        def send(pending: list[str]) -> list[str]:
            deletes = [{"DeleteRequest": {"Key": {"id": {"S": id}}}} for id in pending]
            request = {self.table_name: deletes}
            response = self._dispatch("BatchWriteItem", {"RequestItems": request})
            unprocessed = response.get("UnprocessedItems", {}).get(self.table_name, [])
            return [request["DeleteRequest"]["Key"]["id"]["S"] for request in unprocessed]

        return send_until_done(send, ids, self.retry)

    def _dispatch(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        """One raw request through PynamoDB's connection (logging, consumed capacity)."""
        response: dict[str, Any] = self._call(
            action, lambda: self._connection().connection.dispatch(action, request)
        )
        return response

    def _batch_allowed(self, action: str) -> bool:
        return action not in self._denied_batch_actions

    def _note_denied(self, error: AccessDeniedError) -> None:
        """Remember a refused batch action; warn once per storage and action."""
        with self._lock:
            first = error.action not in self._denied_batch_actions
            self._denied_batch_actions.add(error.action)
        if first:
            logger.warning(
                "IAM policy refuses dynamodb:%s on table %r: falling back to one %s per session "
                "(slower). Add dynamodb:%s to the policy (see README, IAM policy).",
                error.action,
                self.table_name,
                _SINGLE_FALLBACK[error.action],
                error.action,
            )

    def _each(self, function: Callable[[T], R], items: list[T]) -> list[R]:
        """``function`` over ``items``, concurrently on the bounded pool when there are several.

        botocore clients are thread-safe (boto3 documents low-level clients as such). PynamoDB
        creates its botocore client lazily without a lock, so ``_connection()`` builds it once
        before any fan-out; after that the threads share one client and its pool of
        ``max_pool_connections`` (10) HTTP connections, which ``max_concurrency`` should not exceed.
        """
        if len(items) <= 1 or self.max_concurrency == 1:
            return [function(item) for item in items]
        self._connection()
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.max_concurrency, thread_name_prefix="shopify_sessions"
                )
            pool = self._pool
        return list(pool.map(function, items))

    def _connection(self) -> Any:
        """The model's PynamoDB TableConnection, with its botocore client created."""
        connection = self.model._get_connection()
        connection.connection.client  # noqa: B018 - create the client before threads share it
        return connection

    # --- retries and errors -------------------------------------------------------------------

    def _call(self, action: str, send: Callable[[], R]) -> R:
        """``send()`` with retries on throttling, 5xx and connection errors; errors translated."""
        retry_number = 0
        while True:
            try:
                return send()
            except Exception as error:
                cause = _cause(error)
                if cause is None:
                    raise
                if is_retryable(cause) and retry_number + 1 < self.retry.attempts:
                    self.retry.backoff(retry_number)
                    retry_number += 1
                    continue
                raise self._translate(action, error, cause, retry_number + 1) from None

    def _translate(
        self, action: str, error: BaseException, cause: BaseException, attempts: int
    ) -> SessionStorageError:
        code = ""
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
        if isinstance(error, TableDoesNotExist) or code == "ResourceNotFoundException":
            return TableNotFoundError(self.table_name)
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return AccessDeniedError(action, self.table_name, f" ({_detail(cause)})")
        if code == "ConditionalCheckFailedException":
            return SessionConflictError("?")  # store_session re-raises it with the id
        if is_retryable(cause):
            return StorageUnavailableError(action, self.table_name, attempts, _detail(cause))
        return SessionStorageError(
            f"DynamoDB {action} on table {self.table_name!r} failed: {_detail(cause)}"
        )


def _cause(error: BaseException) -> BaseException | None:
    """The botocore error behind a PynamoDB one; None for errors that are not DynamoDB's."""
    if isinstance(error, PynamoDBException):
        cause = getattr(error, "cause", None)
        return cause if isinstance(cause, BaseException) else error
    module = type(error).__module__
    if module.startswith(("botocore", "pynamodb")):
        return error
    return None


def _detail(cause: BaseException) -> str:
    """``Code: message`` without echoing request data."""
    if isinstance(cause, NoRegionError):
        return "no AWS region configured: pass region= or set AWS_REGION"
    if isinstance(cause, NoCredentialsError):
        return "no AWS credentials found: configure them as for any AWS SDK"
    if isinstance(cause, ClientError):
        err = cause.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    if isinstance(cause, PynamoDBException):
        return str(cause.msg)
    return f"{type(cause).__name__}: {cause}"


def _tokens_condition(model: type[SessionModel], access: str | None, refresh: str | None) -> Any:
    """Stored tokens equal these (``None``: the attribute is absent)."""
    return ((model.access_token == access) if access else model.access_token.does_not_exist()) & (
        (model.refresh_token == refresh) if refresh else model.refresh_token.does_not_exist()
    )


def _schema_differences(table: dict[str, Any], index_name: str) -> list[str]:
    differences = []
    key_schema = table.get("KeySchema", [])
    if key_schema != [{"AttributeName": "id", "KeyType": "HASH"}]:
        shown = ", ".join(f"{k['AttributeName']} {k['KeyType']}" for k in key_schema)
        differences.append(f"key schema is [{shown}], expected hash key 'id' alone")
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    for name in ("id", "shop"):
        if name in types and types[name] != "S":
            differences.append(f"attribute {name!r} has type {types[name]}, expected S")
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    index = indexes.get(index_name)
    if index is None:
        found = ", ".join(repr(name) for name in indexes) or "none"
        differences.append(f"global secondary index {index_name!r} is missing (found: {found})")
        return differences
    if index.get("KeySchema") != [{"AttributeName": "shop", "KeyType": "HASH"}]:
        shown = ", ".join(
            f"{k['AttributeName']} {k['KeyType']}" for k in index.get("KeySchema", [])
        )
        differences.append(f"index {index_name!r} key is [{shown}], expected hash key 'shop' alone")
    projection = index.get("Projection", {}).get("ProjectionType")
    if projection != "KEYS_ONLY":
        differences.append(f"index {index_name!r} projects {projection}, expected KEYS_ONLY")
    return differences


def _id_list(ids: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(id) for id in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _check_id(id: Any, *, allow_empty: bool = False) -> None:
    if not isinstance(id, str):
        raise TypeError(f"session id must be a str, got {type(id).__name__}")
    if not id and not allow_empty:
        raise InvalidSessionError("session id must not be empty")


def _check_shop(shop: Any) -> None:
    if not isinstance(shop, str):
        raise TypeError(f"shop must be a str, got {type(shop).__name__}")
    if not shop:
        raise InvalidSessionError("shop must not be empty")


def _check_session(session: Any) -> None:
    if not isinstance(session, Session):
        raise TypeError(f"expected a Session, got {type(session).__name__}")
    if not session.id:
        raise InvalidSessionError("session id must not be empty")
    if not session.shop:
        raise InvalidSessionError(f"session {session.id!r}: shop must not be empty")


def _unique_ids(ids: Iterable[str]) -> list[str]:
    if isinstance(ids, str):
        raise TypeError("delete_sessions expects an iterable of ids, not a single str")
    unique = list(dict.fromkeys(ids))
    for id in unique:
        _check_id(id)
    return unique
