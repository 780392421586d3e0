"""The asyncio token lifecycle: AsyncShopifyTokenRefresher over real HTTP (httpx.AsyncClient to
the fake Shopify), AsyncMemorySessionStorage's contract, and its load_fresh_session."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from shopify_sessions import (
    AsyncMemorySessionStorage,
    AsyncSessionStorage,
    AsyncShopifyTokenRefresher,
    MemorySessionStorage,
    ReauthorizationRequiredError,
    Session,
    SessionConflictError,
    TokenRefreshError,
    offline_session_id,
)
from shopify_sessions.testing import FakeShopify
from tests.support.refresh_races import node_dated
from tests.support.tokens import SHOP, installed

pytestmark = pytest.mark.anyio

FIELDS = ("access_token", "expires_in", "refresh_token", "refresh_token_expires_in")
SOON = timedelta(minutes=2)  # inside the default 5-minute window


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def http(fake_shopify: FakeShopify) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake_shopify.async_transport()) as client:
        yield client


@pytest.fixture
def client(fake_shopify: FakeShopify, http: httpx.AsyncClient) -> AsyncShopifyTokenRefresher:
    return refresher(fake_shopify, http)


@pytest.fixture
async def storage() -> AsyncIterator[AsyncMemorySessionStorage]:
    async with AsyncMemorySessionStorage() as storage:
        yield storage


def refresher(fake: FakeShopify, http: Any, **options: Any) -> AsyncShopifyTokenRefresher:
    """A refresher with the fake's credentials, sending through the ``httpx.AsyncClient``."""
    secret = fake.client_secret
    return AsyncShopifyTokenRefresher(fake.client_id, secret, http_client=http, **options)


# --- AsyncShopifyTokenRefresher -----------------------------------------------------------------


async def test_refresh_gives_the_new_pair(fake_shopify: FakeShopify, http: Any) -> None:
    old = installed(fake_shopify)
    before = datetime.now(timezone.utc)
    new = await refresher(fake_shopify, http).refresh(old)
    after = datetime.now(timezone.utc)
    assert (new.id, new.shop, new.state, new.is_online) == (old.id, old.shop, "", False)
    assert new.expires is not None and new.refresh_token_expires is not None
    slack = timedelta(milliseconds=1)
    assert before - slack <= new.expires - timedelta(seconds=3600) <= after
    assert fake_shopify.active_token(SHOP) == new.access_token != old.access_token
    assert not fake_shopify.is_active(SHOP, old.access_token or "")
    assert fake_shopify.call_count(SHOP, "refresh_token") == 1
    assert not http.is_closed  # the caller's client stays the caller's


@pytest.mark.parametrize("missing", FIELDS)
async def test_an_answer_missing_a_field_names_it(
    fake_shopify: FakeShopify, client: AsyncShopifyTokenRefresher, missing: str
) -> None:
    fake_shopify.omit_next(missing)
    with pytest.raises(TokenRefreshError, match=missing) as caught:
        await client.refresh(installed(fake_shopify))
    assert not isinstance(caught.value, ReauthorizationRequiredError)
    assert fake_shopify.call_count(grant="refresh_token") == 1


async def test_invalid_grant_asks_for_reauthorization_after_one_call(
    fake_shopify: FakeShopify, client: AsyncShopifyTokenRefresher
) -> None:
    session = installed(fake_shopify)
    fake_shopify.uninstall(SHOP)
    with pytest.raises(ReauthorizationRequiredError, match=SHOP) as caught:
        await client.refresh(session)
    assert caught.value.shop == SHOP
    assert fake_shopify.call_count(grant="refresh_token") == 1
    session.refresh_token = None  # known dead: no call at all
    with pytest.raises(ReauthorizationRequiredError, match="no refresh token"):
        await client.refresh(session)
    assert fake_shopify.call_count() == 1


@pytest.mark.parametrize(
    ("faults", "calls", "least"),
    [
        pytest.param([(429, {"retry_after": "1"})], 2, 1.0, id="429 honours Retry-After"),
        pytest.param([(503, {}), (500, {"drop": True}), (502, {})], 4, 0.0, id="5xx, dropped"),
    ],
)
async def test_transient_faults_are_retried(
    fake_shopify: FakeShopify,
    client: AsyncShopifyTokenRefresher,
    faults: list[tuple[int, dict[str, Any]]],
    calls: int,
    least: float,
) -> None:
    for status, options in faults:
        fake_shopify.fail_next(status, **options)
    started = time.monotonic()
    new = await client.refresh(installed(fake_shopify))
    assert time.monotonic() - started >= least
    assert fake_shopify.active_token(SHOP) == new.access_token
    assert fake_shopify.call_count(grant="refresh_token") == calls


async def test_a_slow_endpoint_times_out_within_the_timeout(
    fake_shopify: FakeShopify, http: Any
) -> None:
    fake_shopify.latency = 30.0
    started = time.monotonic()
    with pytest.raises(TokenRefreshError, match="timed out"):
        await refresher(fake_shopify, http, timeout=0.5).refresh(installed(fake_shopify))
    # gave up at the timeout (0.5 s expected), long before the answer's 30 s: a bound 30x the
    # expected time, so a busy machine never fails it
    assert time.monotonic() - started < 15


async def test_other_refusals_are_not_retried(fake_shopify: FakeShopify, http: Any) -> None:
    bad = AsyncShopifyTokenRefresher(fake_shopify.client_id, "wrong-secret", http_client=http)
    with pytest.raises(TokenRefreshError, match="401 invalid_client"):
        await bad.refresh(installed(fake_shopify))
    assert fake_shopify.call_count(grant="refresh_token") == 1


async def test_migrate_exchanges_a_non_expiring_token(
    fake_shopify: FakeShopify, client: AsyncShopifyTokenRefresher
) -> None:
    grant = fake_shopify.install(SHOP, expiring=False)
    old = Session(offline_session_id(SHOP), SHOP, "", False, grant.scope, None, grant.access_token)
    new = await client.migrate(old)
    assert new.expires is not None and new.refresh_token and new.refresh_token_expires
    assert fake_shopify.active_token(SHOP) == new.access_token
    assert fake_shopify.call_count(SHOP, "token_exchange") == 1
    with pytest.raises(ValueError, match="already has an expiring token"):
        await client.migrate(new)


async def test_secrets_stay_out_of_reprs_errors_and_debug_logs(
    fake_shopify: FakeShopify, http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = installed(fake_shopify)
    client = refresher(fake_shopify, http, timeout=2.0)
    new = await client.refresh(session)
    fake_shopify.fail_next(500, times=100)
    non_expiring = new.copy()
    non_expiring.refresh_token = non_expiring.expires = non_expiring.refresh_token_expires = None
    shown = [repr(client), repr(new)]
    for attempt in (client.refresh(new), client.migrate(non_expiring)):
        with pytest.raises(TokenRefreshError) as caught:
            await attempt
        shown.append(str(caught.value))
    fake_shopify.reset_faults()
    fake_shopify.uninstall(SHOP)
    with pytest.raises(ReauthorizationRequiredError) as dead:
        await client.refresh(new)
    assert "httpcore" in caplog.text  # the transport's DEBUG logs were captured
    text = " ".join([*shown, str(dead.value), caplog.text])
    hidden = {
        fake_shopify.client_secret,
        session.access_token,
        session.refresh_token,
        new.access_token,
        new.refresh_token,
    }
    assert all(secret and secret not in text for secret in hidden)


async def test_same_settings_checks_and_repr_as_the_blocking_refresher() -> None:
    with pytest.raises(ValueError, match="client_secret"):
        AsyncShopifyTokenRefresher("id", "")
    with pytest.raises(ValueError, match="timeout"):
        AsyncShopifyTokenRefresher("id", "secret", timeout=0)
    with pytest.raises(TypeError, match="timeout"):
        AsyncShopifyTokenRefresher("id", "secret", timeout="1")  # type: ignore[arg-type]
    evil = Session("offline_x", "evil.com/x?", "", False, refresh_token="r")
    async with AsyncShopifyTokenRefresher("id", "secret", timeout=2) as client:
        with pytest.raises(ValueError, match="shop"):
            await client.refresh(evil)
        assert repr(client) == "AsyncShopifyTokenRefresher(client_id='id', timeout=2)"


async def test_without_a_client_the_refresher_owns_one(
    fake_shopify: FakeShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[httpx.AsyncClient] = []

    def routed() -> httpx.AsyncClient:  # the client it makes, sent to the fake
        made.append(real(transport=fake_shopify.async_transport()))
        return made[-1]

    real = httpx.AsyncClient
    monkeypatch.setattr(httpx, "AsyncClient", routed)
    async with AsyncShopifyTokenRefresher(fake_shopify.client_id, fake_shopify.client_secret) as r:
        await r.refresh(installed(fake_shopify))
    assert len(made) == 1 and made[0].is_closed


# --- AsyncMemorySessionStorage: the contract ----------------------------------------------------


def _session(shop: str = SHOP, token: str = "shpat_1") -> Session:
    return Session(offline_session_id(shop), shop, "", False, "read_products", None, token)


async def test_storage_keeps_the_contract() -> None:
    async with AsyncMemorySessionStorage() as storage:
        assert isinstance(storage, AsyncSessionStorage) and storage and len(storage) == 0
        await storage.create_table()
        await storage.verify_table()
        session = _session()
        assert await storage.store_session(session) is True
        session.access_token = "changed"  # stored copies are not the caller's objects
        loaded = await storage.load_session(session.id)
        assert loaded is not None and loaded.access_token == "shpat_1"
        assert await storage.load_session("") is None
        assert await storage.load_session("offline_absent.myshopify.com") is None
        with pytest.raises(SessionConflictError):
            await storage.store_session(_session(token="new"), expected=session)
        assert await storage.store_session(_session(token="new"), expected=loaded)
        with pytest.raises(TypeError):
            await storage.store_session("not a session")  # type: ignore[arg-type]
        other = _session("other.myshopify.com")
        await storage.store_session(other)
        assert await storage.find_session_ids_by_shop(SHOP) == [session.id]
        assert [s.access_token for s in await storage.find_sessions_by_shop(SHOP)] == ["new"]
        listed = storage.iter_sessions()  # a snapshot taken at the call
        await storage.delete_session(other.id)
        assert {s.id async for s in listed} == {session.id, other.id}
        assert [s.id async for s in storage.iter_sessions()] == [session.id]
        assert await storage.delete_sessions_by_shop(SHOP) == 1
        assert await storage.delete_sessions([session.id, session.id]) is True
        assert len(storage) == 0 and await storage.delete_session(session.id) is True
        await storage.close()


async def test_store_newest_never_goes_back_in_time(storage: AsyncMemorySessionStorage) -> None:
    now = datetime.now(timezone.utc)
    base = _session()
    later, earlier = base.copy(), base.copy()
    later.access_token, later.expires = "later", now + timedelta(hours=2)
    earlier.access_token, earlier.expires = "earlier", now + timedelta(hours=1)
    assert not await storage.store_newest(later)  # nothing stored: not recreated
    assert await storage.store_newest(earlier, create=True)
    assert await storage.store_newest(later)
    assert not await storage.store_newest(earlier)
    assert await storage.load_session(base.id) == later


async def test_blocking_and_async_code_share_one_memory_storage() -> None:
    shared = MemorySessionStorage()
    storage = AsyncMemorySessionStorage(shared)
    shared.store_session(_session())
    assert storage.sync is shared and await storage.load_session(_session().id) == _session()
    assert "1 sessions" in repr(storage) and "shpat" not in repr(storage)


# --- load_fresh_session -------------------------------------------------------------------------


async def _stored(
    storage: AsyncMemorySessionStorage, fake: FakeShopify, expires_in: timedelta = SOON
) -> Session:
    session = installed(fake, expires_in=expires_in)
    await storage.store_session(session)
    return session


async def test_a_token_far_from_expiry_makes_no_call(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    session = await _stored(storage, fake_shopify, timedelta(minutes=30))
    assert await storage.load_fresh_session(session.id, client) == session
    assert await storage.load_fresh_session("offline_absent.myshopify.com", client) is None
    assert fake_shopify.call_count() == 0
    with pytest.raises(ValueError, match="lease"):
        await storage.load_fresh_session(session.id, client, lease=timedelta(seconds=11))
    with pytest.raises(ValueError, match="rejected"):
        await storage.load_fresh_session(session.id, client, rejected=_session("x.myshopify.com"))


async def test_a_token_within_the_window_is_refreshed_once_and_stored(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    fresh = await storage.load_fresh_session(old.id, client)
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert await storage.load_session(old.id) == fresh != old
    assert await storage.load_fresh_session(old.id, client) == fresh  # fresh now: no call
    assert fake_shopify.call_count(SHOP, "refresh_token") == 1


async def _many(storage: AsyncMemorySessionStorage, id: str, client: Any, n: int) -> list[Any]:
    """``n`` concurrent tasks of this event loop loading the same session."""
    return await asyncio.gather(*(storage.load_fresh_session(id, client) for _ in range(n)))


async def test_fifty_concurrent_tasks_share_one_refresh(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    fake_shopify.latency = 0.3
    got = await _many(storage, old.id, client, 50)
    assert fake_shopify.call_count(grant="refresh_token") == 1
    assert {s.access_token for s in got} == {fake_shopify.active_token(SHOP)}
    assert len({id(s) for s in got}) == 50  # each caller its own copy


async def test_tasks_of_several_event_loops_meet_through_the_lease(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    fake_shopify.latency = 0.3

    async def in_a_loop_of_its_own() -> list[Any]:
        async with httpx.AsyncClient(transport=fake_shopify.async_transport()) as own:
            return await _many(storage, old.id, refresher(fake_shopify, own), 10)

    def in_a_thread() -> list[Any]:
        return asyncio.run(in_a_loop_of_its_own())

    runs = await asyncio.gather(
        asyncio.to_thread(in_a_thread),
        asyncio.to_thread(in_a_thread),
        _many(storage, old.id, client, 10),
    )
    assert fake_shopify.call_count(grant="refresh_token") == 1
    tokens = {s.access_token for run in runs for s in run}
    assert tokens == {fake_shopify.active_token(SHOP)}


async def _until_leased(storage: AsyncMemorySessionStorage, id: str) -> None:
    """Returns once a refresh holds the lease (its call to Shopify is in flight)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snapshot = await storage._lease_store.read(id)
        if snapshot is not None and snapshot.lease_holder is not None:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no refresh took the lease")


async def test_a_cancelled_caller_leaves_the_shared_refresh_running(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    fake_shopify.latency = 0.3
    first = asyncio.ensure_future(storage.load_fresh_session(old.id, client))
    await _until_leased(storage, old.id)
    second = asyncio.ensure_future(storage.load_fresh_session(old.id, client))
    first.cancel()
    fresh = await second
    assert first.cancelled()
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert await storage.load_session(old.id) == fresh
    assert fake_shopify.call_count(grant="refresh_token") == 1


async def test_a_rejected_token_is_refreshed_once(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify, timedelta(minutes=50))
    fresh = await storage.load_fresh_session(old.id, client, rejected=old)
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert await storage.load_fresh_session(old.id, client, rejected=old) == fresh
    assert fake_shopify.call_count() == 1


async def test_a_dead_grant_is_dead_for_every_caller(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    fake_shopify.uninstall(SHOP)
    for _ in range(3):
        with pytest.raises(ReauthorizationRequiredError, match=SHOP):
            await storage.load_fresh_session(old.id, client)
    assert fake_shopify.call_count() == 1  # the others knew from the item
    assert await storage.load_session(old.id) == old
    reinstalled = await _stored(storage, fake_shopify)  # the merchant opened the app again
    fresh = await storage.load_fresh_session(old.id, client)
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert fresh.access_token != reinstalled.access_token


async def test_a_transient_failure_leaves_the_pair_and_frees_the_lease(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, http: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    fake_shopify.fail_next(503, times=1000)
    with pytest.raises(TokenRefreshError, match=r"503|timed out"):  # whichever a busy box sees
        await storage.load_fresh_session(old.id, refresher(fake_shopify, http, timeout=0.5))
    assert await storage.load_session(old.id) == old
    fake_shopify.reset_faults()
    fresh = await storage.load_fresh_session(old.id, refresher(fake_shopify, http))
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)


class _SlowReturn:
    """A real refresh whose answer is slow to come back (after Shopify rotated the pair)."""

    def __init__(self, inner: AsyncShopifyTokenRefresher, seconds: float) -> None:
        self.inner, self.seconds, self.timeout = inner, seconds, inner.timeout
        self.rotated = asyncio.Event()

    async def refresh(self, session: Session) -> Session:
        fresh = await self.inner.refresh(session)
        self.rotated.set()
        await asyncio.sleep(self.seconds)
        return fresh


async def test_a_newer_pair_stored_meanwhile_wins(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    slow = _SlowReturn(client, 0.5)

    async def unguarded_refresh() -> None:  # Node's pattern: refresh, then a plain store
        await slow.rotated.wait()
        await asyncio.sleep(0.01)  # a later refresh: its expiry is later too
        await storage.store_session(await client.refresh(old))

    got, _ = await asyncio.gather(storage.load_fresh_session(old.id, slow), unguarded_refresh())
    stored = await storage.load_session(old.id)
    assert stored is not None and stored.access_token == fake_shopify.active_token(SHOP)
    assert got == stored  # our older pair was not written over it
    assert fake_shopify.call_count(grant="refresh_token") == 2


async def test_an_uninstall_during_the_refresh_is_never_undone(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    old = await _stored(storage, fake_shopify)
    fake_shopify.latency = 0.3

    async def uninstall() -> None:
        await _until_leased(storage, old.id)
        await storage.delete_sessions_by_shop(SHOP)

    got, _ = await asyncio.gather(storage.load_fresh_session(old.id, client), uninstall())
    assert got is None and await storage.load_session(old.id) is None
    assert fake_shopify.call_count(grant="refresh_token") == 1


async def test_an_unguarded_pair_issued_first_but_dated_later_loses(
    fake_shopify: FakeShopify, storage: AsyncMemorySessionStorage, client: Any
) -> None:
    """Node's pattern reaches Shopify first, dates its pair from the answer's arrival and
    stores first; ours, issued last, is stored all the same (Shopify says it is active)."""
    old = await _stored(storage, fake_shopify)
    go, issued, stored_first = asyncio.Event(), asyncio.Event(), asyncio.Event()

    class Gated:
        timeout, is_active = client.timeout, client.is_active

        async def refresh(self, session: Session) -> Session:
            await go.wait()
            fresh: Session = await client.refresh(session)
            issued.set()
            await stored_first.wait()
            return fresh

    async def unguarded_refresh() -> None:
        pair = await client.refresh(old)
        go.set()
        await issued.wait()
        await storage.store_session(node_dated(pair))
        stored_first.set()

    got, _ = await asyncio.gather(storage.load_fresh_session(old.id, Gated()), unguarded_refresh())
    assert got is not None and got.access_token == fake_shopify.active_token(SHOP)
    assert await storage.load_session(old.id) == got
