"""The fleet refresh protocol under every interleaving hypothesis can find.

The protocol is a sans-IO generator (``tokens.lease_protocol.fresh_session``), so a test can be its
scheduler: several callers' flows step in an order hypothesis chooses, Shopify answers each
refresh whenever the schedule says (a slow answer lets others wait, lapse the lease and take
over), and simulated time moves only when a flow waits. The store is the real
``MemoryLeaseStore``; Shopify is a model of its rules (rotation, one active token, the replay
window of the previous refresh token).

Properties: every caller finishes; none is told to re-authorize; the stored token is always the
one Shopify holds active at the end (the newest pair wins); while no lease can have lapsed,
Shopify saw exactly one refresh; every token a caller gets was issued by a refresh.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shopify_sessions import MemorySessionStorage, Session, TokenRefreshError
from shopify_sessions.steps import Sleep
from shopify_sessions.tokens.lease_protocol import (
    AskActive,
    MarkDead,
    Read,
    Refresh,
    ReleaseLease,
    StoreNewest,
    StoreOver,
    TakeLease,
    fresh_session,
)
from shopify_sessions.tokens.refresh_errors import ReauthorizationRequiredError

LEASE = timedelta(seconds=30)
START = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Shopify:
    """Shopify's token rules for one shop: each refresh rotates the pair and revokes the old
    access token; the previous refresh token works until its successor is first used."""

    clock: Clock
    current: str = "rt-0"
    previous: str | None = None
    active: str = "at-0"
    calls: int = 0
    issued: set[str] = field(default_factory=set)
    counter: Any = field(default_factory=lambda: itertools.count(1))

    def refresh(self, session: Session) -> Session:
        self.calls += 1
        token = session.refresh_token
        if token == self.current:
            self.previous = token  # usable until the new one is first used
        elif token is None or token != self.previous:
            raise ReauthorizationRequiredError(session.shop, "invalid_grant")
        n = next(self.counter)
        self.current, self.active = f"rt-{n}", f"at-{n}"
        self.issued.add(self.active)
        fresh = session.copy()
        fresh.access_token, fresh.refresh_token = self.active, self.current
        fresh.expires = self.clock.now + timedelta(hours=1)
        fresh.refresh_token_expires = self.clock.now + timedelta(days=90)
        return fresh


@dataclass
class Caller:
    flow: Any
    reply: Any = None
    error: BaseException | None = None
    pending_refresh: Session | None = None  # sent to Shopify, not yet answered
    done: bool = False
    result: Any = None


def _step(caller: Caller, storage: MemorySessionStorage, clock: Clock, shopify: Shopify) -> None:
    """Send the caller's reply in and carry out the operation it yields next."""
    try:
        if caller.error is not None:
            operation = caller.flow.throw(caller.error)
        else:
            operation = caller.flow.send(caller.reply)
    except StopIteration as finished:
        caller.done, caller.result = True, finished.value
        return
    except (TokenRefreshError, ReauthorizationRequiredError) as error:
        caller.done, caller.result = True, error
        return
    caller.reply, caller.error = None, None
    store = storage._lease_store
    if isinstance(operation, Read):
        caller.reply = store.read(operation.id)
    elif isinstance(operation, TakeLease):
        op = operation
        caller.reply = store.take_lease(op.snapshot, op.holder, op.expires_ms, op.now_ms)
    elif isinstance(operation, Refresh):
        caller.pending_refresh = operation.session
    elif isinstance(operation, StoreNewest):
        caller.reply = store.store_newest(operation.session, operation.holder)
    elif isinstance(operation, AskActive):
        caller.reply = operation.session.access_token == shopify.active
    elif isinstance(operation, StoreOver):
        caller.reply = store.store_over(operation.session, operation.latest)
    elif isinstance(operation, MarkDead):
        store.mark_dead(operation.snapshot)
    elif isinstance(operation, ReleaseLease):
        store.release_lease(operation.snapshot, operation.holder)
    elif isinstance(operation, Sleep):
        clock.now += timedelta(seconds=operation.seconds)


def _answer(caller: Caller, shopify: Shopify) -> None:
    session, caller.pending_refresh = caller.pending_refresh, None
    assert session is not None
    try:
        caller.reply = shopify.refresh(session)
    except ReauthorizationRequiredError as error:
        caller.error = error


@settings(max_examples=300, deadline=None)
@given(
    callers=st.integers(min_value=2, max_value=6),
    schedule=st.lists(st.integers(min_value=0, max_value=10_000), max_size=300),
)
def test_any_interleaving_keeps_the_newest_pair_and_one_refresh(
    callers: int, schedule: list[int]
) -> None:
    clock = Clock()
    shopify = Shopify(clock)
    storage = MemorySessionStorage()
    stored = Session(
        "offline_model.myshopify.com",
        "model.myshopify.com",
        "",
        False,
        "read_orders",
        START + timedelta(minutes=2),
        "at-0",
        "rt-0",
        START + timedelta(days=60),
    )
    storage.store_session(stored)
    flows = [
        Caller(
            fresh_session(
                stored.id,
                within=timedelta(minutes=5),
                lease=LEASE,
                wait_limit=LEASE + timedelta(seconds=10),
                rejected_token=None,
                holder=f"host:{n}",
                now=clock,
            )
        )
        for n in range(callers)
    ]
    choices = iter(schedule)
    lapsed = False
    for _ in range(20_000):
        movable = [c for c in flows if not c.done]
        if not movable:
            break
        choice = next(choices, None)
        caller = movable[(choice if choice is not None else 0) % len(movable)]
        if caller.pending_refresh is not None:
            lapsed |= clock.now - START >= LEASE
            _answer(caller, shopify)
        else:
            _step(caller, storage, clock, shopify)
    assert all(c.done for c in flows), "a caller never finished"

    results = [c.result for c in flows]
    assert not any(isinstance(r, ReauthorizationRequiredError) for r in results), results
    final = storage.load_session(stored.id)
    assert final is not None and final.access_token == shopify.active  # the newest pair won
    if not lapsed and clock.now - START < LEASE:
        assert shopify.calls == 1  # no lease could lapse: one refresh for everyone
    for result in results:
        if isinstance(result, Session):
            assert result.access_token in shopify.issued
        else:
            assert isinstance(result, TokenRefreshError)  # a waiter that gave up, nothing else
