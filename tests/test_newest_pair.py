"""Newest pair wins, whatever form the stored ``expires`` takes (issue 21.3).

The reader accepts ``expires`` as an epoch-ms number or as an ISO string with an offset; the
comparison of the final store must hold for each, or every call refreshes, revokes the stored
token and waits on its own leftover lease. Races run on memory and dynalite (atomic writes).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from shopify_sessions import AsyncShopifyTokenRefresher, Session
from shopify_sessions.testing import FakeShopify
from shopify_sessions.tokens.lease_protocol import LEASE_ATTRIBUTES
from tests.conftest import Backend, _backend
from tests.support.refresh_races import LIMIT, Gated, node_dated, until_leased
from tests.support.tokens import SHOP, installed, refresher

SPELLINGS = ["node", "epoch_ms", "iso_offset", "iso_negative_offset"]


def _spelled(expires: Any, spelling: str) -> dict[str, str]:
    """``expires`` as an item attribute, in one of the forms the reader accepts."""
    if spelling == "epoch_ms":
        return {"N": str(int(expires.timestamp() * 1000))}
    if spelling == "iso_offset":
        return {"S": expires.astimezone(timezone(timedelta(hours=5))).isoformat()}
    if spelling == "iso_negative_offset":
        return {"S": expires.astimezone(timezone(timedelta(hours=-9))).isoformat()}
    return {"S": expires.strftime("%Y-%m-%dT%H:%M:%S.") + f"{expires.microsecond // 1000:03d}Z"}


@pytest.fixture(params=["memory", "dynalite"])
def atomic(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _backend(request.param, request)


def _store_spelled(backend: Backend, storage: Any, session: Session, spelling: str) -> None:
    storage.store_session(session)
    if backend.is_dynamodb:  # the reader accepts it: only DynamoDB items can be spelled so
        backend.raw_client().update_item(
            TableName=storage.table_name,
            Key={"id": {"S": session.id}},
            UpdateExpression="SET expires = :e",
            ExpressionAttributeValues={":e": _spelled(session.expires, spelling)},
        )
        assert storage.load_session(session.id) == session


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_one_refresh_per_expiry_whatever_the_spelling(
    atomic: Backend, fake_shopify: FakeShopify, spelling: str
) -> None:
    storage = atomic.storage()
    old = installed(fake_shopify, expires_in=timedelta(minutes=2))
    _store_spelled(atomic, storage, old, spelling)
    got = [storage.load_fresh_session(old.id, refresher(fake_shopify)) for _ in range(3)]
    assert fake_shopify.call_count(grant="refresh_token") == 1
    active = fake_shopify.active_token(SHOP)
    assert {session.access_token for session in got if session} == {active}
    assert storage.load_session(old.id) == got[0]
    if atomic.is_dynamodb:
        assert not set(LEASE_ATTRIBUTES) & set(atomic.raw_item(storage, old.id))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_respelled_restore_during_the_refresh_does_not_stop_the_new_pair(
    atomic: Backend, fake_shopify: FakeShopify, spelling: str
) -> None:
    """Another writer re-stores the old pair (its own spelling, no lease) while we refresh:
    our store then compares the two pairs' expiries, which must be read as instants."""
    storage = atomic.storage()
    old = installed(fake_shopify, expires_in=timedelta(minutes=2))
    _store_spelled(atomic, storage, old, spelling)
    ours = Gated(refresher(fake_shopify))
    ours.release.set()

    def restore() -> None:
        try:
            until_leased(storage, old.id)
            _store_spelled(atomic, storage, old, spelling)
        finally:
            ours.go.set()

    thread = threading.Thread(target=restore)
    thread.start()
    got = [storage.load_fresh_session(old.id, ours)]
    thread.join()
    got += [storage.load_fresh_session(old.id, refresher(fake_shopify)) for _ in range(2)]
    assert fake_shopify.call_count(grant="refresh_token") == 1
    active = fake_shopify.active_token(SHOP)
    assert {session.access_token for session in got if session} == {active}
    if atomic.is_dynamodb:
        assert not set(LEASE_ATTRIBUTES) & set(atomic.raw_item(storage, old.id))


@pytest.mark.parametrize("spelling", SPELLINGS[1:])
def test_store_newest_compares_times_not_spellings(atomic: Backend, spelling: str) -> None:
    storage = atomic.storage()
    base = Session("offline_n.myshopify.com", "n.myshopify.com", "", False, access_token="a")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    stored, earlier, later = base.copy(), base.copy(), base.copy()
    stored.expires = now + timedelta(hours=1)
    earlier.access_token, earlier.expires = "earlier", now + timedelta(minutes=59)
    later.access_token, later.expires = "later", now + timedelta(minutes=61)
    _store_spelled(atomic, storage, stored, spelling)
    assert not storage.store_newest(earlier)
    assert storage.load_session(base.id) == stored
    assert storage.store_newest(later)
    assert storage.load_session(base.id) == later


def test_an_unguarded_pair_issued_first_but_dated_later_loses(
    atomic: Backend, fake_shopify: FakeShopify
) -> None:
    """An unguarded refresher (Node's pattern, dating from the answer's arrival) reaches
    Shopify first and stores first; ours, issued last, still ends stored (issue 21.4)."""
    storage = atomic.storage()
    old = installed(fake_shopify, expires_in=timedelta(minutes=2))
    storage.store_session(old)
    ours = Gated(refresher(fake_shopify))

    def unguarded() -> None:
        try:
            pair = refresher(fake_shopify).refresh(old)
            ours.go.set()
            ours.issued.wait(LIMIT)
            storage.store_session(node_dated(pair))
        finally:
            ours.release.set()

    thread = threading.Thread(target=unguarded)
    thread.start()
    got = storage.load_fresh_session(old.id, ours)
    thread.join()
    assert got is not None and got.access_token == fake_shopify.active_token(SHOP)
    assert storage.load_session(old.id) == got


def test_is_active_asks_shopify_blocking_and_async(fake_shopify: FakeShopify) -> None:
    old = installed(fake_shopify)
    assert refresher(fake_shopify).is_active(old) is True
    new = refresher(fake_shopify).refresh(old)

    async def ask(session: Session) -> bool | None:
        client = httpx.AsyncClient(transport=fake_shopify.async_transport())
        async with AsyncShopifyTokenRefresher(
            fake_shopify.client_id, fake_shopify.client_secret, http_client=client
        ) as asking:
            active = await asking.is_active(session)
        await client.aclose()
        return active

    assert (asyncio.run(ask(old)), asyncio.run(ask(new))) == (False, True)
    assert refresher(fake_shopify).is_active(old) is False
    new.access_token = None
    assert refresher(fake_shopify).is_active(new) is None  # cannot tell
