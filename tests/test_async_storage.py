"""The async storage's own behaviour: coalescing counted on the wire, its lifecycle, its loop.

Everything else it shares with the blocking storage runs in the contract, fault and interop
suites. Requests are counted by a loopback proxy in front of moto's threaded server.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.config import Config

from shopify_sessions import (
    AsyncDynamoDBSessionStorage,
    CorruptSessionError,
    DynamoDBSessionStorage,
    RetryPolicy,
    SessionConflictError,
    SessionStorageError,
    StorageUnavailableError,
)
from tests.support.async_storages import counted_storage
from tests.support.factories import SHOP, offline, online
from tests.support.proxy import DynamoProxy, Fault, unprocess_items, unprocess_keys

pytestmark = pytest.mark.anyio
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, stalled_rounds=3)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def storage(
    truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> AsyncIterator[AsyncDynamoDBSessionStorage]:
    async with counted_storage(truth.table_name, proxy, FAST_RETRY) as made:
        yield made


def _seed(truth: DynamoDBSessionStorage, n: int) -> list[Any]:
    sessions = [online(SHOP, user) for user in range(n)]
    truth.delete_sessions([])  # nothing, but connects
    for session in sessions:
        truth.store_session(session)
    return sessions


# --- coalescing -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 250])
async def test_concurrent_loads_go_out_as_batch_gets(
    storage: AsyncDynamoDBSessionStorage,
    truth: DynamoDBSessionStorage,
    proxy: DynamoProxy,
    n: int,
) -> None:
    sessions = _seed(truth, n)
    proxy.reset()
    loaded = await asyncio.gather(*(storage.load_session(s.id) for s in sessions))
    assert loaded == sessions
    assert proxy.counts == {"BatchGetItem": math.ceil(n / 100)}


async def test_each_caller_gets_its_own_answer_or_its_own_error(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    present = _seed(truth, 3)
    truth.store_session(offline("corrupt.myshopify.com"))
    corrupt_id = offline("corrupt.myshopify.com").id
    spoil = {
        "UpdateExpression": "SET isOnline = :x",
        "ExpressionAttributeValues": {":x": {"M": {}}},
    }
    truth.run(truth.requests.update_item(corrupt_id, spoil))
    proxy.reset()
    ids = [
        present[0].id,
        "offline_absent.myshopify.com",
        corrupt_id,
        present[1].id,
        present[0].id,
        present[2].id,
    ]
    answers = await asyncio.gather(
        *(storage.load_session(id) for id in ids), return_exceptions=True
    )
    assert answers[0] == present[0] and answers[4] == present[0]  # the duplicate, both
    assert answers[1] is None
    assert isinstance(answers[2], CorruptSessionError) and corrupt_id in str(answers[2])
    assert answers[3] == present[1] and answers[5] == present[2]
    assert proxy.counts == {"BatchGetItem": 1}


@pytest.mark.parametrize("n", [2, 60])
async def test_concurrent_stores_and_deletes_go_out_as_batch_writes(
    storage: AsyncDynamoDBSessionStorage,
    truth: DynamoDBSessionStorage,
    proxy: DynamoProxy,
    n: int,
) -> None:
    sessions = [online(SHOP, user) for user in range(n)]
    assert await asyncio.gather(*(storage.store_session(s) for s in sessions)) == [True] * n
    assert proxy.counts == {"BatchWriteItem": math.ceil(n / 25)}
    stored = truth.find_sessions_by_shop(SHOP)
    assert sorted(s.id for s in stored) == sorted(s.id for s in sessions)
    proxy.reset()
    await asyncio.gather(*(storage.delete_session(s.id) for s in sessions))
    assert proxy.counts == {"BatchWriteItem": math.ceil(n / 25)}
    assert truth.find_session_ids_by_shop(SHOP) == []


async def test_writes_to_one_id_in_one_turn_keep_their_order(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    first, second, other = offline(scope="read_orders"), offline(scope="write_orders"), online()
    await asyncio.gather(
        storage.store_session(first),
        storage.store_session(other),
        storage.store_session(second),
        storage.delete_session(other.id),
    )
    assert truth.load_session(first.id) == second  # the later write won
    assert truth.load_session(other.id) is None  # deleted after it was stored
    assert proxy.counts == {"BatchWriteItem": 2}  # one round per write to the same id


async def test_conditional_stores_and_lone_calls_are_not_batched(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    session = offline()
    truth.store_session(session)
    refreshed, stale = session.copy(), session.copy()
    refreshed.access_token, stale.access_token = "shpat_fake-new", "shpat_fake-stale"
    proxy.reset()
    results = await asyncio.gather(
        storage.store_session(refreshed, expected=session),
        storage.store_session(stale, expected=session),
        return_exceptions=True,
    )
    assert sorted(map(repr, results)) == sorted([repr(True), repr(SessionConflictError(stale.id))])
    assert proxy.counts["PutItem"] == 2 and "BatchWriteItem" not in proxy.counts
    proxy.reset()
    assert await storage.load_session(session.id) is not None
    assert proxy.counts == {"GetItem": 1}


async def test_coalesce_false_sends_each_call_as_it_comes(
    truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    sessions = _seed(truth, 30)
    proxy.reset()
    async with AsyncDynamoDBSessionStorage(
        truth.table_name, host=proxy.endpoint, coalesce=False
    ) as plain:
        loaded = await asyncio.gather(*(plain.load_session(s.id) for s in sessions))
        await asyncio.gather(*(plain.store_session(s) for s in sessions))
    assert loaded == sessions
    assert proxy.counts == {"GetItem": 30, "PutItem": 30}


# --- faults in a coalesced batch ------------------------------------------------------------


async def test_throttling_and_unprocessed_parts_mid_batch(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    sessions = _seed(truth, 120)
    proxy.reset()

    def faults(op: str, body: bytes, attempt: int) -> Fault | None:
        if attempt == 1 and proxy.counts[op] == 1:
            return Fault.throttle()  # the first batch of each kind is throttled once
        if op == "BatchGetItem" and proxy.counts[op] <= 3:
            return Fault.rewrite_response(unprocess_keys(30))
        if op == "BatchWriteItem" and proxy.counts[op] <= 4:
            return Fault.rewrite_response(unprocess_items(7))
        return None

    proxy.faults = faults
    assert await asyncio.gather(*(storage.load_session(s.id) for s in sessions)) == sessions
    changed = [s.copy() for s in sessions]
    for session in changed:
        session.scope = "write_orders"
    await asyncio.gather(*(storage.store_session(s) for s in changed))
    stored = truth.find_sessions_by_shop(SHOP)
    assert sorted(stored, key=lambda s: s.id) == sorted(changed, key=lambda s: s.id)
    assert proxy.counts["BatchGetItem"] > 2 and proxy.counts["BatchWriteItem"] > 5


async def test_a_batch_that_fails_fails_each_of_its_callers_with_a_typed_error(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    sessions = _seed(truth, 5)
    failing = Fault.server_error()
    proxy.faults = lambda op, body, attempt: failing if op.startswith("Batch") else None
    answers = await asyncio.gather(
        *(storage.load_session(s.id) for s in sessions), return_exceptions=True
    )
    assert all(isinstance(answer, StorageUnavailableError) for answer in answers)
    assert len({id(answer) for answer in answers}) == 5  # an error of its own for each caller
    assert proxy.counts == {"BatchGetItem": FAST_RETRY.attempts}


async def test_iam_refusing_batches_falls_back_to_single_requests(
    storage: AsyncDynamoDBSessionStorage,
    truth: DynamoDBSessionStorage,
    proxy: DynamoProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sessions = _seed(truth, 4)
    denied = Fault.error(400, "AccessDeniedException", "not authorized to perform Batch*")
    proxy.faults = lambda op, body, attempt: denied if op.startswith("Batch") else None
    with caplog.at_level(logging.WARNING, logger="shopify_sessions"):
        assert await asyncio.gather(*(storage.load_session(s.id) for s in sessions)) == sessions
        await asyncio.gather(*(storage.delete_session(s.id) for s in sessions))
    assert truth.find_session_ids_by_shop(SHOP) == []
    assert proxy.counts == {"BatchGetItem": 1, "GetItem": 4, "BatchWriteItem": 1, "DeleteItem": 4}
    assert sum("dynamodb:Batch" in r.getMessage() for r in caplog.records) == 2
    proxy.reset()  # refused once: no more batch attempts
    assert await asyncio.gather(*(storage.load_session(s.id) for s in sessions)) == [None] * 4
    assert proxy.counts == {"GetItem": 4}


async def test_a_cancelled_caller_leaves_the_others_their_answers(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage
) -> None:
    sessions = _seed(truth, 3)
    tasks = [asyncio.ensure_future(storage.load_session(s.id)) for s in sessions]
    await asyncio.sleep(0)  # all three registered in this turn
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[0] == sessions[0] and done[2] == sessions[2]
    assert isinstance(done[1], asyncio.CancelledError)


async def test_callers_beyond_a_round_wait_their_turn_and_a_cancelled_one_holds_none_up(
    truth: DynamoDBSessionStorage, proxy: DynamoProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection: a round is 25 writes. 120 stores go out round by round (no turn queues
    more than a round), every caller gets its answer, and cancelling a waiting caller leaves
    the rest to proceed."""
    from shopify_sessions.dynamodb.coalesce import Coalescer

    queued: list[int] = []
    flush = Coalescer._flush

    def counting_flush(self: Coalescer) -> None:
        queued.append(len(self._writes))
        flush(self)

    monkeypatch.setattr(Coalescer, "_flush", counting_flush)
    sessions = [online(SHOP, user) for user in range(120)]
    async with AsyncDynamoDBSessionStorage(
        truth.table_name,
        host=proxy.endpoint,
        retry=FAST_RETRY,
        botocore_config=Config(max_pool_connections=1),
    ) as storage:
        tasks = [asyncio.ensure_future(storage.store_session(s)) for s in sessions]
        await asyncio.sleep(0)  # the first round queued; the others wait for room
        tasks[60].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[60], asyncio.CancelledError)
    assert done[:60] + done[61:] == [True] * 119
    assert max(queued) == 25 and sum(queued) == 119
    assert proxy.counts == {"BatchWriteItem": math.ceil(119 / 25)}
    assert truth.load_session(sessions[119].id) == sessions[119]
    assert truth.load_session(sessions[60].id) is None


# --- lifecycle and errors ----------------------------------------------------------------------


async def test_close_is_idempotent_and_the_storage_reconnects(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage
) -> None:
    session = offline()
    truth.store_session(session)
    await storage.close()
    await storage.close()
    assert await storage.load_session(session.id) == session


async def test_no_region_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    async with AsyncDynamoDBSessionStorage("t") as nowhere:
        with pytest.raises(SessionStorageError, match="no AWS region"):
            await nowhere.load_session("offline_x.myshopify.com")


def test_importing_the_package_does_not_import_aiobotocore() -> None:
    import subprocess
    import sys

    code = "import sys, shopify_sessions; print(*(m in sys.modules for m in ('aiobotocore', "
    code += "'aiohttp')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
