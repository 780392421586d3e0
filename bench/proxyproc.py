"""``DynamoProxy`` in a child process, so its threads never share the bench's GIL.

In the bench's own process the proxy's handler threads would compete with the Python client's
threads for the GIL (and show up in tracemalloc), which the Node side would not pay.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Protocol

from tests.support.proxy import DynamoProxy

MAX_LIFETIME_S = 3600.0
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0


class CountingProxy(Protocol):
    """What the bench needs of a proxy: an endpoint and per-operation counts."""

    @property
    def endpoint(self) -> str: ...
    @property
    def counts(self) -> Counter[str]: ...
    def reset(self) -> None: ...
    def stop(self) -> None: ...


def _serve(upstream: str, conn: Connection) -> None:
    with DynamoProxy(upstream) as proxy:
        conn.send(proxy.endpoint)
        deadline = time.monotonic() + MAX_LIFETIME_S
        while time.monotonic() < deadline:
            if not conn.poll(1.0):
                continue
            try:
                command = conn.recv()
            except EOFError:  # the bench went away
                return
            if command == "counts":
                conn.send(dict(proxy.counts))
            elif command == "reset":
                proxy.reset()
                conn.send(None)
            else:  # "stop"
                conn.send(None)
                return


class ProxyProcess:
    """A ``DynamoProxy`` to ``upstream`` running in a spawned child process."""

    def __init__(self, upstream: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(upstream, child), name="dynamo-proxy", daemon=True
        )
        self._process.start()
        child.close()
        self.endpoint: str = self._call(None, START_TIMEOUT_S)

    def _call(self, command: str | None, timeout: float = CALL_TIMEOUT_S) -> Any:
        if command is not None:
            self._conn.send(command)
        if not self._conn.poll(timeout):
            self.stop()
            raise RuntimeError(f"proxy process did not answer {command!r} in {timeout:g} s")
        return self._conn.recv()

    @property
    def counts(self) -> Counter[str]:
        return Counter(self._call("counts"))

    def reset(self) -> None:
        self._call("reset")

    def stop(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send("stop")
                self._conn.poll(5)
            except (OSError, EOFError):
                pass
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
        self._conn.close()

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def counting_proxy(upstream: str, mode: str) -> Iterator[CountingProxy]:
    """A counting proxy to ``upstream``, in a child process (``"process"``) or a thread."""
    proxy: CountingProxy = (
        ProxyProcess(upstream) if mode == "process" else DynamoProxy(upstream).start()
    )
    try:
        yield proxy
    finally:
        proxy.stop()
