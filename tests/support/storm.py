"""Refresh storms: worker processes (threads in each) meeting one expired session at once.

Each worker process has its own storage and refresher (reaching the fake Shopify through a
real ``httpx.Client``), as separate hosts would. ``mode``:

- ``"fleet"``: ``storage.load_fresh_session`` (single flight, lease, newest pair wins);
- ``"unguarded"``: Node's ``ensureOfflineTokenIsNotExpired``: load, and when the token
  expires within 5 minutes, refresh and store with a plain PutItem.

Used by the storm tests and by ``python -m bench`` (token section).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

WITHIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    """What one worker thread got: the access token (or the error) and how long it waited."""

    token: str | None
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class FleetConfig:
    endpoint: str
    table: str
    fake_url: str
    client_id: str
    client_secret: str
    threads: int = 4
    timeout: float = 5.0
    lease: float = 10.0


def _worker(config: FleetConfig, commands: Any, results: Any, go: Any) -> None:
    import httpx

    from shopify_sessions import DynamoDBSessionStorage, ShopifyTokenRefresher
    from shopify_sessions.testing import LoopbackTransport

    storage = DynamoDBSessionStorage(config.table, host=config.endpoint)
    http = httpx.Client(transport=LoopbackTransport(config.fake_url))
    refresher = ShopifyTokenRefresher(
        config.client_id, config.client_secret, http_client=http, timeout=config.timeout
    )
    storage.load_session("warm-up")  # connect before the storm, as a long-running worker has
    results.put(("ready", None))
    while True:
        command = commands.get()
        if command is None:
            return
        mode, session_id = command
        outcomes: list[Outcome] = []
        lock = threading.Lock()
        one = _caller(storage, refresher, mode, session_id, config, go, outcomes, lock)
        threads = [threading.Thread(target=one) for _ in range(config.threads)]
        for thread in threads:
            thread.start()
        results.put(("armed", None))
        for thread in threads:
            thread.join()
        results.put(("done", outcomes))


def _caller(
    storage: Any,
    refresher: Any,
    mode: str,
    session_id: str,
    config: FleetConfig,
    go: Any,
    outcomes: list[Outcome],
    lock: threading.Lock,
) -> Any:
    """One worker thread's job: wait for the signal, get the session, note what it got."""

    def one() -> None:
        go.wait()
        started = time.monotonic()
        try:
            token = _get(storage, refresher, mode, session_id, config)
            outcome = Outcome(token, time.monotonic() - started)
        except Exception as error:  # reported to the parent, which asserts on it
            outcome = Outcome(None, time.monotonic() - started, type(error).__name__)
        with lock:
            outcomes.append(outcome)

    return one


def _get(storage: Any, refresher: Any, mode: str, session_id: str, config: FleetConfig) -> Any:
    if mode == "fleet":
        session = storage.load_fresh_session(
            session_id, refresher, lease=timedelta(seconds=config.lease)
        )
    else:
        session = storage.load_session(session_id)
        if session is not None and session.is_expired(WITHIN):
            session = refresher.refresh(session)
            storage.store_session(session)
    return session.access_token if session is not None else None


class Fleet:
    """``processes`` worker processes, started once and reused for many storms."""

    def __init__(self, config: FleetConfig, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.go = context.Event()
        self.results: Any = context.Queue()
        self.commands = [context.Queue() for _ in range(processes)]
        self.processes = [
            context.Process(target=_worker, args=(config, commands, self.results, self.go))
            for commands in self.commands
        ]
        for process in self.processes:
            process.start()
        self._expect("ready")

    def storm(self, mode: str, session_id: str) -> list[Outcome]:
        """Every thread of every process asks for the session at the same moment."""
        self.go.clear()
        for commands in self.commands:
            commands.put((mode, session_id))
        self._expect("armed")
        self.go.set()
        outcomes: list[Outcome] = []
        for batch in self._expect("done"):
            outcomes.extend(batch)
        return outcomes

    def _expect(self, kind: str, timeout: float = 60.0) -> list[Any]:
        got = []
        for _ in self.processes:
            try:
                what, value = self.results.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(f"storm workers did not report {kind!r} in time") from None
            if what != kind:
                raise RuntimeError(f"storm worker reported {what!r}, expected {kind!r}")
            got.append(value)
        return got

    def close(self) -> None:
        for commands in self.commands:
            commands.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


@contextmanager
def fleet(config: FleetConfig, processes: int = 4) -> Iterator[Fleet]:
    running = Fleet(config, processes)
    try:
        yield running
    finally:
        running.close()


def _holder(config: FleetConfig, session_id: str) -> None:
    """One caller in a process of its own (to be killed while its refresh is in flight)."""
    import httpx

    from shopify_sessions import DynamoDBSessionStorage, ShopifyTokenRefresher
    from shopify_sessions.testing import LoopbackTransport

    storage = DynamoDBSessionStorage(config.table, host=config.endpoint)
    http = httpx.Client(transport=LoopbackTransport(config.fake_url))
    refresher = ShopifyTokenRefresher(
        config.client_id, config.client_secret, http_client=http, timeout=config.timeout
    )
    _get(storage, refresher, "fleet", session_id, config)


def start_holder(config: FleetConfig, session_id: str) -> Any:
    """A process that takes the lease and calls Shopify; the caller kills it."""
    process = multiprocessing.get_context("spawn").Process(
        target=_holder, args=(config, session_id)
    )
    process.start()
    return process
