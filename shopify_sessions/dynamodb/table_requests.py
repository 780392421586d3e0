"""``TableRequests``: how requests reach one sessions table, as plans (no I/O here).

Every request goes through :meth:`TableRequests.call`, which retries throttling, 5xx answers
and dropped connections with backoff, and turns every failure into a ``SessionStorageError``
naming the DynamoDB action. Batches are split to DynamoDB's limits, sent concurrently up to
``max_concurrency``, resent while unprocessed parts make progress, and replaced by one request
per key when IAM refuses the batch action. The plans yield :mod:`.ops`; a driver
(``driver.py``, ``driver_async.py``) carries them out.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from shopify_sessions.errors import (
    AccessDeniedError,
    SessionConflictError,
    SessionStorageError,
    StorageUnavailableError,
    TableNotFoundError,
)

from .batch import chunked, until_done
from .ops import Each, Plan, Send, Sleep
from .retry import RetryPolicy, is_retryable

__all__ = [
    "BATCH_GET_SIZE",
    "BATCH_WRITE_SIZE",
    "DEFAULT_MAX_CONCURRENCY",
    "RefusedAsInvalidError",
    "TableRequests",
    "Write",
    "check_ids",
    "is_aws_error",
]

logger = logging.getLogger("shopify_sessions")

T = TypeVar("T")
Write = tuple[str, "dict[str, Any] | None"]  # (id, item to put) or (id, None): delete

BATCH_GET_SIZE = 100  # DynamoDB's limit of keys in one BatchGetItem
BATCH_WRITE_SIZE = 25  # DynamoDB's limit of requests in one BatchWriteItem
DEFAULT_MAX_CONCURRENCY = 10  # botocore's default pool holds 10 HTTP connections
_SINGLE_FALLBACK = {"BatchGetItem": "GetItem", "BatchWriteItem": "PutItem / DeleteItem"}
Again = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class RefusedAsInvalidError(SessionStorageError):
    """DynamoDB refused a request as invalid (``ValidationException``): for a batch, one of
    its items may be the cause, so the coalescer sends each again on its own."""


class TableRequests:
    """Request plans for the table ``table_name``: retries, error translation, batching."""

    def __init__(self, table_name: str, retry: RetryPolicy, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.table_name = table_name
        self.retry = retry
        self.max_concurrency = max_concurrency
        self._lock = threading.Lock()
        self.denied_batch_actions: set[str] = set()

    # --- single requests ----------------------------------------------------------------------

    def call(
        self,
        action: str,
        request: dict[str, Any],
        *,
        tolerate: Collection[str] = (),
        again: Again | None = None,
    ) -> Plan[dict[str, Any]]:
        """One request, retried on throttling, 5xx and connection errors; errors translated.

        No retry starts past the policy's ``deadline``: the call then ends in
        ``StorageUnavailableError`` saying so. A ``SessionStorageError`` thrown in (a batch
        that carried this request on its behalf already retried) passes through as it is.
        An error whose code is in ``tolerate`` answers ``{}`` instead. ``again`` gives the
        request to send on each retry (the parts still wanted), or ``None`` when nobody wants
        it any more: the call then answers ``{}``.
        """
        started = time.monotonic()
        retry_number = 0
        while True:
            try:
                response: dict[str, Any] = yield Send(action, request)
                return response
            except SessionStorageError:
                raise
            except Exception as error:
                if not is_aws_error(error):
                    raise
                if _code(error) in tolerate:
                    return {}
                if is_retryable(error) and retry_number + 1 < self.retry.attempts:
                    delay = self.retry.delay(retry_number)
                    deadline = self.retry.deadline
                    if deadline is None or time.monotonic() - started + delay < deadline:
                        yield Sleep(delay)
                        retry_number += 1
                        if again is not None:
                            still = again(request)
                            if still is None:
                                return {}
                            request = still
                        continue
                    raise StorageUnavailableError(
                        action,
                        self.table_name,
                        retry_number + 1,
                        f"{_detail(error)}; gave up at the {deadline:g} s deadline "
                        f"(RetryPolicy.deadline)",
                    ) from None
                raise self.translate(action, error, retry_number + 1) from None

    def key(self, id: str) -> dict[str, Any]:
        """The ``TableName`` and ``Key`` of the session ``id``'s item."""
        return {"TableName": self.table_name, "Key": {"id": {"S": id}}}

    def get_item_request(self, id: str) -> Send:
        return Send("GetItem", {**self.key(id), "ConsistentRead": True})

    def write_request(self, write: Write) -> Send:
        """The PutItem of ``(id, item)``, or the DeleteItem of ``(id, None)``."""
        id, item = write
        if item is None:
            return Send("DeleteItem", self.key(id))
        return Send("PutItem", {"TableName": self.table_name, "Item": item})

    def get_item(self, id: str) -> Plan[dict[str, Any] | None]:
        """One strongly consistent GetItem: the raw item, or ``None``."""
        send = self.get_item_request(id)
        response = yield from self.call(send.action, send.request)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def put_item(self, item: dict[str, Any], condition: dict[str, Any] | None = None) -> Plan[bool]:
        """One PutItem (``condition``: expression fields); ``False`` when the condition failed."""
        try:
            send = self.write_request((item["id"]["S"], item))
            yield from self.call(send.action, {**send.request, **(condition or {})})
        except SessionConflictError:
            return False
        return True

    def update_item(self, id: str, update: dict[str, Any]) -> Plan[bool]:
        """One conditional UpdateItem; ``False`` when its condition failed."""
        try:
            yield from self.call("UpdateItem", {**self.key(id), **update})
        except SessionConflictError:
            return False
        return True

    # --- batches --------------------------------------------------------------------------------

    def get_items(self, ids: list[str], decode: Callable[[dict[str, Any]], T]) -> Plan[list[T]]:
        """``decode`` of each existing item of distinct ``ids``: BatchGetItem by 100 (chunks
        concurrently), GetItem each if IAM refuses BatchGetItem."""
        if len(ids) > 1 and "BatchGetItem" not in self.denied_batch_actions:
            try:
                chunks: list[tuple[list[T], list[str]]] = yield self.each(
                    [self.get_chunk(chunk, decode) for chunk in chunked(ids, BATCH_GET_SIZE)]
                )
            except AccessDeniedError as error:
                self.note_denied(error)
            else:
                self._check_done("BatchGetItem", "unread", [i for _, left in chunks for i in left])
                return [entry for found, _ in chunks for entry in found]
        one_by_one: list[T | None] = yield self.each([self._get_one(id, decode) for id in ids])
        return [entry for entry in one_by_one if entry is not None]

    def write_items(self, writes: list[Write]) -> Plan[None]:
        """Put (an item) or delete (``None``) each ``(id, item)`` of distinct ids:
        BatchWriteItem by 25, single requests each if IAM refuses BatchWriteItem."""
        if len(writes) > 1 and "BatchWriteItem" not in self.denied_batch_actions:
            try:
                left: list[list[str]] = yield self.each(
                    [self.write_chunk(chunk) for chunk in chunked(writes, BATCH_WRITE_SIZE)]
                )
            except AccessDeniedError as error:
                self.note_denied(error)
            else:
                what = "undeleted" if all(item is None for _, item in writes) else "unwritten"
                self._check_done("BatchWriteItem", what, [id for part in left for id in part])
                return
        yield self.each([self.write_item(write) for write in writes])

    def each(self, plans: list[Plan[T]]) -> Each:
        return Each(plans, self.max_concurrency)

    def _get_one(self, id: str, decode: Callable[[dict[str, Any]], T]) -> Plan[T | None]:
        item = yield from self.get_item(id)
        return decode(item) if item else None

    def write_item(self, write: Write) -> Plan[None]:
        """One unconditional PutItem or DeleteItem (see :meth:`write_request`)."""
        send = self.write_request(write)
        yield from self.call(send.action, send.request)

    def get_chunk(
        self,
        ids: list[str],
        decode: Callable[[dict[str, Any]], T],
        wanted: Callable[[str], bool] | None = None,
    ) -> Plan[tuple[list[T], list[str]]]:
        """BatchGetItem of up to 100 ids until done or stalled: (decoded items, ids left).
        ``wanted``: an id it says no to is left out of every later round and retry."""
        found: list[T] = []
        request = functools.partial(_batch_get, self.table_name)

        def send(pending: list[str]) -> Plan[list[str]]:
            response = yield from self._wanted_part("BatchGetItem", pending, wanted, request)
            items = response.get("Responses", {}).get(self.table_name, [])
            check_ids(self.table_name, "BatchGetItem", "an item", items)
            found.extend(map(decode, items))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name, {})
            keys = unprocessed.get("Keys", [])
            check_ids(self.table_name, "BatchGetItem", "an unprocessed key", keys)
            return [key["id"]["S"] for key in keys]

        left = yield from until_done(send, ids, self.retry)
        return found, left

    def write_chunk(
        self, writes: list[Write], wanted: Callable[[Write], bool] | None = None
    ) -> Plan[list[str]]:
        """BatchWriteItem of up to 25 puts and deletes until done or stalled: the ids left.
        ``wanted``: a write it says no to is left out of every later round and retry."""
        request = functools.partial(_batch_write, self.table_name)

        def send(pending: list[Write]) -> Plan[list[Write]]:
            response = yield from self._wanted_part("BatchWriteItem", pending, wanted, request)
            unprocessed = response.get("UnprocessedItems", {}).get(self.table_name, [])
            keys = [_request_key(entry) for entry in unprocessed]
            check_ids(self.table_name, "BatchWriteItem", "an unprocessed request", keys)
            left_ids = {key["id"]["S"] for key in keys}
            return [(id, item) for id, item in pending if id in left_ids]

        left = yield from until_done(send, writes, self.retry)
        return [id for id, _ in left]

    def _wanted_part(
        self,
        action: str,
        pending: list[T],
        wanted: Callable[[T], bool] | None,
        request: Callable[[list[T]], dict[str, Any]],
    ) -> Plan[dict[str, Any]]:
        """The batch ``action`` of the ``pending`` parts still wanted, and on each retry of
        those still wanted then; ``{}`` when none is."""
        pending = _still(pending, wanted)
        if not pending:
            return {}
        return (
            yield from self.call(action, request(pending), again=_again(pending, wanted, request))
        )

    def _check_done(self, action: str, what: str, left: list[str]) -> None:
        if left:
            raise self.unfinished(action, what, left)

    def unfinished(self, action: str, what: str, left: list[str]) -> StorageUnavailableError:
        """The error for the ``left`` ids of a batch that stopped making progress."""
        return StorageUnavailableError(
            action,
            self.table_name,
            self.retry.stalled_rounds,
            f"{len(left)} sessions left {what}: {_id_list(left)}",
        )

    def note_denied(self, error: AccessDeniedError) -> None:
        """Remember a refused batch action; warn once per table and action."""
        if error.action not in _SINGLE_FALLBACK:
            raise error
        with self._lock:
            first = error.action not in self.denied_batch_actions
            self.denied_batch_actions.add(error.action)
        if first:
            logger.warning(
                "IAM policy refuses dynamodb:%s on table %r: falling back to one %s per session "
                "(slower). Add dynamodb:%s to the policy (see README, IAM policy).",
                error.action,
                self.table_name,
                _SINGLE_FALLBACK[error.action],
                error.action,
            )

    # --- errors ----------------------------------------------------------------------------------

    def translate(self, action: str, cause: BaseException, attempts: int) -> SessionStorageError:
        """The typed error for a botocore error ``cause`` of ``action``."""
        code = _code(cause)
        if code == "ResourceNotFoundException":
            return TableNotFoundError(self.table_name)
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return AccessDeniedError(action, self.table_name, f" ({_detail(cause)})")
        if code == "ConditionalCheckFailedException":
            return SessionConflictError("?")  # the caller knows the session and re-raises
        if code == "ValidationException":
            return RefusedAsInvalidError(
                f"DynamoDB {action} on table {self.table_name!r} failed: {_detail(cause)}"
            )
        if is_retryable(cause):
            return StorageUnavailableError(action, self.table_name, attempts, _detail(cause))
        return SessionStorageError(
            f"DynamoDB {action} on table {self.table_name!r} failed: {_detail(cause)}"
        )


def check_ids(table_name: str, action: str, what: str, keys: list[Any]) -> None:
    """Every item or key of an answer names a session id, or the answer is not DynamoDB's:
    a ``SessionStorageError``, never a ``KeyError`` or a session missing."""
    for key in keys:
        id = key.get("id") if isinstance(key, dict) else None
        if not isinstance(id, dict) or not isinstance(id.get("S"), str):
            raise SessionStorageError(
                f"DynamoDB {action} on table {table_name!r} answered {what} without "
                f"a session id: the endpoint's answer is not DynamoDB's"
            )


def is_aws_error(error: BaseException) -> bool:
    """An error of botocore's (or aiobotocore's): a request failed, not our code."""
    return type(error).__module__.startswith(("botocore", "aiobotocore"))


def _code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _batch_get(table_name: str, ids: list[str]) -> dict[str, Any]:
    keys = [{"id": {"S": id}} for id in ids]
    return {"RequestItems": {table_name: {"Keys": keys, "ConsistentRead": True}}}


def _batch_write(table_name: str, writes: list[Write]) -> dict[str, Any]:
    requests = [
        {"PutRequest": {"Item": item}}
        if item is not None
        else {"DeleteRequest": {"Key": {"id": {"S": id}}}}
        for id, item in writes
    ]
    return {"RequestItems": {table_name: requests}}


def _request_key(request: Any) -> Any:
    """The item or key an unprocessed write request carries (``None`` if malformed)."""
    if not isinstance(request, dict):
        return None
    if "PutRequest" in request:
        return (request["PutRequest"] or {}).get("Item")
    return (request.get("DeleteRequest") or {}).get("Key")


def _still(pending: list[T], wanted: Callable[[T], bool] | None) -> list[T]:
    return pending if wanted is None else [each for each in pending if wanted(each)]


def _again(
    pending: list[T],
    wanted: Callable[[T], bool] | None,
    request: Callable[[list[T]], dict[str, Any]],
) -> Again | None:
    """For :meth:`TableRequests.call`: the batch request again with only the parts still
    wanted (``None``: no part is)."""
    if wanted is None:
        return None

    def again(_: dict[str, Any]) -> dict[str, Any] | None:
        still = _still(pending, wanted)
        return request(still) if still else None

    return again


def _detail(cause: BaseException) -> str:
    """``Code: message`` without echoing request data."""
    if isinstance(cause, NoRegionError):
        return "no AWS region configured: pass region= or set AWS_REGION"
    if isinstance(cause, NoCredentialsError):
        return "no AWS credentials found: configure them as for any AWS SDK"
    if isinstance(cause, ClientError):
        err = cause.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(cause).__name__}: {cause}"


def _id_list(ids: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(id) for id in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
