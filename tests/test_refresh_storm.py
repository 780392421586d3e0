"""Storms across processes on dynalite (atomic conditional writes, like DynamoDB).

16 workers in 4 processes meet one expiring session: exactly one call to Shopify, every
worker gets the active token, whether the workers are threads on the blocking storage or
asyncio tasks on the async one. A holder killed with SIGKILL mid-call is taken over once its
lease lapses. The unguarded (Node) pattern is shown for contrast: many calls, and a stored
token that may already be revoked.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest

from shopify_sessions import DynamoDBSessionStorage
from shopify_sessions.testing import FakeShopify
from tests.conftest import Backend, _backend
from tests.support.storm import Fleet, FleetConfig, fleet, start_holder
from tests.support.tokens import SHOP, installed, refresher


@pytest.fixture
def dynalite(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _backend("dynalite", request)


def _config(storage: DynamoDBSessionStorage, fake: FakeShopify, **kwargs: Any) -> FleetConfig:
    assert storage.connection.host is not None
    return FleetConfig(
        storage.connection.host,
        storage.table_name,
        fake.url,
        fake.client_id,
        fake.client_secret,
        **kwargs,
    )


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> str:
    """The workers' callers: "threads" (blocking storage) unless a test parametrizes it."""
    return str(getattr(request, "param", "threads"))


@pytest.fixture(scope="module")
def storm_fleets(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], tuple[Fleet, DynamoDBSessionStorage, FakeShopify]]]:
    """One fleet per runtime for the module's storms (its 4 worker processes take ~1 s each to
    start), each with its own fake Shopify and table: each storm is on a newly installed
    session, and calls to Shopify are counted from just before it."""
    backends = _backend("dynalite", request)
    dynalite = next(backends)
    made: dict[str, tuple[Fleet, DynamoDBSessionStorage, FakeShopify]] = {}
    with ExitStack() as stack:

        def get(runtime: str) -> tuple[Fleet, DynamoDBSessionStorage, FakeShopify]:
            if runtime not in made:
                fake = stack.enter_context(FakeShopify())
                storage = dynalite.storage()
                config = _config(storage, fake, runtime=runtime)
                made[runtime] = (stack.enter_context(fleet(config)), storage, fake)
            return made[runtime]

        yield get
    next(backends, None)  # drops the tables


@pytest.fixture
def storm_fleet(
    storm_fleets: Callable[[str], tuple[Fleet, DynamoDBSessionStorage, FakeShopify]], runtime: str
) -> tuple[Fleet, DynamoDBSessionStorage, FakeShopify]:
    return storm_fleets(runtime)


# "asyncio": 4 tasks per process on an AsyncDynamoDBSessionStorage and AsyncShopifyTokenRefresher
@pytest.mark.parametrize("runtime", ["threads", "asyncio"], indirect=True)
def test_16_workers_in_4_processes_make_one_call(
    storm_fleet: tuple[Fleet, DynamoDBSessionStorage, FakeShopify],
) -> None:
    running, storage, fake_shopify = storm_fleet
    fake_shopify.latency = 0.3
    for storm in range(3):
        session = installed(fake_shopify, expires_in=timedelta(minutes=1))
        storage.store_session(session)
        before = fake_shopify.call_count(grant="refresh_token")
        outcomes = running.storm("fleet", session.id)
        assert len(outcomes) == 16
        assert [o.error for o in outcomes if o.error] == [], f"storm {storm}"
        assert fake_shopify.call_count(grant="refresh_token") - before == 1, f"storm {storm}"
        active = fake_shopify.active_token(SHOP)
        assert {o.token for o in outcomes} == {active}
        stored = storage.load_session(session.id)
        assert stored is not None and stored.access_token == active


def test_the_unguarded_pattern_calls_shopify_for_every_worker(
    storm_fleet: tuple[Fleet, DynamoDBSessionStorage, FakeShopify],
) -> None:
    running, storage, fake_shopify = storm_fleet
    fake_shopify.latency = 0.3
    session = installed(fake_shopify, expires_in=timedelta(minutes=1))
    storage.store_session(session)
    before = fake_shopify.call_count(grant="refresh_token")
    outcomes = running.storm("unguarded", session.id)
    assert fake_shopify.call_count(grant="refresh_token") - before > 4  # the anchor we beat
    assert len({o.token for o in outcomes}) > 1  # workers hold revoked tokens


def test_a_holder_killed_mid_call_is_taken_over_after_its_lease(
    dynalite: Backend, fake_shopify: FakeShopify
) -> None:
    storage = dynalite.storage()
    session = installed(fake_shopify, expires_in=timedelta(minutes=1))
    storage.store_session(session)
    config = _config(storage, fake_shopify, timeout=1.5, lease=4.0)
    fake_shopify.latency = 1.0
    holder = start_holder(config, session.id)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            snapshot = storage._lease_store.read(session.id)
            if snapshot is not None and snapshot.lease_holder is not None:
                break
            time.sleep(0.01)
        assert snapshot is not None and snapshot.lease_holder, "the holder never took the lease"
        assert str(holder.pid) in snapshot.lease_holder
        os.kill(holder.pid, signal.SIGKILL)
        taken_at = time.monotonic()
    finally:
        holder.join(timeout=10)
    assert holder.exitcode == -signal.SIGKILL
    fake_shopify.latency = 0.0
    fresh = storage.load_fresh_session(
        session.id, refresher(fake_shopify, timeout=1.5), lease=timedelta(seconds=4)
    )
    assert time.monotonic() - taken_at >= 3.0  # waited for the dead holder's lease to lapse
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert storage.load_session(session.id) == fresh
