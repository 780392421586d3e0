"""The async storage's promises under faults: order, cancellation, per-item outcomes, edges.

A loopback proxy in front of moto's threaded server refuses or stalls the batches that carry
one session, so a call can be cancelled while its write is still being retried.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from shopify_sessions import (
    AsyncDynamoDBSessionStorage,
    DynamoDBSessionStorage,
    InvalidSessionError,
    RetryPolicy,
    Session,
    SessionStorageError,
)
from tests.support.async_storages import counted_storage
from tests.support.factories import SHOP, offline, online
from tests.support.proxy import DynamoProxy, Fault, FaultHook

pytestmark = pytest.mark.anyio
PATIENT = RetryPolicy(attempts=1000, base_delay=0.005, max_delay=0.02, stalled_rounds=1000)
MARK = "write_products"  # the scope of the write the proxy holds back


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def storage(
    truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> AsyncIterator[AsyncDynamoDBSessionStorage]:
    async with counted_storage(truth.table_name, proxy, PATIENT) as made:
        yield made


def _holding_back(kind: str, held: dict[str, bool]) -> FaultHook:
    """A fault hook: while ``held["on"]``, batches carrying MARK are throttled, or answered
    with every request unprocessed (nothing applied)."""

    def faults(op: str, body: bytes, attempt: int) -> Fault | None:
        if not held["on"] or MARK.encode() not in body:
            return None
        if kind == "throttle":
            return Fault.throttle()
        if op != "BatchWriteItem":
            return Fault.throttle()
        unprocessed = {"UnprocessedItems": json.loads(body)["RequestItems"]}
        return Fault(status=200, body=json.dumps(unprocessed).encode())

    return faults


# --- 1. a cancelled call never lands later --------------------------------------------------


@pytest.mark.parametrize("kind", ["throttle", "unprocessed"])
async def test_a_cancelled_store_never_replaces_a_later_acknowledged_one(
    storage: AsyncDynamoDBSessionStorage,
    truth: DynamoDBSessionStorage,
    proxy: DynamoProxy,
    kind: str,
) -> None:
    held = {"on": True}
    proxy.faults = _holding_back(kind, held)
    early, later, neighbour = offline(scope=MARK), offline(scope="read_orders"), online()
    carried = asyncio.ensure_future(storage.store_session(neighbour))  # same batch as early
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(storage.store_session(early), 0.2)
    held["on"] = False  # the batch that carried `early` would now go through
    assert await storage.store_session(later) is True  # acknowledged
    assert await carried is True  # the neighbour still got its own answer
    await asyncio.sleep(0.3)  # time for any retry of `early` to land
    assert truth.load_session(later.id) == later
    assert truth.load_session(neighbour.id) == neighbour


@pytest.mark.parametrize("how", ["store_session", "store_newest"])
async def test_a_later_write_waits_for_an_earlier_one_of_the_same_id_still_in_flight(
    storage: AsyncDynamoDBSessionStorage,
    truth: DynamoDBSessionStorage,
    proxy: DynamoProxy,
    how: str,
) -> None:
    """Nobody cancelled: the earlier write is retried, the later one (coalesced, or a
    conditional write sent as it is) lands after it."""
    truth.store_session(offline(scope="read_products"))
    held = {"on": True}
    proxy.faults = _holding_back("throttle", held)
    early, later = offline(scope=MARK), offline(scope="read_orders")
    first = asyncio.ensure_future(storage.store_session(early))
    await asyncio.sleep(0.1)  # `early` is being retried
    second = asyncio.ensure_future(getattr(storage, how)(later))
    await asyncio.sleep(0.1)
    held["on"] = False
    assert list(await asyncio.gather(first, second)) == [True, True]
    assert truth.load_session(later.id) == later


async def test_a_write_cancelled_while_waiting_its_turn_is_never_sent(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    held = {"on": True}
    hold = _holding_back("throttle", held)
    seen: list[bytes] = []

    def faults(op: str, body: bytes, attempt: int) -> Fault | None:
        seen.append(body)
        return hold(op, body, attempt)

    proxy.faults = faults
    early, waiting = offline(scope=MARK), offline(scope="read_customers")
    first = asyncio.ensure_future(storage.store_session(early))
    await asyncio.sleep(0.05)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(storage.store_session(waiting), 0.1)
    held["on"] = False
    assert await first is True
    await asyncio.sleep(0.1)
    assert not [body for body in seen if b"read_customers" in body]
    assert truth.load_session(early.id) == early


# --- 2. one bad session never fails its neighbours ------------------------------------------


def _deep(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


REFUSED_BY_DYNAMODB: dict[str, tuple[dict[str, object], str]] = {
    "39 significant digits": ({"big": 10**38 + 1}, "38 significant digits"),
    "above 9.99E+125": ({"huge": 10**126}, "magnitude"),
    "below 1E-130": ({"tiny": 1e-200}, "magnitude"),
    "33 levels": (_deep(33), "32 levels"),  # onlineAccessInfo is the first level
    "an empty attribute name": ({"": "x"}, "empty"),
}


def _with_extra(extra: dict[str, object]) -> Session:
    session = online()
    assert session.online_access_info is not None
    session.online_access_info.extra = extra
    return session


@pytest.mark.parametrize("case", list(REFUSED_BY_DYNAMODB))
async def test_dynamodb_limits_are_checked_before_any_request_naming_the_field(
    truth: DynamoDBSessionStorage, proxy: DynamoProxy, case: str
) -> None:
    extra, reason = REFUSED_BY_DYNAMODB[case]
    session = _with_extra(extra)
    blocking = DynamoDBSessionStorage(truth.table_name, host=proxy.endpoint)
    with pytest.raises(InvalidSessionError, match=reason) as refused:
        blocking.store_session(session)
    assert "onlineAccessInfo" in str(refused.value)
    async with AsyncDynamoDBSessionStorage(truth.table_name, host=proxy.endpoint) as storage:
        with pytest.raises(InvalidSessionError, match=reason):
            await storage.store_session(session)
    assert proxy.total == 0


async def test_values_at_dynamodb_limits_are_stored(truth: DynamoDBSessionStorage) -> None:
    extra = {"big": 10**37 + 1, "round": 10**125, "small": 1e-130, "deep": _deep(31)}  # 32 levels
    session = _with_extra(extra)
    async with AsyncDynamoDBSessionStorage(truth.table_name, host=truth.connection.host) as storage:
        assert await storage.store_session(session) is True
        assert await storage.load_session(session.id) == session


async def test_a_batch_dynamodb_refuses_as_invalid_is_split_so_each_caller_gets_its_own_answer(
    storage: AsyncDynamoDBSessionStorage, truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    refused = Fault.error(400, "ValidationException", "One or more parameter values were invalid")
    proxy.faults = lambda op, body, attempt: refused if MARK.encode() in body else None
    sessions = [online(SHOP, user) for user in range(6)]
    sessions[2].scope = MARK  # DynamoDB refuses this one (in a way not checked locally)
    answers = await asyncio.gather(
        *(storage.store_session(s) for s in sessions), return_exceptions=True
    )
    assert isinstance(answers[2], SessionStorageError)
    assert "PutItem" in str(answers[2]) and "ValidationException" in str(answers[2])
    assert answers[:2] + answers[3:] == [True] * 5
    assert sorted(truth.find_session_ids_by_shop(SHOP)) == sorted(
        s.id for i, s in enumerate(sessions) if i != 2
    )
    assert proxy.counts == {"BatchWriteItem": 1, "PutItem": 6}


def test_the_documented_limits_are_the_checked_ones() -> None:
    from pathlib import Path

    from shopify_sessions.domain.validation import MAX_KEY_BYTES
    from shopify_sessions.dynamodb import item_limits
    from shopify_sessions.dynamodb.item_size import MAX_ITEM_BYTES

    page = Path(__file__).parents[1] / "docs" / "explanation" / "async-guarantees.md"
    text = page.read_text()
    for figure in (
        f"{MAX_ITEM_BYTES:,} bytes",
        f"at most {item_limits.MAX_NUMBER_DIGITS} significant digits",
        f"at most {item_limits.MAX_NESTING} levels deep",
        f"at most {MAX_KEY_BYTES:,} bytes",
        f"1 byte to {(item_limits.MAX_NAME_BYTES + 1) // 1024} KB",
    ):
        assert figure in text, figure


# --- 22.3: errors name what the caller did -------------------------------------------------


async def test_a_coalesced_call_that_fails_names_its_method_and_its_single_item_action(
    storage: AsyncDynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    broken = Fault.error(400, "SerializationException", "broken")
    proxy.faults = lambda op, body, attempt: broken if op.startswith("Batch") else None
    loads = await asyncio.gather(
        storage.load_session("a"), storage.load_session("b"), return_exceptions=True
    )
    stores = await asyncio.gather(
        storage.store_session(offline("a.myshopify.com")),
        storage.store_session(offline("b.myshopify.com")),
        return_exceptions=True,
    )
    deletes = await asyncio.gather(
        storage.delete_session("a"), storage.delete_session("b"), return_exceptions=True
    )
    for answers, named in (
        (loads, "load_session (GetItem, sent as BatchGetItem)"),
        (stores, "store_session (PutItem, sent as BatchWriteItem)"),
        (deletes, "delete_session (DeleteItem, sent as BatchWriteItem)"),
    ):
        for answer in answers:
            assert isinstance(answer, SessionStorageError)
            assert named in str(answer)


# --- 8. async edges ------------------------------------------------------------------------


async def test_close_with_calls_in_flight_leaves_no_client_open(
    truth: DynamoDBSessionStorage, proxy: DynamoProxy
) -> None:
    import gc

    unclosed: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unclosed.append(str(context.get("message"))))
    try:
        storage = AsyncDynamoDBSessionStorage(truth.table_name, host=proxy.endpoint)
        await storage.load_session("warm-up")
        proxy.faults = lambda op, body, attempt: Fault.throttle() if attempt == 1 else None
        calls: list[asyncio.Future[object]] = [
            asyncio.ensure_future(storage.load_session(f"id-{n}")) for n in range(30)
        ]
        calls.append(asyncio.ensure_future(storage.store_session(offline())))
        await asyncio.sleep(0)  # every call started; their batches wait for the throttle
        await storage.close()
        assert await asyncio.gather(*calls) == [None] * 30 + [True]
        assert not storage.driver._states  # no client made again behind close()
        del storage, calls
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert not [message for message in unclosed if "nclosed" in message]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"Responses": {"T": [{"shop": {"S": SHOP}}]}}, id="an item without id"),
        pytest.param({"UnprocessedKeys": {"T": {"Keys": [{"x": {"S": "1"}}]}}}, id="a key"),
        pytest.param(b"<html><body>Sign in to the Wi-Fi</body></html>", id="html"),
    ],
)
async def test_malformed_answers_are_storage_errors(
    storage: AsyncDynamoDBSessionStorage,
    truth: DynamoDBSessionStorage,
    proxy: DynamoProxy,
    answer: object,
) -> None:
    if isinstance(answer, dict):
        body = json.dumps(answer).replace('"T"', json.dumps(truth.table_name)).encode()
    else:
        body = answer  # type: ignore[assignment]
    index = json.dumps({"Items": [{"id": {"S": "a"}}, {"id": {"S": "b"}}]}).encode()

    def faults(op: str, _: bytes, attempt: int) -> Fault:
        return Fault(status=200, body=index if op == "Query" and body[:1] == b"{" else body)

    proxy.faults = faults
    loads = await asyncio.gather(
        storage.load_session("a"), storage.load_session("b"), return_exceptions=True
    )
    for loaded in loads:
        assert isinstance(loaded, SessionStorageError), repr(loaded)
    blocking = DynamoDBSessionStorage(truth.table_name, host=proxy.endpoint)
    with pytest.raises(SessionStorageError):
        blocking.find_sessions_by_shop(SHOP)


def test_importing_the_async_storage_without_the_extra_says_what_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('aiobotocore', 'aiohttp'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from shopify_sessions import AsyncDynamoDBSessionStorage\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and "pip install 'shopify-sessions[async]'" in last
    assert "aiobotocore" in last
    assert "During handling" not in done.stderr  # one error, not a chain
