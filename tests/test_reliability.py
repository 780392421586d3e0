"""Faults on the wire (through a loopback proxy), schema checks, bad input, secrets in logs."""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shopify_sessions import (
    AccessDeniedError,
    AsyncDynamoDBSessionStorage,
    CorruptSessionError,
    DynamoDBSessionStorage,
    InvalidSessionError,
    RetryPolicy,
    SchemaMismatchError,
    SessionConflictError,
    SessionStorageError,
    StorageUnavailableError,
    TableNotFoundError,
    TokenCipher,
)
from tests.conftest import DYNAMODB_BACKENDS, Backend
from tests.support.factories import SHOP, offline, online
from tests.support.proxy import DynamoProxy, Fault, unprocess_items, unprocess_keys
from tests.support.time_limited import time_limited

Storages = Callable[..., tuple[Any, Any]]
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, stalled_rounds=4)


@pytest.fixture(scope="module")
def _running_proxy(moto_server_endpoint: str) -> Iterator[DynamoProxy]:
    """One proxy for the module: one endpoint, so one botocore client (~10 MB and ~0.1 s each,
    kept for the process's life by the package's client cache) instead of one per test."""
    with DynamoProxy(moto_server_endpoint) as running:
        yield running


@pytest.fixture
def proxy(_running_proxy: DynamoProxy) -> Iterator[DynamoProxy]:
    """The module's proxy, as a new one would be: no faults, counts and attempts at zero."""
    _running_proxy.faults = None
    _running_proxy.reset()
    yield _running_proxy
    _running_proxy.faults = None


@pytest.fixture
def direct(moto_server_endpoint: str) -> Backend:
    """The same server without the proxy: the ground truth for what is stored."""
    return Backend("moto_server", moto_server_endpoint)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """The storage under fault: the blocking one, or the async one driven through Blocking."""
    return str(request.param)


@pytest.fixture
def storages(
    direct: Backend, proxy: DynamoProxy, kind: str, request: pytest.FixtureRequest
) -> Iterator[Storages]:
    """``storages(**options)`` -> (truth, faulty): a direct blocking storage on a fresh table,
    and a storage of ``kind`` on the same table through the proxy (``FAST_RETRY`` unless
    ``retry`` is given)."""
    made: list[Any] = []

    def make(**kwargs: Any) -> tuple[Any, Any]:
        truth = direct.storage()
        kwargs = {"host": proxy.endpoint, "retry": FAST_RETRY, **kwargs}
        if kind == "sync":
            return truth, DynamoDBSessionStorage(truth.table_name, **kwargs)
        portal = request.getfixturevalue("async_portal")
        made.append(time_limited(AsyncDynamoDBSessionStorage(truth.table_name, **kwargs), portal))
        return truth, made[-1]

    yield make
    for storage in made:
        storage.close()


def _first_attempts(fault: Fault, failures: int, operation: str | None = None) -> Any:
    """A fault hook: ``fault`` for the first ``failures`` attempts of each request."""

    def hook(op: str, body: bytes, attempt: int) -> Fault | None:
        if operation not in (None, op) or attempt > failures:
            return None
        return fault

    return hook


# --- retries ---------------------------------------------------------------------------------


TRANSIENT_FAULTS = {
    "throttled": Fault.throttle(),
    "500": Fault.server_error(),
    "dropped-before": Fault.drop_connection(),
    "dropped-after": Fault.drop_connection(after_forward=True),
}


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        pytest.param(kind, fault, id=f"{kind}-{name}")
        for kind in ("sync", "async")
        for name, fault in TRANSIENT_FAULTS.items()
        if (kind, name) != ("async", "500")  # the throttle's path in the same plans
    ],
)
def test_every_operation_survives_transient_faults(
    storages: Storages, proxy: DynamoProxy, fault: Fault
) -> None:
    truth, faulty = storages()
    proxy.faults = _first_attempts(fault, failures=2)
    sessions = [online(SHOP, n) for n in range(30)]
    for session in sessions:
        assert faulty.store_session(session) is True
    assert faulty.load_session(sessions[0].id) == sessions[0]
    assert sorted(s.id for s in faulty.find_sessions_by_shop(SHOP)) == sorted(
        s.id for s in sessions
    )
    assert faulty.delete_session(sessions[0].id) is True
    assert faulty.delete_sessions([s.id for s in sessions[1:]]) is True
    assert truth.find_sessions_by_shop(SHOP) == []
    assert proxy.counts["PutItem"] == 3 * 30  # two failures, then success, for each


def test_retries_run_out_into_a_clear_error(storages: Storages, proxy: DynamoProxy) -> None:
    truth, faulty = storages()
    proxy.faults = _first_attempts(Fault.throttle(), failures=100)
    with pytest.raises(StorageUnavailableError, match=r"PutItem .* failed after 4 attempts") as e:
        faulty.store_session(offline())
    assert "ProvisionedThroughputExceededException" in str(e.value)
    assert truth.load_session(offline().id) is None
    proxy.faults = _first_attempts(Fault.drop_connection(), failures=100)
    with pytest.raises(StorageUnavailableError, match=r"GetItem .* after 4 attempts"):
        faulty.load_session(offline().id)


def test_retry_policy_is_configurable(storages: Storages, proxy: DynamoProxy) -> None:
    _, faulty = storages(retry=RetryPolicy(attempts=1))
    proxy.faults = _first_attempts(Fault.server_error(), failures=1)
    with pytest.raises(StorageUnavailableError, match="after 1 attempt:"):
        faulty.store_session(offline())
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)


def test_a_retried_conditional_store_is_not_its_own_conflict(
    storages: Storages, proxy: DynamoProxy
) -> None:
    truth, faulty = storages()
    truth.store_session(offline(refresh_token="r0"))
    loaded = truth.load_session(offline().id)
    refreshed = offline(access_token="a1", refresh_token="r1")
    # the first PutItem is applied, but its answer is lost; the retry finds the new tokens
    proxy.faults = _first_attempts(Fault.drop_connection(after_forward=True), 1, "PutItem")
    assert faulty.store_session(refreshed, expected=loaded) is True
    assert truth.load_session(offline().id) == refreshed
    proxy.faults = None
    with pytest.raises(SessionConflictError):
        faulty.store_session(offline(access_token="a2"), expected=loaded)


def test_access_denied_names_the_action_and_is_not_retried(
    storages: Storages, proxy: DynamoProxy
) -> None:
    _, faulty = storages()
    denied = Fault.error(400, "AccessDeniedException", "not authorized to perform PutItem")
    proxy.faults = _first_attempts(denied, failures=100, operation="PutItem")
    with pytest.raises(AccessDeniedError, match="dynamodb:PutItem") as raised:
        faulty.store_session(offline())
    assert raised.value.action == "PutItem"
    assert proxy.counts["PutItem"] == 1


def test_unprocessed_batch_parts_on_the_wire_are_retried(
    storages: Storages, proxy: DynamoProxy
) -> None:
    truth, faulty = storages()
    ids = [s.id for s in (online(SHOP, n) for n in range(150))]
    for n in range(150):
        truth.store_session(online(SHOP, n))

    def partial(op: str, body: bytes, attempt: int) -> Fault | None:
        """The first requests come back partly unprocessed; later ones (the retries) do not."""
        if op == "BatchGetItem" and proxy.counts[op] <= 2:
            return Fault.rewrite_response(unprocess_keys(40))
        if op == "BatchWriteItem" and proxy.counts[op] <= 6:
            return Fault.rewrite_response(unprocess_items(10))
        return None

    proxy.faults = partial
    assert sorted(s.id for s in faulty.find_sessions_by_shop(SHOP)) == sorted(ids)
    assert faulty.delete_sessions(ids) is True
    assert truth.find_sessions_by_shop(SHOP) == []
    assert proxy.counts["BatchGetItem"] > 2 and proxy.counts["BatchWriteItem"] > 6


# --- randomised fault injection ----------------------------------------------------------------


FAULTS = [
    (0.08, "throttled", Fault.throttle()),
    (0.05, "500", Fault.server_error()),
    (0.05, "dropped before", Fault.drop_connection()),
    (0.05, "dropped after", Fault.drop_connection(after_forward=True)),
]


def _random_faults(rng: random.Random, seen: Counter[str]) -> Any:
    def hook(op: str, body: bytes, attempt: int) -> Fault | None:
        roll = rng.random()
        for chance, name, fault in FAULTS:
            if roll < chance:
                seen[name] += 1
                return fault
            roll -= chance
        if op == "BatchGetItem" and roll < 0.3:
            seen["unprocessed keys"] += 1
            return Fault.rewrite_response(unprocess_keys(3))
        if op == "BatchWriteItem" and roll < 0.3:
            seen["unprocessed items"] += 1
            return Fault.rewrite_response(unprocess_items(3))
        return None

    return hook


@pytest.mark.parametrize(
    ("kind", "seed"), [("sync", 1), ("sync", 2), ("sync", 3), ("async", 1)]
)  # one seed for the async storage: the same plans, so the same decisions
def test_random_faults_never_lose_or_resurrect_a_session(
    storages: Storages, proxy: DynamoProxy, seed: int
) -> None:
    """Every operation succeeds or raises SessionStorageError; what it reports is true."""
    rng = random.Random(seed)
    faults_seen: Counter[str] = Counter()
    truth, faulty = storages()
    proxy.faults = _random_faults(rng, faults_seen)
    known: dict[str, Any] = {}  # id -> Session stored, or None when reported deleted
    outcomes: Counter[str] = Counter()
    shops = [f"shop{n}.myshopify.com" for n in range(4)]
    for step in range(200):
        shop = rng.choice(shops)
        session = online(shop, rng.randrange(12), state=f"step{step}")
        op = rng.choice(["store", "store", "load", "delete", "delete_many", "find"])
        try:
            if op == "store":
                faulty.store_session(session)
                known[session.id] = session
            elif op == "load":
                loaded = faulty.load_session(session.id)
                if session.id in known:
                    assert loaded == known[session.id]
            elif op == "delete":
                faulty.delete_session(session.id)
                known[session.id] = None
            elif op == "delete_many":
                ids = [s for s in known if s.startswith(shop)][:5]
                faulty.delete_sessions(ids)
                known.update(dict.fromkeys(ids))
            else:
                found = {s.id: s for s in faulty.find_sessions_by_shop(shop)}
                for id, expected in known.items():
                    if expected is not None and expected.shop == shop:
                        assert found.get(id) == expected
                    elif expected is None and id in found:
                        raise AssertionError(f"{id} reported deleted but found")
            outcomes["ok"] += 1
        except SessionStorageError:
            outcomes["SessionStorageError"] += 1
            known.pop(session.id, None)  # outcome unknown: forget what we knew
            if op == "delete_many":
                for id in [s for s in known if s.startswith(shop)][:5]:
                    known.pop(id, None)
    for id, expected in known.items():
        assert truth.load_session(id) == expected, id
    print(f"seed {seed}: outcomes {dict(outcomes)}, faults injected {dict(faults_seen)}")
    assert outcomes["ok"] > 150 and sum(faults_seen.values()) > 20


# --- schema and missing tables ----------------------------------------------------------------


def test_verify_table_accepts_the_node_schema(dynamo: Backend) -> None:
    dynamo.storage().verify_table()
    dynamo.storage(index="custom_index").verify_table()


def test_verify_table_missing(dynamo: Backend) -> None:
    with pytest.raises(TableNotFoundError):
        dynamo.storage(table="no_such_sessions", create=False).verify_table()


@pytest.mark.parametrize("dynamo", ["moto_server", "async_moto_server"], indirect=True)
def test_a_missing_table_is_named_as_it_is_by_every_call(dynamo: Backend) -> None:
    storage = dynamo.storage(table="no_such_sessions", create=False)
    for call in (storage.load_session, storage.delete_session):
        with pytest.raises(TableNotFoundError) as raised:
            call(offline().id)
        assert str(raised.value) == str(TableNotFoundError("no_such_sessions"))
        assert raised.value.table_name == "no_such_sessions"


def _raw_table(dynamo: Backend, name: str, hash_key: str, index: dict[str, Any] | None) -> None:
    request: dict[str, Any] = dict(
        TableName=name,
        KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    if index:
        request["GlobalSecondaryIndexes"] = [index]
        index_key = index["KeySchema"][0]["AttributeName"]
        request["AttributeDefinitions"].append({"AttributeName": index_key, "AttributeType": "S"})
    dynamo.raw_client().create_table(**request)
    dynamo.tables.append(name)


def test_verify_table_names_each_difference(dynamo: Backend) -> None:
    _raw_table(
        dynamo,
        "sessions_wrong_schema",
        "session_id",
        {
            "IndexName": "shop_index",
            "KeySchema": [{"AttributeName": "other", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        },
    )
    storage = dynamo.storage(table="sessions_wrong_schema", create=False)
    with pytest.raises(SchemaMismatchError) as raised:
        storage.verify_table()
    text = str(raised.value)
    assert "hash key 'id'" in text and "session_id HASH" in text
    assert "index 'shop_index' key is [other HASH]" in text
    assert "projects ALL, expected KEYS_ONLY" in text
    assert len(raised.value.differences) == 3


def test_verify_table_names_a_missing_index(dynamo: Backend) -> None:
    _raw_table(dynamo, "sessions_no_index", "id", None)
    with pytest.raises(SchemaMismatchError, match="'shop_index' is missing"):
        dynamo.storage(table="sessions_no_index", create=False).verify_table()


# --- bad input and corrupt items ------------------------------------------------------------------


def test_an_item_over_400_kb_is_refused_before_sending(
    dynamo: Backend, count_requests: Any
) -> None:
    storage = dynamo.storage()
    counter = count_requests(storage)
    huge = offline(scope="read_x," * 60_000)
    with pytest.raises(InvalidSessionError, match=r"session 'offline_shop1.myshopify.com' is \d+"):
        storage.store_session(huge)
    assert counter.total == 0
    storage.store_session(offline(scope="read_x," * 50_000))  # ~350 KB: fine


def test_find_skips_corrupt_items_with_a_warning_or_raises_when_strict(
    dynamo: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    storage = dynamo.storage()
    storage.store_session(offline())
    storage.store_session(online())
    bad = {
        "id": {"S": f"{SHOP}_9"},
        "shop": {"S": SHOP},
        "state": {"S": "s"},
        "isOnline": {"M": {}},  # a string or number is read, as Node does; a map is not
    }
    dynamo.raw_client().put_item(TableName=storage.table_name, Item=bad)
    with caplog.at_level(logging.WARNING, logger="shopify_sessions"):
        found = storage.find_sessions_by_shop(SHOP)
    assert sorted(s.id for s in found) == sorted([offline().id, online().id])
    assert f"{SHOP}_9" in caplog.text and "isOnline" in caplog.text
    with pytest.raises(CorruptSessionError, match=f"{SHOP}_9"):
        storage.find_sessions_by_shop(SHOP, strict=True)
    with pytest.raises(CorruptSessionError):
        storage.load_session(f"{SHOP}_9")


# --- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dynamo", [*DYNAMODB_BACKENDS, "async_moto_server"], indirect=True)
@pytest.mark.parametrize("encrypted", [False, True])
def test_no_token_in_any_log_record_even_at_debug(
    dynamo: Backend, caplog: pytest.LogCaptureFixture, encrypted: bool
) -> None:
    cipher = TokenCipher({"k1": TokenCipher.generate_key()}, "k1") if encrypted else None
    storage = dynamo.storage(token_cipher=cipher)
    secrets = [
        "shpat_SECRET_access_1",
        "shprt_SECRET_refresh_1",
        "shpat_SECRET_access_2",
        "shpat_SECRET_access_3",
    ]
    session = online(access_token=secrets[0], refresh_token=secrets[1])
    with caplog.at_level(logging.DEBUG):
        storage.store_session(session)
        loaded = storage.load_session(session.id)
        refreshed = loaded.copy()
        refreshed.access_token = secrets[2]
        storage.store_session(refreshed, expected=loaded)
        stale = refreshed.copy()
        stale.access_token = secrets[3]
        with pytest.raises(SessionConflictError) as conflict:
            storage.store_session(stale, expected=loaded)
        storage.find_sessions_by_shop(SHOP)
        storage.delete_sessions([session.id])
        storage.delete_session(session.id)
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    # request and response bodies were logged (by aiobotocore too, through botocore's loggers)
    assert {"botocore.endpoint", "botocore.parsers"} <= {r.name for r in caplog.records}
    for secret in secrets:
        assert secret not in logged
        assert secret not in str(conflict.value) and secret not in repr(loaded)
    if cipher is not None:
        assert "ssenc:" not in logged
