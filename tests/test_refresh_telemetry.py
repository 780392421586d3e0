"""Refresh telemetry: each outcome of load_fresh_session is one record on the
``shopify_sessions`` logger and, with OpenTelemetry's SDK as the global providers, a count, a
duration and a span; blocking and async, against the fake Shopify over loopback."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from shopify_sessions import (
    AsyncMemorySessionStorage,
    AsyncShopifyTokenRefresher,
    MemorySessionStorage,
    ReauthorizationRequiredError,
    Session,
    TokenRefreshError,
)
from shopify_sessions.testing import FakeShopify
from shopify_sessions.tokens.lease_protocol import Snapshot
from shopify_sessions.tokens.telemetry import DURATION_METRIC, OUTCOMES_METRIC, SPAN_NAME
from tests.conftest import Backend, _backend
from tests.support.interpreter import printed_by
from tests.support.leases import until_leased
from tests.support.otel import Captured, global_otel, reset_globals
from tests.support.tokens import SHOP, installed, refresher

SOON = timedelta(minutes=2)  # inside the default 5-minute window
DRIVERS = ["blocking", "async"]


@pytest.fixture
def otel() -> Iterator[Captured]:
    with global_otel() as captured:
        yield captured


@pytest.fixture
def outcomes(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """The refresh records logged so far, in order."""
    caplog.set_level(logging.INFO, logger="shopify_sessions")
    return lambda: [record for record in caplog.records if hasattr(record, "outcome")]


def _load_fresh(
    driver: str, storage: MemorySessionStorage, fake: FakeShopify, id: str, **options: Any
) -> Session | None:
    """``load_fresh_session`` through the blocking or the async storage (the same sessions)."""
    if driver == "blocking":
        return storage.load_fresh_session(id, refresher(fake, **options))

    async def run() -> Session | None:
        async with httpx.AsyncClient(transport=fake.async_transport()) as http:
            secret = fake.client_secret
            client = AsyncShopifyTokenRefresher(fake.client_id, secret, http_client=http, **options)
            return await AsyncMemorySessionStorage(storage).load_fresh_session(id, client)

    return asyncio.run(run())


def _stored(fake: FakeShopify) -> tuple[MemorySessionStorage, Session]:
    storage = MemorySessionStorage()
    session = installed(fake, expires_in=SOON)
    storage.store_session(session)
    return storage, session


def _secret_free(record: logging.LogRecord, *sessions: Session | None) -> None:
    shown = record.getMessage() + repr(vars(record))
    for session in sessions:
        if session is not None:
            assert session.access_token and session.access_token not in shown
            assert session.refresh_token and session.refresh_token not in shown


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_refresh_is_one_record_one_count_and_one_span(
    driver: str, otel: Captured, outcomes: Any, fake_shopify: FakeShopify
) -> None:
    storage, old = _stored(fake_shopify)
    fresh = _load_fresh(driver, storage, fake_shopify, old.id)
    [record] = outcomes()
    assert (record.shop, record.session_id, record.outcome) == (SHOP, old.id, "refreshed")
    assert record.request_id == fake_shopify.calls[-1].request_id != ""
    assert record.levelno == logging.INFO and record.error is None
    assert 0 < record.duration_seconds < 60
    assert record.request_id in record.getMessage() and "refreshed" in record.getMessage()
    _secret_free(record, old, fresh)
    assert fake_shopify.client_secret not in repr(vars(record))
    assert otel.by_outcome(OUTCOMES_METRIC) == {"refreshed": 1}
    [duration] = otel.points(DURATION_METRIC)
    assert duration.count == 1 and duration.explicit_bounds[::12] == (0.01, 60)  # seconds
    assert duration.sum == pytest.approx(record.duration_seconds, abs=1e-5)
    [span] = otel.spans()
    assert span.name == SPAN_NAME and span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "shopify_sessions.shop": SHOP,
        "shopify_sessions.session_id": old.id,
        "shopify_sessions.outcome": "refreshed",
        "shopify_sessions.request_id": record.request_id,
    }
    assert not trace.get_current_span().get_span_context().is_valid  # no span left current


def test_the_span_is_current_while_the_refresh_runs(
    otel: Captured, fake_shopify: FakeShopify
) -> None:
    """So the spans of an instrumented HTTP or DynamoDB client nest under it."""
    storage, old = _stored(fake_shopify)
    inner = refresher(fake_shopify)
    current: list[Any] = []

    class Watching:
        timeout = inner.timeout

        def refresh(self, session: Session) -> Session:
            current.append(trace.get_current_span())
            return inner.refresh(session)

    storage.load_fresh_session(old.id, Watching())
    [span] = otel.spans()
    assert current[0].get_span_context().span_id == span.context.span_id


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_caller_that_waits_for_another_holder(
    driver: str, otel: Captured, outcomes: Any, fake_shopify: FakeShopify
) -> None:
    """The holder is the other driver on the same sessions: they meet through the lease."""
    storage, old = _stored(fake_shopify)
    fake_shopify.latency = 0.5  # the holder's call is under way while the waiter reads
    other = DRIVERS[1 - DRIVERS.index(driver)]
    held: list[Session | None] = []
    holder = threading.Thread(
        target=lambda: held.append(_load_fresh(other, storage, fake_shopify, old.id))
    )
    holder.start()
    until_leased(storage, old.id)
    got = _load_fresh(driver, storage, fake_shopify, old.id)
    holder.join()
    assert got == held[0] and fake_shopify.call_count(grant="refresh_token") == 1
    records = {record.outcome: record for record in outcomes()}
    assert sorted(records) == ["refreshed", "waited"]
    assert records["waited"].request_id is None  # it asked Shopify nothing
    assert records["refreshed"].request_id == fake_shopify.calls[-1].request_id
    assert otel.by_outcome(OUTCOMES_METRIC) == {"refreshed": 1, "waited": 1}
    assert otel.by_outcome(DURATION_METRIC) == {"refreshed": 1, "waited": 1}


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_lapsed_lease_taken_over(
    driver: str, otel: Captured, outcomes: Any, fake_shopify: FakeShopify
) -> None:
    storage, old = _stored(fake_shopify)
    snapshot = storage._lease_store.read(old.id)
    assert isinstance(snapshot, Snapshot)
    now_ms = int(time.time() * 1000)  # a holder on another host that died 0.3 s into its lease
    assert storage._lease_store.take_lease(snapshot, "other-host:1:x", now_ms + 300, now_ms)
    fresh = _load_fresh(driver, storage, fake_shopify, old.id)
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    [record] = outcomes()
    assert record.outcome == "took_over" and record.levelno == logging.INFO
    assert record.request_id == fake_shopify.calls[-1].request_id
    assert otel.by_outcome(OUTCOMES_METRIC) == {"took_over": 1}
    assert [span.attributes["shopify_sessions.outcome"] for span in otel.spans()] == ["took_over"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_dead_grant_recorded_then_known(
    driver: str, otel: Captured, outcomes: Any, fake_shopify: FakeShopify
) -> None:
    storage, old = _stored(fake_shopify)
    fake_shopify.uninstall(SHOP)
    for _ in range(2):
        with pytest.raises(ReauthorizationRequiredError):
            _load_fresh(driver, storage, fake_shopify, old.id)
    assert fake_shopify.call_count() == 1  # the second caller knew it from the item
    recorded, known = outcomes()
    assert (recorded.outcome, known.outcome) == ("dead", "dead")
    assert recorded.levelno == known.levelno == logging.WARNING
    assert recorded.request_id == fake_shopify.calls[-1].request_id  # Shopify's invalid_grant
    assert known.request_id is None
    assert recorded.error.startswith("ReauthorizationRequiredError: ") and SHOP in recorded.error
    _secret_free(recorded, old)
    assert otel.by_outcome(OUTCOMES_METRIC) == {"dead": 2}
    for span in otel.spans():
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None
        assert span.attributes["error.type"] == "ReauthorizationRequiredError"


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failed_refresh(
    driver: str, otel: Captured, outcomes: Any, fake_shopify: FakeShopify
) -> None:
    storage, old = _stored(fake_shopify)
    fake_shopify.fail_next(503, times=1000)
    with pytest.raises(TokenRefreshError, match="503"):
        _load_fresh(driver, storage, fake_shopify, old.id, timeout=2.0)
    [record] = outcomes()
    assert record.outcome == "failed" and record.levelno == logging.WARNING
    assert record.request_id == fake_shopify.calls[-1].request_id  # the last 503
    assert record.error.startswith("TokenRefreshError: ") and "503" in record.error
    _secret_free(record, old)
    assert otel.by_outcome(OUTCOMES_METRIC) == {"failed": 1}
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR and "503" in (span.status.description or "")


def test_an_sdk_set_up_after_the_first_refresh_gets_the_next(fake_shopify: FakeShopify) -> None:
    reset_globals()  # no SDK yet: the API's no-op proxies
    storage, old = _stored(fake_shopify)
    storage.load_fresh_session(old.id, refresher(fake_shopify))
    for _ in range(2):  # an SDK set up later, then another one in its place
        storage, old = _stored(fake_shopify)
        with global_otel() as otel:
            storage.load_fresh_session(old.id, refresher(fake_shopify))
            assert otel.by_outcome(OUTCOMES_METRIC) == {"refreshed": 1}
            assert len(otel.spans()) == 1


@pytest.fixture
def dynalite(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _backend("dynalite", request)


def test_two_processes_on_one_dynamodb_table(
    dynalite: Backend, otel: Captured, outcomes: Any, fake_shopify: FakeShopify
) -> None:
    """Two storages on one table, as two processes: one refreshes while the other waits; then
    Shopify refuses the grant, one records it in the item and the other knows it from there."""
    first = dynalite.storage()
    second = dynalite.storage(table=first.table_name, create=False)
    old = installed(fake_shopify, expires_in=SOON)
    first.store_session(old)
    fake_shopify.latency = 0.5  # the holder's call is under way while the waiter reads
    holder = threading.Thread(
        target=first.load_fresh_session, args=(old.id, refresher(fake_shopify))
    )
    holder.start()
    until_leased(first, old.id)
    fresh = second.load_fresh_session(old.id, refresher(fake_shopify))
    holder.join()
    fake_shopify.latency = 0.0
    fake_shopify.uninstall(SHOP)
    for storage in (first, second):  # the Admin API refused the token: refresh it
        with pytest.raises(ReauthorizationRequiredError):
            storage.load_fresh_session(old.id, refresher(fake_shopify), rejected=fresh)
    assert fake_shopify.call_count(grant="refresh_token") == 2
    seen = [(record.outcome, record.request_id) for record in outcomes()]
    refreshed, dead = (call.request_id for call in fake_shopify.calls)
    assert sorted(seen[:2]) == [("refreshed", refreshed), ("waited", None)]  # either first
    assert seen[2:] == [("dead", dead), ("dead", None)]  # the second knew it from the item
    assert otel.by_outcome(OUTCOMES_METRIC) == {"refreshed": 1, "waited": 1, "dead": 2}


def test_nothing_to_refresh_is_no_outcome(
    otel: Captured, outcomes: Any, fake_shopify: FakeShopify
) -> None:
    storage = MemorySessionStorage()
    far = installed(fake_shopify, expires_in=timedelta(hours=1))
    storage.store_session(far)
    assert storage.load_fresh_session(far.id, refresher(fake_shopify)) == far
    far.refresh_token = None  # cannot be refreshed, but still works for two minutes
    far.expires = datetime.now(timezone.utc) + SOON
    storage.store_session(far)
    assert storage.load_fresh_session(far.id, refresher(fake_shopify)) == far
    assert outcomes() == [] and otel.points(OUTCOMES_METRIC) == [] and otel.spans() == ()


def test_without_opentelemetry_nothing_of_it_is_loaded() -> None:
    """Importing the package never loads OpenTelemetry; without the [otel] extra, a refresh
    is logged all the same and still loads nothing of it."""
    touched = (
        "import sys, shopify_sessions\n"
        "shopify_sessions.DynamoDBSessionStorage, shopify_sessions.MemorySessionStorage\n"
        "shopify_sessions.ShopifyTokenRefresher, shopify_sessions.AsyncShopifyTokenRefresher\n"
        "import shopify_sessions.tokens.lease_driver, shopify_sessions.tokens.lease_driver_async\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    assert printed_by(touched) == ["[]"]
    refreshed = (
        "import sys; sys.modules['opentelemetry'] = None  # the [otel] extra not installed\n"
        "import logging\n"
        "from datetime import datetime, timedelta, timezone\n"
        "from shopify_sessions import MemorySessionStorage, Session, ShopifyTokenRefresher\n"
        "from shopify_sessions.testing import FakeShopify\n"
        "logger = logging.getLogger('shopify_sessions')\n"
        "logger.setLevel(logging.INFO)\n"
        "logger.addHandler(logging.StreamHandler(sys.stdout))\n"
        "logger.handlers[-1].setFormatter(logging.Formatter('%(outcome)s'))\n"
        "with FakeShopify() as fake:\n"
        "    grant = fake.install('a.myshopify.com')\n"
        "    soon = datetime.now(timezone.utc) + timedelta(minutes=1)\n"
        "    session = Session('offline_a.myshopify.com', 'a.myshopify.com', '', False,\n"
        "        access_token=grant.access_token, expires=soon,\n"
        "        refresh_token=grant.refresh_token)\n"
        "    storage = MemorySessionStorage()\n"
        "    storage.store_session(session)\n"
        "    http = fake.client()\n"
        "    client = ShopifyTokenRefresher(fake.client_id, fake.client_secret, http_client=http)\n"
        "    storage.load_fresh_session(session.id, client)\n"
        "print([m for m in sys.modules if m.startswith('opentelemetry') and sys.modules[m]])\n"
    )
    assert printed_by(refreshed) == ["refreshed", "[]"]
