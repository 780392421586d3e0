"""The refresh lease next to the real Node adapter (on dynalite): Node is not disturbed by
it, and a Node app's unguarded refresh racing ours ends with the newest pair stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from shopify_sessions import DynamoDBSessionStorage, ReauthorizationRequiredError, Session
from shopify_sessions.formats.node_json import session_to_node_json
from shopify_sessions.testing import FakeShopify
from shopify_sessions.tokens.lease_protocol import LEASE_ATTRIBUTES, LEASE_HOLDER
from tests.conftest import Backend, _backend
from tests.support.node_adapter import NodeAdapter, NodeTable
from tests.support.refresh_races import LIMIT, Gated, node_dated, until_leased
from tests.support.slow_refresh import AnsweredAfter, SlowReturn, while_leased
from tests.support.tokens import SHOP, installed, refresher

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def node(dynalite_endpoint: str) -> Iterator[NodeAdapter]:
    """One Node adapter process for the module (~0.4 s to start); each test on its own table."""
    with NodeAdapter(dynalite_endpoint) as adapter:
        yield adapter


@pytest.fixture
def sides(
    request: pytest.FixtureRequest, node: NodeAdapter
) -> Iterator[tuple[DynamoDBSessionStorage, NodeTable]]:
    for backend in _backend("dynalite", request):
        assert isinstance(backend, Backend) and backend.endpoint is not None
        storage = backend.storage()
        yield storage, node.on_table(storage.table_name)


def _raw(storage: DynamoDBSessionStorage, id: str) -> dict[str, object]:
    return storage.run(storage.requests.get_item(id)) or {}


def test_node_loads_and_restores_an_item_holding_a_live_lease(
    sides: tuple[DynamoDBSessionStorage, NodeTable], fake_shopify: FakeShopify
) -> None:
    storage, node = sides
    session = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(session)
    snapshot = storage._lease_store.read(session.id)
    assert snapshot is not None
    now_ms = int(time.time() * 1000)
    assert storage._lease_store.take_lease(snapshot, "py-host:1:x", now_ms + 60_000, now_ms)
    assert LEASE_HOLDER in _raw(storage, session.id)

    loaded, equal = node.load(session.id, expect=session_to_node_json(session))
    assert equal is True and loaded is not None
    assert node.store(loaded)  # Node's plain PutItem of what it loaded
    assert not set(LEASE_ATTRIBUTES) & set(_raw(storage, session.id))  # the lease vanished
    assert storage.load_session(session.id) == session
    fresh = storage.load_fresh_session(session.id, refresher(fake_shopify))  # no wait
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)


def test_a_node_restore_during_our_refresh_does_not_stop_the_new_pair(
    sides: tuple[DynamoDBSessionStorage, NodeTable], fake_shopify: FakeShopify
) -> None:
    storage, node = sides
    session = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(session)
    slow = AnsweredAfter(refresher(fake_shopify))

    def restore() -> None:
        node.store(session_to_node_json(session))

    thread = while_leased(storage, session.id, restore, slow.meanwhile)
    fresh = storage.load_fresh_session(session.id, slow)
    thread.join()
    assert fresh is not None and fresh.access_token == fake_shopify.active_token(SHOP)
    assert storage.load_session(session.id) == fresh
    _, equal = node.load(session.id, expect=session_to_node_json(fresh))
    assert equal is True


def test_a_node_unguarded_refresh_racing_ours_leaves_the_newest_pair(
    sides: tuple[DynamoDBSessionStorage, NodeTable], fake_shopify: FakeShopify
) -> None:
    storage, node = sides
    session = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(session)
    slow = SlowReturn(refresher(fake_shopify))
    node_pair: list[Session] = []

    def node_app_refreshes() -> None:  # ensureOfflineTokenIsNotExpired: refresh, storeSession
        try:
            slow.rotated.wait(5)
            time.sleep(0.01)
            node_pair.append(refresher(fake_shopify).refresh(session))
            node.store(session_to_node_json(node_pair[0]))
        finally:
            slow.meanwhile.set()

    thread = threading.Thread(target=node_app_refreshes)
    thread.start()
    got = storage.load_fresh_session(session.id, slow)
    thread.join()
    assert got == node_pair[0] == storage.load_session(session.id)
    assert got.access_token == fake_shopify.active_token(SHOP)


@pytest.mark.parametrize(
    "interleaving", ["node_answered_late", "node_answered_before_ours_left", "node_issued_last"]
)
def test_when_nodes_store_lands_first_the_pair_shopify_issued_last_is_stored(
    sides: tuple[DynamoDBSessionStorage, NodeTable], fake_shopify: FakeShopify, interleaving: str
) -> None:
    """Node's unguarded refresh and ours from the same pair; Node's blind PutItem lands before
    our store. Node dates its pair from when the answer arrived: when that is after our
    request left, its expiry looks later whichever Shopify issued last, and only Shopify can
    tell."""
    storage, node = sides
    session = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(session)
    ours = Gated(refresher(fake_shopify))
    node_pair: list[Session] = []

    def node_stores(pair: Session) -> None:  # storeSession: a blind PutItem, before ours
        node_pair.append(node_dated(pair))
        node.store(session_to_node_json(node_pair[0]))

    def node_app_refreshes() -> None:  # ensureOfflineTokenIsNotExpired: refresh, storeSession
        try:
            if interleaving == "node_answered_before_ours_left":
                until_leased(storage, session.id)  # we read the item and took the lease
                node_stores(refresher(fake_shopify).refresh(session))
                ours.go.set()
                return
            if interleaving == "node_answered_late":
                pair = refresher(fake_shopify).refresh(session)  # reaches Shopify first
                ours.go.set()
                ours.issued.wait(LIMIT)  # its slow answer arrives after ours was issued
            else:
                ours.go.set()
                ours.issued.wait(LIMIT)
                pair = refresher(fake_shopify).refresh(session)  # reaches Shopify last
            node_stores(pair)
        finally:
            ours.release.set()

    thread = threading.Thread(target=node_app_refreshes)
    thread.start()
    got = storage.load_fresh_session(session.id, ours)
    thread.join()
    active = fake_shopify.active_token(SHOP)
    stored = storage.load_session(session.id)
    assert got is not None and stored is not None
    assert got.access_token == stored.access_token == active
    assert (stored == node_pair[0]) == (interleaving == "node_issued_last")
    assert fake_shopify.call_count(grant="refresh_token") == 2
    assert not set(LEASE_ATTRIBUTES) & set(_raw(storage, session.id))
    _, equal = node.load(session.id, expect=session_to_node_json(stored))
    assert equal is True  # what Node loads next is the live pair


def test_nodes_blind_store_after_ours_of_an_older_pair_needs_the_merchant(
    sides: tuple[DynamoDBSessionStorage, NodeTable], fake_shopify: FakeShopify
) -> None:
    """The window this package cannot close (docs/explanation/mixed-node-python-fleets.md):
    Node's pair, issued first, is stored after ours. Its token is revoked and its refresh
    token superseded, so the next load_fresh_session cannot recover: the merchant must open
    the app again (an embedded app's token exchange repairs it)."""
    storage, node = sides
    session = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(session)
    node_pair = node_dated(refresher(fake_shopify).refresh(session))  # issued first
    ours = storage.load_fresh_session(session.id, refresher(fake_shopify))  # issued last
    assert ours is not None and ours.access_token == fake_shopify.active_token(SHOP)
    node.store(session_to_node_json(node_pair))  # Node's slow answer, stored blindly after
    dead = storage.load_fresh_session(session.id, refresher(fake_shopify))
    assert dead == node_pair and not fake_shopify.is_active(SHOP, dead.access_token or "")
    with pytest.raises(ReauthorizationRequiredError):  # the Admin API said 401
        storage.load_fresh_session(session.id, refresher(fake_shopify), rejected=dead)
    reopened = installed(fake_shopify)  # the merchant opens the app: token exchange
    storage.store_session(reopened)
    assert storage.load_fresh_session(session.id, refresher(fake_shopify)) == reopened
