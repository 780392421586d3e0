"""``DynamoDBSessionStorage``: the Node adapter's storage, in Python, on the same table.

Data path: ``Session`` --codec--> bound ``SessionModel`` --PynamoDB--> DynamoDB item, and back.
Every failure leaves here as a ``SessionStorageError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from pynamodb.exceptions import PynamoDBException, TableDoesNotExist

from .batch import RetryPolicy, chunked, send_until_done
from .codec import item_to_session, session_to_model
from .errors import SessionStorageError, TableNotFoundError
from .model import SessionModel, bind_model
from .session import Session
from .settings import resolve_connection, resolve_names

__all__ = ["DynamoDBSessionStorage"]

logger = logging.getLogger("shopify_sessions")

T = TypeVar("T")
R = TypeVar("R")

BATCH_GET_SIZE = 100  # DynamoDB's limit of keys in one BatchGetItem
BATCH_WRITE_SIZE = 25  # DynamoDB's limit of requests in one BatchWriteItem
DEFAULT_MAX_CONCURRENCY = 8  # below botocore's default pool of 10 HTTP connections


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
    ``batch_retry`` says how long unprocessed parts of a batch are retried.
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
        batch_retry: RetryPolicy | None = None,
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
        self.page_size = page_size
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.batch_retry = batch_retry or RetryPolicy()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._denied_batch_actions: set[str] = set()
        self.model: type[SessionModel] = bind_model(
            self.table_name, self.shop_index_name, self.connection
        )

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
    ) -> None:
        """Create the table and shop index if missing (on-demand unless capacity is given)."""
        with self._errors("CreateTable"):
            self.model.create_table(
                wait=wait,
                read_capacity_units=read_capacity_units,
                write_capacity_units=write_capacity_units,
            )

    # --- the SessionStorage contract ---------------------------------------------------------

    def store_session(self, session: Session) -> bool:
        """One PutItem of the whole item: a full replace, as the Node adapter does."""
        _check_session(session)
        instance = session_to_model(session, self.model)
        with self._errors("PutItem"):
            instance.save()
        return True

    def load_session(self, id: str) -> Session | None:
        """One GetItem; an empty id is never stored, so it returns ``None`` with no request."""
        _check_id(id, allow_empty=True)
        if not id:
            return None
        with self._errors("GetItem"):
            response = self.model._get_connection().get_item(id, consistent_read=True)
        item = response.get("Item")
        return item_to_session(item, self.model) if item else None

    def delete_session(self, id: str) -> bool:
        """One DeleteItem; deleting an id that is not stored still returns ``True``."""
        _check_id(id)
        with self._errors("DeleteItem"):
            self.model._get_connection().delete_item(id)
        return True

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete every id: BatchWriteItem in chunks of 25 (duplicates collapsed).

        Missing ids are not an error. Raises ``SessionStorageError`` naming the ids not deleted
        when DynamoDB stops making progress on them.
        """
        unique = _unique_ids(ids)
        if not unique:
            return True
        if "BatchWriteItem" in self._denied_batch_actions:
            self._each(self.delete_session, unique)
            return True
        try:
            left = self._each(self._delete_chunk, list(chunked(unique, BATCH_WRITE_SIZE)))
        except _BatchDenied:
            self._each(self.delete_session, unique)
            return True
        not_deleted = [id for chunk_left in left for id in chunk_left]
        if not_deleted:
            raise SessionStorageError(
                f"DynamoDB BatchWriteItem on table {self.table_name!r} left "
                f"{len(not_deleted)} sessions undeleted after retries: {_id_list(not_deleted)}"
            )
        return True

    def delete_sessions_by_shop(self, shop: str) -> int:
        """Delete every session of ``shop`` (the uninstall webhook); returns how many."""
        ids = self.find_session_ids_by_shop(shop)
        self.delete_sessions(ids)
        return len(ids)

    def find_sessions_by_shop(self, shop: str) -> list[Session]:
        """Every session of ``shop``: all index pages, then BatchGetItem in chunks of 100.

        A session deleted between the query and the get is simply not returned.
        """
        ids = self.find_session_ids_by_shop(shop)
        if not ids:
            return []
        items: list[dict[str, Any]] = []
        if "BatchGetItem" in self._denied_batch_actions:
            items = self._get_each(ids)
        else:
            try:
                chunks = self._each(self._get_chunk, list(chunked(ids, BATCH_GET_SIZE)))
            except _BatchDenied:
                items = self._get_each(ids)
            else:
                not_loaded = [id for found, left in chunks for id in left]
                if not_loaded:
                    raise SessionStorageError(
                        f"DynamoDB BatchGetItem on table {self.table_name!r} left "
                        f"{len(not_loaded)} sessions unread after retries: {_id_list(not_loaded)}"
                    )
                items = [item for found, left in chunks for item in found]
        return [item_to_session(item, self.model) for item in items]

    def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids the shop index holds for ``shop``, following every page."""
        _check_shop(shop)
        with self._errors("Query"):
            return [key.id for key in self.model.shop_index.query(shop, page_size=self.page_size)]

    def close(self) -> None:
        """Stop the worker threads (idempotent); the storage stays usable and restarts them."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # --- batches --------------------------------------------------------------------------------

    def _get_chunk(self, ids: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """BatchGetItem of up to 100 ids until done or stalled: (items found, ids left)."""
        found: list[dict[str, Any]] = []

        def send(pending: list[str]) -> list[str]:
            request = {
                self.table_name: {
                    "Keys": [{"id": {"S": id}} for id in pending],
                    "ConsistentRead": True,
                }
            }
            response = self._dispatch("BatchGetItem", {"RequestItems": request})
            found.extend(response.get("Responses", {}).get(self.table_name, []))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name, {})
            return [key["id"]["S"] for key in unprocessed.get("Keys", [])]

        left = send_until_done(send, ids, self.batch_retry)
        return found, left

    def _delete_chunk(self, ids: list[str]) -> list[str]:
        """BatchWriteItem deleting up to 25 ids until done or stalled: the ids left."""

        def send(pending: list[str]) -> list[str]:
            requests = [{"DeleteRequest": {"Key": {"id": {"S": id}}}} for id in pending]
            response = self._dispatch(
                "BatchWriteItem", {"RequestItems": {self.table_name: requests}}
            )
            unprocessed = response.get("UnprocessedItems", {}).get(self.table_name, [])
            return [request["DeleteRequest"]["Key"]["id"]["S"] for request in unprocessed]

        return send_until_done(send, ids, self.batch_retry)

    def _get_each(self, ids: list[str]) -> list[dict[str, Any]]:
        """One GetItem per id, concurrently: the fallback without batch permissions."""

        def get(id: str) -> dict[str, Any] | None:
            with self._errors("GetItem"):
                item: dict[str, Any] | None = (
                    self._connection().get_item(id, consistent_read=True).get("Item")
                )
            return item

        return [item for item in self._each(get, ids) if item]

    def _dispatch(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request through PynamoDB's connection; AccessDenied on a batch is noted."""
        with self._errors(action):
            try:
                response: dict[str, Any] = self._connection().connection.dispatch(action, request)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "AccessDeniedException":
                    self._note_denied(action)
                    raise _BatchDenied(action) from None
                raise
        return response

    def _note_denied(self, action: str) -> None:
        with self._pool_lock:
            first = action not in self._denied_batch_actions
            self._denied_batch_actions.add(action)
        if first:
            single = {"BatchGetItem": "GetItem", "BatchWriteItem": "DeleteItem"}[action]
            logger.warning(
                "IAM policy refuses dynamodb:%s on table %r: falling back to one %s per session "
                "(slower). Add dynamodb:%s to the policy (see README, IAM policy).",
                action,
                self.table_name,
                single,
                action,
            )

    def _each(self, function: Callable[[T], R], items: list[T]) -> list[R]:
        """``function`` over ``items``, concurrently on the bounded pool when there are several.

        botocore clients are thread-safe (boto3 documents low-level clients as such). PynamoDB
        creates its botocore client lazily without a lock, so ``_connection()`` builds it once
        before any fan-out; after that the threads share one client and its pool of
        ``max_pool_connections`` (10) HTTP connections, which ``max_concurrency`` stays below.
        """
        if len(items) <= 1 or self.max_concurrency == 1:
            return [function(item) for item in items]
        self._connection()
        with self._pool_lock:
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

    # --- errors -------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn PynamoDB and botocore failures into ``SessionStorageError``s."""
        try:
            yield
        except TableDoesNotExist:
            raise TableNotFoundError(self.table_name) from None
        except PynamoDBException as error:
            code = getattr(error, "cause_response_code", None)
            if code == "ResourceNotFoundException":
                raise TableNotFoundError(self.table_name) from None
            raise SessionStorageError(_describe(action, self.table_name, error)) from None
        except (BotoCoreError, ClientError) as error:
            raise SessionStorageError(_describe(action, self.table_name, error)) from None


def _describe(action: str, table: str, error: Exception) -> str:
    """``DynamoDB PutItem on 'table' failed: Code: message`` without echoing request data."""
    cause: Any = getattr(error, "cause", None) or error
    if isinstance(cause, NoRegionError):
        detail = "no AWS region configured: pass region= or set AWS_REGION"
    elif isinstance(cause, ClientError):
        err = cause.response.get("Error", {})
        detail = f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    else:
        detail = f"{type(cause).__name__}: {cause}"
    return f"DynamoDB {action} on table {table!r} failed: {detail}"


def _check_id(id: Any, *, allow_empty: bool = False) -> None:
    if not isinstance(id, str):
        raise TypeError(f"session id must be a str, got {type(id).__name__}")
    if not id and not allow_empty:
        raise ValueError("session id must not be empty")


def _check_shop(shop: Any) -> None:
    if not isinstance(shop, str):
        raise TypeError(f"shop must be a str, got {type(shop).__name__}")
    if not shop:
        raise ValueError("shop must not be empty")


def _check_session(session: Any) -> None:
    if not isinstance(session, Session):
        raise TypeError(f"store_session expects a Session, got {type(session).__name__}")
    if not session.id:
        raise ValueError("session id must not be empty")
    if not session.shop:
        raise ValueError(f"session {session.id!r}: shop must not be empty")


class _BatchDenied(Exception):
    """A batch action was refused by IAM: the caller falls back to per-item requests."""


def _id_list(ids: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(id) for id in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _unique_ids(ids: Iterable[str]) -> list[str]:
    if isinstance(ids, str):
        raise TypeError("delete_sessions expects an iterable of ids, not a single str")
    unique = list(dict.fromkeys(ids))
    for id in unique:
        _check_id(id)
    return unique
