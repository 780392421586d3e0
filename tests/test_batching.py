"""Batched finds and deletes: request counts, unprocessed retries, and the IAM fallback."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from shopify_sessions import SessionStorageError
from shopify_sessions.dynamodb.batch import chunked, until_done
from shopify_sessions.dynamodb.driver import Driver
from shopify_sessions.dynamodb.ops import Plan
from shopify_sessions.dynamodb.retry import RetryPolicy
from tests.conftest import Backend
from tests.support.factories import SHOP, offline, online

N = 250


def _seed(storage: Any, n: int = N, shop: str = SHOP) -> list[str]:
    sessions = [online(shop, user_id) for user_id in range(n)]
    for session in sessions:
        storage.store_session(session)
    return [s.id for s in sessions]


# --- exact request counts (deterministic, unlike time) -------------------------------------------


def test_find_250_is_one_query_and_three_batch_gets(dynamo: Backend, count_requests: Any) -> None:
    storage = dynamo.storage()
    ids = _seed(storage)
    storage.store_session(offline("other.myshopify.com"))
    counter = count_requests(storage)
    found = storage.find_sessions_by_shop(SHOP)
    assert sorted(s.id for s in found) == sorted(ids)
    assert dict(counter.by_operation) == {"Query": 1, "BatchGetItem": 3}


def test_find_with_small_pages_counts_every_page(dynamo: Backend, count_requests: Any) -> None:
    storage = dynamo.storage(page_size=100)
    _seed(storage)
    counter = count_requests(storage)
    assert len(storage.find_sessions_by_shop(SHOP)) == N
    # 250 keys at 100 a page: 3 pages (a 4th, empty one when the last page is exactly full)
    assert counter.by_operation["Query"] == 3
    assert counter.by_operation["BatchGetItem"] == 3


def test_delete_250_is_ten_batch_writes(dynamo: Backend, count_requests: Any) -> None:
    storage = dynamo.storage()
    ids = _seed(storage)
    counter = count_requests(storage)
    assert storage.delete_sessions(ids + ids[:30]) is True  # duplicates collapsed
    assert dict(counter.by_operation) == {"BatchWriteItem": 10}
    assert storage.find_sessions_by_shop(SHOP) == []


def test_delete_sessions_by_shop(backend: Backend) -> None:
    storage = backend.storage()
    ids = _seed(storage, 40)
    storage.store_session(offline("other.myshopify.com"))
    assert storage.delete_sessions_by_shop(SHOP) == len(ids)
    assert storage.find_sessions_by_shop(SHOP) == []
    assert storage.load_session(offline("other.myshopify.com").id) is not None
    assert storage.delete_sessions_by_shop(SHOP) == 0


def test_sequential_when_concurrency_is_one(dynamo: Backend) -> None:
    storage = dynamo.storage(max_concurrency=1)
    ids = _seed(storage, 120)
    assert len(storage.find_sessions_by_shop(SHOP)) == 120
    storage.delete_sessions(ids)
    assert storage.find_sessions_by_shop(SHOP) == []


# --- IAM policy without batch actions ---


class _Denied:
    """An HTTP response stand-in for botocore's before-call short-circuit."""

    status_code = 400
    headers: dict[str, str] = {}  # noqa: RUF012


def _deny_batches(storage: Any) -> list[str]:
    """Make DynamoDB refuse batch actions as IAM would; returns the actions refused."""
    refused: list[str] = []

    def deny(model: Any, params: Any, **_: Any) -> Any:
        if storage.table_name not in json.loads(params["body"]).get("RequestItems", {}):
            return None  # another storage on the same (shared) botocore client
        refused.append(model.name)
        error = {
            "Code": "AccessDeniedException",
            "Message": f"User is not authorized to perform: dynamodb:{model.name}",
        }
        return _Denied(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    client = storage.model._get_connection().connection.client
    for action in ("BatchGetItem", "BatchWriteItem"):
        client.meta.events.register_first(f"before-call.dynamodb.{action}", deny)
    return refused


def test_without_batch_permissions_find_and_delete_still_work(
    dynamo: Backend, count_requests: Any, caplog: pytest.LogCaptureFixture
) -> None:
    storage = dynamo.storage()
    ids = _seed(storage, 30)
    refused = _deny_batches(storage)
    counter = count_requests(storage)
    with caplog.at_level(logging.WARNING, logger="shopify_sessions"):
        assert sorted(s.id for s in storage.find_sessions_by_shop(SHOP)) == sorted(ids)
        assert sorted(s.id for s in storage.find_sessions_by_shop(SHOP)) == sorted(ids)
        assert storage.delete_sessions(ids) is True
        assert storage.delete_sessions([ids[0]]) is True
    assert storage.find_sessions_by_shop(SHOP) == []
    # batch actions were tried in the first call only (two delete chunks of 25, at once);
    # then the storage remembered the refusal
    assert sorted(refused) == ["BatchGetItem", "BatchWriteItem", "BatchWriteItem"]
    # 60 GetItems and 31 DeleteItems; on a busy machine a request retried after a dropped
    # connection counts twice, so a few more are no failure (a batch would be far fewer)
    assert 60 <= counter.by_operation["GetItem"] <= 63
    assert 31 <= counter.by_operation["DeleteItem"] <= 34
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "dynamodb:BatchGetItem" in warnings[0] and "dynamodb:BatchWriteItem" in warnings[1]


# --- unprocessed parts of a batch ---


def _no_sleep() -> RetryPolicy:
    return RetryPolicy(stalled_rounds=3, sleep=lambda _: None)


def _send_until_done(
    send: Callable[[list[int]], list[int]], items: list[int], policy: RetryPolicy
) -> list[int]:
    """``until_done`` over a ``send`` that answers at once, run by the blocking driver."""

    def plan(pending: list[int]) -> Plan[list[int]]:
        return send(pending)
        yield  # a plan that sends nothing itself

    left: list[int] = Driver(lambda: None, policy.sleep).run(until_done(plan, items, policy))
    return left


def test_send_until_done_keeps_going_while_progress_is_made() -> None:
    rounds: list[int] = []

    def send(pending: list[int]) -> list[int]:
        rounds.append(len(pending))
        return pending[1:]  # one item per round: slow, but progress

    assert _send_until_done(send, list(range(10)), _no_sleep()) == []
    assert rounds == list(range(10, 0, -1))


def test_send_until_done_gives_up_after_stalled_rounds() -> None:
    calls = []

    def send(pending: list[int]) -> list[int]:
        calls.append(list(pending))
        return pending if len(calls) > 1 else pending[2:]

    assert _send_until_done(send, [1, 2, 3, 4], _no_sleep()) == [3, 4]
    assert len(calls) == 4  # one productive round, then three stalled ones


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    delays = [max(policy.delay(n) for _ in range(200)) for n in range(6)]
    assert delays[0] <= 0.1 and delays[2] <= 0.4 and max(delays) <= 1.0
    assert delays[5] > 0.5


def test_chunked() -> None:
    assert list(chunked(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def _unprocess(storage: Any, action: str, keep: int, rounds: int) -> list[int]:
    """Rewrite the first ``rounds`` batch requests to process only ``keep`` items."""
    sizes: list[int] = []
    client = storage.model._get_connection().connection.client

    def trim(params: Any, context: Any, **_: Any) -> None:
        if storage.table_name not in params.get("RequestItems", {}):
            return  # another storage on the same (shared) botocore client
        context["unprocessed_by"] = id(storage)
        request = next(iter(params["RequestItems"].values()))
        items = request["Keys"] if action == "BatchGetItem" else request
        sizes.append(len(items))
        if len(sizes) <= rounds:
            storage._test_unprocessed = items[keep:]
            del items[keep:]
            if not items:  # DynamoDB refuses an empty batch: send one harmless key instead
                key = {"id": {"S": "__never_stored__"}}
                items.append(key if action == "BatchGetItem" else {"DeleteRequest": {"Key": key}})
        else:
            storage._test_unprocessed = []

    def report(parsed: Any, context: Any, **_: Any) -> None:
        if context.get("unprocessed_by") != id(storage):
            return
        left = storage._test_unprocessed
        if left:
            table = storage.table_name
            if action == "BatchGetItem":
                parsed["UnprocessedKeys"] = {table: {"Keys": left, "ConsistentRead": True}}
            else:
                parsed["UnprocessedItems"] = {table: left}

    client.meta.events.register_first(f"provide-client-params.dynamodb.{action}", trim)
    client.meta.events.register(f"after-call.dynamodb.{action}", report)
    return sizes


def test_unprocessed_keys_are_retried(dynamo: Backend) -> None:
    storage = dynamo.storage(max_concurrency=1, retry=_no_sleep())
    ids = _seed(storage, 10)
    sizes = _unprocess(storage, "BatchGetItem", keep=3, rounds=2)
    assert sorted(s.id for s in storage.find_sessions_by_shop(SHOP)) == sorted(ids)
    assert sizes == [10, 7, 4]


def test_unprocessed_items_are_retried(dynamo: Backend) -> None:
    storage = dynamo.storage(max_concurrency=1, retry=_no_sleep())
    ids = _seed(storage, 10)
    sizes = _unprocess(storage, "BatchWriteItem", keep=2, rounds=3)
    storage.delete_sessions(ids)
    assert sizes == [10, 8, 6, 4]
    assert storage.find_sessions_by_shop(SHOP) == []


def test_a_batch_that_stalls_names_what_was_not_loaded(dynamo: Backend) -> None:
    storage = dynamo.storage(max_concurrency=1, retry=_no_sleep())
    ids = _seed(storage, 5)
    _unprocess(storage, "BatchGetItem", keep=0, rounds=100)
    with pytest.raises(SessionStorageError, match="5 sessions left unread") as raised:
        storage.find_sessions_by_shop(SHOP)
    assert all(repr(id) in str(raised.value) for id in ids)


def test_a_batch_that_stalls_names_what_was_not_deleted(dynamo: Backend) -> None:
    storage = dynamo.storage(max_concurrency=1, retry=_no_sleep())
    ids = _seed(storage, 5)
    _unprocess(storage, "BatchWriteItem", keep=0, rounds=100)
    with pytest.raises(SessionStorageError, match="5 sessions left undeleted"):
        storage.delete_sessions(ids)
    assert len(storage.find_session_ids_by_shop(SHOP)) == 5  # nothing claimed deleted is gone
