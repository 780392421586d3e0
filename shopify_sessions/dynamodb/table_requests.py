"""``TableRequests``: how requests reach one sessions table, whatever they carry.

Every request goes through :meth:`TableRequests.call`, which retries throttling, 5xx answers
and dropped connections with backoff, and turns every failure into a ``SessionStorageError``
naming the DynamoDB action. Batches are split to DynamoDB's limits, sent concurrently on a
bounded pool, resent while unprocessed parts make progress, and replaced by one request per
key when IAM refuses the batch action. The storage above deals only in sessions.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from pynamodb.exceptions import PynamoDBException, TableDoesNotExist

from shopify_sessions.errors import (
    AccessDeniedError,
    SessionConflictError,
    SessionStorageError,
    StorageUnavailableError,
    TableNotFoundError,
)

from .batch import chunked, send_until_done
from .model import SessionModel
from .retry import RetryPolicy, is_retryable

__all__ = ["BATCH_GET_SIZE", "BATCH_WRITE_SIZE", "DEFAULT_MAX_CONCURRENCY", "TableRequests"]

logger = logging.getLogger("shopify_sessions")

T = TypeVar("T")
R = TypeVar("R")

BATCH_GET_SIZE = 100  # DynamoDB's limit of keys in one BatchGetItem
BATCH_WRITE_SIZE = 25  # DynamoDB's limit of requests in one BatchWriteItem
DEFAULT_MAX_CONCURRENCY = 10  # botocore's default pool holds 10 HTTP connections
_SINGLE_FALLBACK = {"BatchGetItem": "GetItem", "BatchWriteItem": "DeleteItem"}
_instances: weakref.WeakSet[TableRequests] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for requests in list(_instances):
        requests._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


class TableRequests:
    """Requests to the table of ``model``, with retries, error translation and batching."""

    def __init__(self, model: type[SessionModel], retry: RetryPolicy, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.model = model
        self.table_name: str = model.Meta.table_name
        self.retry = retry
        self.max_concurrency = max_concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._denied_batch_actions: set[str] = set()
        self._pid = os.getpid()
        _instances.add(self)

    # --- single requests ----------------------------------------------------------------------

    def connection(self) -> Any:
        """The model's PynamoDB TableConnection, with its botocore client created.

        Creating the client can fail (no region, a broken profile): translated like any
        request error. In a process forked after the client was made, a new one is made.
        """
        if self._pid != os.getpid():
            self._after_fork()
        try:
            connection = self.model._get_connection()
            connection.connection.client  # noqa: B018 - create it before threads share it
        except Exception as error:
            cause = _cause(error)
            if cause is None:
                raise
            raise self._translate("Connect", error, cause, 1) from None
        return connection

    def _after_fork(self) -> None:
        """In a forked child: the parent's threads are gone and its sockets are shared, so
        start with a new lock, no pool and a new botocore client."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pool = None
        self.model._connection = None

    def get_item(self, id: str) -> dict[str, Any] | None:
        """One strongly consistent GetItem: the raw item, or ``None``."""
        response = self.call(
            "GetItem", lambda: self.connection().get_item(id, consistent_read=True)
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def delete_item(self, id: str) -> None:
        self.call("DeleteItem", lambda: self.connection().delete_item(id))

    def dispatch(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        """One raw request through PynamoDB's connection (its logging, consumed capacity)."""
        response: dict[str, Any] = self.call(
            action, lambda: self.connection().connection.dispatch(action, request)
        )
        return response

    def call(self, action: str, send: Callable[[], R]) -> R:
        """``send()`` with retries on throttling, 5xx and connection errors; errors translated.

        No retry starts past the policy's ``deadline``: the call then ends in
        ``StorageUnavailableError`` saying so.
        """
        started = time.monotonic()
        retry_number = 0
        while True:
            try:
                return send()
            except Exception as error:
                cause = _cause(error)
                if cause is None:
                    raise
                if is_retryable(cause) and retry_number + 1 < self.retry.attempts:
                    delay = self.retry.delay(retry_number)
                    deadline = self.retry.deadline
                    if deadline is None or time.monotonic() - started + delay < deadline:
                        self.retry.sleep(delay)
                        retry_number += 1
                        continue
                    raise StorageUnavailableError(
                        action, self.table_name, retry_number + 1,
                        f"{_detail(cause)}; gave up at the {deadline:g} s deadline "
                        f"(RetryPolicy.deadline)",
                    ) from None  # fmt: skip
                raise self._translate(action, error, cause, retry_number + 1) from None

    # --- batches --------------------------------------------------------------------------------

    def get_items(self, ids: list[str], decode: Callable[[dict[str, Any]], T]) -> list[T]:
        """``decode`` of each existing item of ``ids``: BatchGetItem by 100, GetItem if refused.

        ``decode`` runs in the worker threads as responses arrive, so decoding one chunk
        overlaps the wait for the others and raw items do not pile up.
        """
        if len(ids) > 1 and "BatchGetItem" not in self._denied_batch_actions:
            try:
                chunks = self.each(
                    lambda chunk: self._get_chunk(chunk, decode), list(chunked(ids, BATCH_GET_SIZE))
                )
            except AccessDeniedError as error:
                self._note_denied(error)
            else:
                not_loaded = [id for _, left in chunks for id in left]
                if not_loaded:
                    raise StorageUnavailableError(
                        "BatchGetItem", self.table_name, self.retry.stalled_rounds,
                        f"{len(not_loaded)} sessions left unread: {_id_list(not_loaded)}",
                    )  # fmt: skip
                return [entry for found, _ in chunks for entry in found]

        def get_one(id: str) -> T | None:
            item = self.get_item(id)
            return decode(item) if item else None

        return [entry for entry in self.each(get_one, ids) if entry is not None]

    def delete_items(self, ids: list[str]) -> None:
        """Delete every id (distinct): BatchWriteItem by 25, DeleteItem each if refused."""
        if len(ids) > 1 and "BatchWriteItem" not in self._denied_batch_actions:
            try:
                left = self.each(self._delete_chunk, list(chunked(ids, BATCH_WRITE_SIZE)))
            except AccessDeniedError as error:
                self._note_denied(error)
            else:
                not_deleted = [id for chunk_left in left for id in chunk_left]
                if not_deleted:
                    raise StorageUnavailableError(
                        "BatchWriteItem", self.table_name, self.retry.stalled_rounds,
                        f"{len(not_deleted)} sessions left undeleted: {_id_list(not_deleted)}",
                    )  # fmt: skip
                return
        self.each(self.delete_item, ids)

    def _get_chunk(
        self, ids: list[str], decode: Callable[[dict[str, Any]], T]
    ) -> tuple[list[T], list[str]]:
        """BatchGetItem of up to 100 ids until done or stalled: (decoded items, ids left)."""
        found: list[T] = []

        def send(pending: list[str]) -> list[str]:
            keys = [{"id": {"S": id}} for id in pending]
            request = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            response = self.dispatch("BatchGetItem", {"RequestItems": request})
            found.extend(map(decode, response.get("Responses", {}).get(self.table_name, [])))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name, {})
            return [key["id"]["S"] for key in unprocessed.get("Keys", [])]

        left = send_until_done(send, ids, self.retry)
        return found, left

    def _delete_chunk(self, ids: list[str]) -> list[str]:
        """BatchWriteItem deleting up to 25 ids until done or stalled: the ids left."""

        def send(pending: list[str]) -> list[str]:
            deletes = [{"DeleteRequest": {"Key": {"id": {"S": id}}}} for id in pending]
            response = self.dispatch("BatchWriteItem", {"RequestItems": {self.table_name: deletes}})
            unprocessed = response.get("UnprocessedItems", {}).get(self.table_name, [])
            return [request["DeleteRequest"]["Key"]["id"]["S"] for request in unprocessed]

        return send_until_done(send, ids, self.retry)

    def _note_denied(self, error: AccessDeniedError) -> None:
        """Remember a refused batch action; warn once per table and action."""
        if error.action not in _SINGLE_FALLBACK:
            raise error
        with self._lock:
            first = error.action not in self._denied_batch_actions
            self._denied_batch_actions.add(error.action)
        if first:
            logger.warning(
                "IAM policy refuses dynamodb:%s on table %r: falling back to one %s per session "
                "(slower). Add dynamodb:%s to the policy (see README, IAM policy).",
                error.action, self.table_name, _SINGLE_FALLBACK[error.action], error.action,
            )  # fmt: skip

    # --- concurrency ----------------------------------------------------------------------------

    def each(self, function: Callable[[T], R], items: list[T]) -> list[R]:
        """``function`` over ``items``, concurrently on the bounded pool when there are several.

        botocore clients are thread-safe (boto3 documents low-level clients as such). PynamoDB
        creates its botocore client lazily without a lock, so ``connection()`` builds it once
        before any fan-out; after that the threads share one client and its pool of
        ``max_pool_connections`` (10) HTTP connections, which ``max_concurrency`` should not
        exceed.
        """
        if len(items) <= 1 or self.max_concurrency == 1:
            return [function(item) for item in items]
        self.connection()
        futures = []
        for item in items:
            while True:
                try:
                    futures.append(self._worker_pool().submit(function, item))
                    break
                except RuntimeError:  # close() shut that pool down meanwhile: use a new one
                    continue
        return [future.result() for future in futures]

    def _worker_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.max_concurrency, thread_name_prefix="shopify_sessions"
                )
            return self._pool

    def close(self) -> None:
        """Stop the worker threads (idempotent, safe while calls run); they start again when
        needed. Work already handed to the old pool finishes first."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # --- errors ----------------------------------------------------------------------------------

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
            return SessionConflictError("?")  # the caller knows the session and re-raises
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
    if type(error).__module__.startswith(("botocore", "pynamodb")):
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


def _id_list(ids: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(id) for id in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
