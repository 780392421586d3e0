"""Refresh storms: worker processes (threads, or asyncio tasks, in each) meeting one expired
session at once.

Each worker process has its own storage and refresher (reaching the fake Shopify through a
real ``httpx.Client``), as separate hosts would; with ``FleetConfig(runtime="asyncio")`` its
callers are tasks of one event loop on an ``AsyncDynamoDBSessionStorage`` and an
``AsyncShopifyTokenRefresher`` (``httpx.AsyncClient``), "fleet" mode only. ``mode``:

- ``"fleet"``: ``storage.load_fresh_session`` (single flight, lease, newest pair wins);
- ``"unguarded"``: Node's ``ensureOfflineTokenIsNotExpired``: load, and when the token
  expires within 5 minutes, refresh and store with a plain PutItem.

Used by the storm tests and by ``python -m bench`` (token section).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

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
    threads: int = 4  # callers per process: threads, or asyncio tasks (``runtime``)
    timeout: float = 5.0
    lease: float = 10.0
    runtime: Literal["threads", "asyncio"] = "threads"


def _clients(config: FleetConfig, asynchronous: bool = False) -> tuple[Any, Any, Any]:
    """One host's storage, refresher and the refresher's HTTP client (to the fake Shopify over
    a real socket): the blocking ones, or the asyncio ones."""
    import httpx

    from shopify_sessions import (
        AsyncDynamoDBSessionStorage,
        AsyncShopifyTokenRefresher,
        DynamoDBSessionStorage,
        ShopifyTokenRefresher,
    )
    from shopify_sessions.testing import AsyncLoopbackTransport, LoopbackTransport

    storage: Any
    http: Any
    if asynchronous:
        storage = AsyncDynamoDBSessionStorage(config.table, host=config.endpoint)
        http = httpx.AsyncClient(transport=AsyncLoopbackTransport(config.fake_url))
        refresher_class: Any = AsyncShopifyTokenRefresher
    else:
        storage = DynamoDBSessionStorage(config.table, host=config.endpoint)
        http = httpx.Client(transport=LoopbackTransport(config.fake_url))
        refresher_class = ShopifyTokenRefresher
    refresher = refresher_class(
        config.client_id, config.client_secret, http_client=http, timeout=config.timeout
    )
    return storage, refresher, http


def _worker(config: FleetConfig, commands: Any, results: Any, go: Any) -> None:
    callers = _Tasks(config) if config.runtime == "asyncio" else _Threads(config)
    results.put(("ready", None))
    try:
        while (command := commands.get()) is not None:
            mode, session_id = command
            outcomes = callers.storm(mode, session_id, go, lambda: results.put(("armed", None)))
            results.put(("done", outcomes))
    finally:
        callers.close()


class _Noted:
    """Times one caller's call (``noted.token = ...`` inside) and notes its outcome; an error
    is noted by its type's name (the parent asserts on it), not raised."""

    def __init__(self, outcomes: list[Outcome], lock: threading.Lock) -> None:
        self.outcomes = outcomes
        self.lock = lock
        self.token: str | None = None

    def __enter__(self) -> _Noted:
        self.started = time.monotonic()
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> bool:
        seconds = time.monotonic() - self.started
        name = None if kind is None else kind.__name__
        with self.lock:
            self.outcomes.append(Outcome(self.token if name is None else None, seconds, name))
        return isinstance(error, Exception)


class _Threads:
    """A worker's callers as threads sharing one blocking storage and refresher."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.storage, self.refresher, _ = _clients(config)
        self.storage.load_session("warm-up")  # connect before the storm, as a running worker has

    def storm(self, mode: str, session_id: str, go: Any, armed: Any) -> list[Outcome]:
        outcomes: list[Outcome] = []
        lock = threading.Lock()

        def one() -> None:
            go.wait()
            with _Noted(outcomes, lock) as noted:
                noted.token = _get(self.storage, self.refresher, mode, session_id, self.config)

        threads = [threading.Thread(target=one) for _ in range(self.config.threads)]
        for thread in threads:
            thread.start()
        armed()
        for thread in threads:
            thread.join()
        return outcomes

    def close(self) -> None:
        pass


class _Tasks:
    """A worker's callers as asyncio tasks of one event loop, sharing one async storage and
    refresher ("fleet" mode only: ``Fleet.storm`` refuses the others)."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.storage, self.refresher, self.http = _clients(config, asynchronous=True)
        self.loop.run_until_complete(self.storage.load_session("warm-up"))

    def storm(self, mode: str, session_id: str, go: Any, armed: Any) -> list[Outcome]:
        return self.loop.run_until_complete(self._storm(session_id, go, armed))

    async def _storm(self, session_id: str, go: Any, armed: Any) -> list[Outcome]:
        outcomes: list[Outcome] = []
        lock = threading.Lock()
        lease = timedelta(seconds=self.config.lease)

        async def one() -> None:
            with _Noted(outcomes, lock) as noted:
                got = await self.storage.load_fresh_session(session_id, self.refresher, lease=lease)
                noted.token = got.access_token if got is not None else None

        armed()
        await asyncio.to_thread(go.wait)  # then every task starts in the same loop turn
        await asyncio.gather(*(one() for _ in range(self.config.threads)))
        return outcomes

    def close(self) -> None:
        self.loop.run_until_complete(self.storage.close())
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


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
        self.runtime = config.runtime
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
        """Every caller of every process asks for the session at the same moment."""
        if mode != "fleet" and self.runtime != "threads":
            raise ValueError(f"{mode!r} storms run on threads only")
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
    storage, refresher, _ = _clients(config)
    _get(storage, refresher, "fleet", session_id, config)


def start_holder(config: FleetConfig, session_id: str) -> Any:
    """A process that takes the lease and calls Shopify; the caller kills it."""
    process = multiprocessing.get_context("spawn").Process(
        target=_holder, args=(config, session_id)
    )
    process.start()
    return process
