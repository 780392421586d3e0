"""load_fresh_session on every storage: one refresh per expiry, dead grants, newest pair wins.

The refresher reaches the fake Shopify over real HTTP. Races between threads run on memory
and dynalite only: moto's conditional writes are not atomic (README, Testing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shopify_sessions import (
    MemorySessionStorage,
    ReauthorizationRequiredError,
    Session,
    TokenCipher,
    TokenRefreshError,
)
from shopify_sessions.testing import FakeShopify
from shopify_sessions.tokens.lease_protocol import LEASE_ATTRIBUTES, Snapshot
from tests.conftest import Backend, _backend
from tests.support.slow_refresh import AnsweredAfter, SlowReturn, while_leased
from tests.support.tokens import SHOP, installed, refresher

SOON = timedelta(minutes=2)  # inside the default 5-minute window


def _stored(storage: Any, fake: FakeShopify, expires_in: timedelta = SOON) -> Session:
    session = installed(fake, expires_in=expires_in)
    storage.store_session(session)
    return session


def test_a_token_far_from_expiry_is_returned_with_one_read(
    backend: Backend, fake_shopify: FakeShopify, count_requests: Any
) -> None:
    storage = backend.storage()
    session = _stored(storage, fake_shopify, timedelta(minutes=30))
    counter = count_requests(storage) if backend.is_dynamodb else None
    assert storage.load_fresh_session(session.id, refresher(fake_shopify)) == session
    assert fake_shopify.call_count() == 0
    if counter is not None:
        assert dict(counter.by_operation) == {"GetItem": 1}
    absent = "offline_absent.myshopify.com"
    assert storage.load_fresh_session(absent, refresher(fake_shopify)) is None


def test_a_token_within_the_window_is_refreshed_and_stored(
    backend: Backend, fake_shopify: FakeShopify
) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify)
    fresh = storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert fresh.access_token != old.access_token
    assert storage.load_session(old.id) == fresh
    assert fake_shopify.call_count(SHOP, "refresh_token") == 1
    if backend.is_dynamodb:
        item = backend.raw_item(storage, old.id)
        assert not set(LEASE_ATTRIBUTES) & set(item)  # the lease went with the write
    # fresh now: no second call
    assert storage.load_fresh_session(old.id, refresher(fake_shopify)) == fresh
    assert fake_shopify.call_count() == 1


def test_a_rejected_token_is_refreshed_once(backend: Backend, fake_shopify: FakeShopify) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify, timedelta(minutes=50))
    fresh = storage.load_fresh_session(old.id, refresher(fake_shopify), rejected=old)
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    # a second caller rejected with the old token: the stored one is another, no call
    again = storage.load_fresh_session(old.id, refresher(fake_shopify), rejected=old)
    assert again == fresh
    assert fake_shopify.call_count() == 1


def test_a_dead_grant_is_dead_for_every_caller(backend: Backend, fake_shopify: FakeShopify) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify)
    fake_shopify.uninstall(SHOP)
    for _ in range(3):
        with pytest.raises(ReauthorizationRequiredError, match=SHOP):
            storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert fake_shopify.call_count() == 1  # the others knew from the item
    assert storage.load_session(old.id) == old  # nothing else changed
    reinstalled = _stored(storage, fake_shopify)  # the merchant opened the app again
    fresh = storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert fresh.access_token != reinstalled.access_token


def test_what_cannot_be_refreshed(backend: Backend, fake_shopify: FakeShopify) -> None:
    storage = backend.storage()
    session = installed(fake_shopify, expires_in=timedelta(seconds=-1))
    session.refresh_token = None
    storage.store_session(session)
    with pytest.raises(ReauthorizationRequiredError, match="no refresh token"):
        storage.load_fresh_session(session.id, refresher(fake_shopify))
    session.expires = datetime.now(timezone.utc) + SOON  # still usable: returned as it is
    storage.store_session(session)
    assert storage.load_fresh_session(session.id, refresher(fake_shopify)) == session
    session = installed(fake_shopify, expires_in=timedelta(seconds=-1))
    session.refresh_token_expires = datetime.now(timezone.utc) - timedelta(days=1)
    storage.store_session(session)
    with pytest.raises(ReauthorizationRequiredError, match="expired"):
        storage.load_fresh_session(session.id, refresher(fake_shopify))
    assert fake_shopify.call_count() == 0


def test_the_lease_must_outlast_the_refresh(backend: Backend, fake_shopify: FakeShopify) -> None:
    storage = backend.storage(create=False)
    with pytest.raises(ValueError, match="lease"):
        storage.load_fresh_session("x", refresher(fake_shopify), lease=timedelta(seconds=11))
    with pytest.raises(ValueError, match="lease"):
        storage.load_fresh_session(
            "x", refresher(fake_shopify, timeout=30), lease=timedelta(seconds=30)
        )


def test_a_transient_failure_leaves_the_pair_and_frees_the_lease(
    backend: Backend, fake_shopify: FakeShopify
) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify)
    fake_shopify.fail_next(503, times=1000)
    # retried 503s for the whole timeout (on a busy machine the deadline may come first)
    with pytest.raises(TokenRefreshError, match=r"503|timed out"):
        storage.load_fresh_session(old.id, refresher(fake_shopify, timeout=0.5))
    assert storage.load_session(old.id) == old
    if backend.is_dynamodb:
        assert not set(LEASE_ATTRIBUTES) & set(backend.raw_item(storage, old.id))
    fake_shopify.reset_faults()
    fresh = storage.load_fresh_session(old.id, refresher(fake_shopify))  # no wait for a lapse
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)


def test_a_malformed_answer_stores_nothing(backend: Backend, fake_shopify: FakeShopify) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify)
    fake_shopify.omit_next("expires_in")
    with pytest.raises(TokenRefreshError, match="expires_in"):
        storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert storage.load_session(old.id) == old
    # the previous refresh token is still usable (its successor was never used)
    fresh = storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)


def test_a_newer_pair_stored_meanwhile_wins(backend: Backend, fake_shopify: FakeShopify) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify)
    slow = SlowReturn(refresher(fake_shopify))

    def unguarded_refresh() -> None:  # Node's pattern: refresh, then a plain store
        try:
            slow.rotated.wait(5)
            time.sleep(0.01)  # a later refresh: its expiry is later too
            storage.store_session(refresher(fake_shopify).refresh(old))
        finally:
            slow.meanwhile.set()

    thread = threading.Thread(target=unguarded_refresh)
    thread.start()
    got = storage.load_fresh_session(old.id, slow)
    thread.join()
    stored = storage.load_session(old.id)
    assert stored is not None and stored.access_token == fake_shopify.active_token(SHOP)
    assert got == stored  # our older pair was not written over it
    assert fake_shopify.call_count(grant="refresh_token") == 2


def test_an_uninstall_during_the_refresh_is_never_undone(
    backend: Backend, fake_shopify: FakeShopify
) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify)
    slow = AnsweredAfter(refresher(fake_shopify))
    thread = while_leased(storage, old.id, lambda: storage.delete_session(old.id), slow.meanwhile)
    assert storage.load_fresh_session(old.id, slow) is None
    thread.join()
    assert storage.load_session(old.id) is None


def test_a_reinstall_during_the_refresh_is_the_answer(
    backend: Backend, fake_shopify: FakeShopify
) -> None:
    storage = backend.storage()
    old = _stored(storage, fake_shopify)
    slow = AnsweredAfter(refresher(fake_shopify))
    reinstalled: list[Session] = []

    def reinstall() -> None:  # the merchant opens the app: token exchange, plain store
        reinstalled.append(installed(fake_shopify))
        storage.store_session(reinstalled[0])

    thread = while_leased(storage, old.id, reinstall, slow.meanwhile)
    got = storage.load_fresh_session(old.id, slow)  # meets invalid_grant
    thread.join()
    assert got == reinstalled[0] == storage.load_session(old.id)
    assert got.access_token == fake_shopify.active_token(SHOP)


@pytest.fixture(params=["memory", "dynalite"])
def atomic(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Storages whose conditional writes are atomic under concurrency (not moto's)."""
    yield from _backend(request.param, request)


def test_threads_of_one_process_share_one_refresh(
    atomic: Backend, fake_shopify: FakeShopify
) -> None:
    storage = atomic.storage()
    old = _stored(storage, fake_shopify)
    fake_shopify.latency = 0.3
    client = refresher(fake_shopify)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: storage.load_fresh_session(old.id, client), range(8)))
    assert fake_shopify.call_count(grant="refresh_token") == 1
    assert {session.access_token for session in got} == {fake_shopify.active_token(SHOP)}


def test_encrypted_tokens_refresh(dynamo: Backend, fake_shopify: FakeShopify) -> None:
    storage = dynamo.storage(token_cipher=TokenCipher({"k1": b"k" * 32}, "k1"))
    old = _stored(storage, fake_shopify)
    fresh = storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    item = dynamo.raw_item(storage, old.id)
    assert item["accessToken"]["S"] != fresh.access_token  # sealed at rest
    assert storage.load_session(old.id) == fresh
    fake_shopify.uninstall(SHOP)
    fresh.expires = datetime.now(timezone.utc)
    storage.store_session(fresh)
    for _ in range(2):
        with pytest.raises(ReauthorizationRequiredError):
            storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert fake_shopify.call_count() == 2


def _foreign_lease(storage: Any, id: str, seconds: float) -> None:
    """Another process's lease on the item, as if it were refreshing right now."""
    store = storage._lease_store
    snapshot = store.read(id)
    assert isinstance(snapshot, Snapshot)
    now_ms = int(time.time() * 1000)
    assert store.take_lease(snapshot, "other-host:1:x", now_ms + int(seconds * 1000), now_ms)


def test_a_dead_holders_lease_is_taken_over_after_it_lapses(
    atomic: Backend, fake_shopify: FakeShopify
) -> None:
    storage = atomic.storage()
    old = _stored(storage, fake_shopify)
    _foreign_lease(storage, old.id, 1.0)
    started = time.monotonic()
    fresh = storage.load_fresh_session(old.id, refresher(fake_shopify))
    assert time.monotonic() - started >= 0.9
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert fake_shopify.call_count() == 1


def test_a_waiter_gives_up_after_lease_and_timeout(fake_shopify: FakeShopify) -> None:
    storage = MemorySessionStorage()  # the timing is the same on every storage
    old = _stored(storage, fake_shopify)
    _foreign_lease(storage, old.id, 60)
    started = time.monotonic()
    with pytest.raises(TokenRefreshError, match="gave up waiting"):
        storage.load_fresh_session(
            old.id, refresher(fake_shopify, timeout=0.5), lease=timedelta(seconds=2.6)
        )
    # lease 2.6 s + timeout 0.5 s = 3.1 s expected, never the holder's 60 s lease
    assert 3.0 <= time.monotonic() - started < 20
    assert fake_shopify.call_count() == 0


def test_store_newest_never_goes_back_in_time(backend: Backend) -> None:
    storage = backend.storage()
    now = datetime.now(timezone.utc)
    base = Session("offline_n.myshopify.com", "n.myshopify.com", "", False, access_token="a")
    later = base.copy()
    later.access_token, later.expires = "later", now + timedelta(hours=2)
    earlier = base.copy()
    earlier.access_token, earlier.expires = "earlier", now + timedelta(hours=1)

    assert not storage.store_newest(later)  # nothing stored: not recreated
    assert storage.load_session(base.id) is None
    assert storage.store_newest(base, create=True)  # imports may create
    assert storage.store_newest(earlier)  # absent expires counts as older
    assert storage.store_newest(later)
    assert not storage.store_newest(earlier) and not storage.store_newest(base, create=True)
    assert storage.load_session(base.id) == later
    assert storage.store_newest(later)  # the same pair again: idempotent
    storage.delete_session(base.id)
    assert not storage.store_newest(later)
