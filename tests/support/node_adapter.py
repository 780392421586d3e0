"""Drive Shopify's real Node DynamoDB session adapter from Python tests.

Spawns ``node tests/interop/adapter_cli.mjs`` and talks JSON Lines to it (see that
file for the protocol). Sessions cross the pipe in the Node item's plain JSON form:
camelCase keys, dates as ISO-8601 strings, absent keys absent. Only the standard
library is used here.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, final

from .dynalite import INTEROP_DIR, new_log, node_available, read_tail, stop_process

__all__ = [
    "ADAPTER_CLI",
    "INTEROP_DIR",
    "NodeAdapter",
    "NodeAdapterError",
    "NodeTable",
    "node_available",
]

ADAPTER_CLI: Path = INTEROP_DIR / "adapter_cli.mjs"
REQUEST_TIMEOUT_S = 60.0
_STDERR_TAIL_BYTES = 8000


class NodeAdapterError(RuntimeError):
    """The Node adapter answered ``ok: false``, or the Node process failed.

    For an ``ok: false`` answer, ``str(error)`` is exactly the message Node reported.
    ``stderr`` holds the tail of the Node process's stderr at the time of the error.
    """

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


@final
class NodeAdapter:
    """A running ``adapter_cli.mjs`` bound to one endpoint, table and shop index."""

    def __init__(
        self,
        endpoint_url: str,
        table: str = "shopify_sessions",
        index: str = "shop_index",
        *,
        region: str = "us-east-1",
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        reason = node_available()
        if reason is not None:
            raise NodeAdapterError(reason)
        node = shutil.which("node")
        if node is None:  # pragma: no cover - node_available() checked it
            raise NodeAdapterError("node is not on PATH")
        self.endpoint_url = endpoint_url
        self.table = table
        self.index = index
        self.timeout = timeout
        self._lock = threading.Lock()
        self._next_rid = 0
        self._closed = False
        self._failed: str | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: IO[bytes] = new_log("adapter-cli-stderr-")
        cmd = [
            node,
            str(ADAPTER_CLI),
            "--endpoint",
            endpoint_url,
            "--region",
            region,
            "--table",
            table,
            "--index",
            index,
        ]
        self._proc: subprocess.Popen[str] = subprocess.Popen(
            cmd,
            cwd=INTEROP_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._reader = threading.Thread(
            target=self._read_stdout, name="adapter-cli-stdout", daemon=True
        )
        self._reader.start()
        try:
            ready = self._next_message(time.monotonic() + timeout, "startup")
            if ready != {"ready": True}:
                raise self._process_error(f"expected {{'ready': true}} first, got {ready!r}")
        except BaseException:
            self.close()
            raise

    # -- adapter operations ------------------------------------------------------

    def store(self, obj: Mapping[str, Any]) -> bool:
        """``storeSession(new Session(obj))``."""
        return bool(self.request({"op": "store", "session": obj})["result"])

    def load(
        self,
        session_id: str,
        expect: Mapping[str, Any] | None = None,
        *,
        table: str | None = None,
    ) -> tuple[dict[str, Any] | None, bool | None]:
        """``loadSession(id)`` as plain JSON and ``loaded.equals(new Session(expect))``.

        The second item is None when ``expect`` is None. ``table``: through an adapter on that
        table instead of this one's (same index and endpoint).
        """
        req: dict[str, Any] = {"op": "load", "id": session_id}
        if expect is not None:
            req["expect"] = expect
        if table is not None:
            req["table"] = table
        resp = self.request(req)
        return resp["result"], resp["equals"]

    def find(self, shop: str) -> list[str]:
        """Ids of ``findSessionsByShop(shop)``, in the order Node returned them."""
        result: list[str] = self.request({"op": "find", "shop": shop})["result"]
        return result

    def delete(self, session_id: str) -> bool:
        """``deleteSession(id)``."""
        return bool(self.request({"op": "delete", "id": session_id})["result"])

    def delete_many(self, ids: Sequence[str]) -> bool:
        """``deleteSessions(ids)``."""
        return bool(self.request({"op": "deleteMany", "ids": list(ids)})["result"])

    def timed(
        self,
        what: str,
        args: Mapping[str, Any],
        repeat: int = 1,
        *,
        timeout: float | None = None,
    ) -> tuple[Any, list[float]]:
        """Run ``what`` ``repeat`` times inside Node.

        ``what`` is store, load, find, delete or deleteMany; ``args`` are that
        operation's request fields (e.g. ``{"shop": ...}`` for find). Returns the last
        result and Node's own ``performance.now()`` milliseconds per repetition.
        """
        resp = self.request(
            {"op": "timed", "what": what, "args": args, "repeat": repeat},
            timeout=timeout,
        )
        return resp["result"], [float(ms) for ms in resp["ms"]]

    def on_table(self, table: str) -> NodeTable:
        """This process's adapter operations on another table (same endpoint and index)."""
        return NodeTable(self, table)

    def create_table(self) -> None:
        """Create the table as the Node adapter's README has it; wait until ACTIVE."""
        self.request({"op": "createTable"})

    # -- plumbing ----------------------------------------------------------------

    def request(self, req: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """Send one request; return its ``ok: true`` response, else raise."""
        limit = self.timeout if timeout is None else timeout
        with self._lock:
            if self._closed:
                raise NodeAdapterError("NodeAdapter is closed")
            if self._failed is not None:
                raise self._process_error(f"NodeAdapter is unusable: {self._failed}")
            self._next_rid += 1
            rid = self._next_rid
            line = json.dumps({**req, "rid": rid}, separators=(",", ":"))
            stdin = self._proc.stdin
            if stdin is None:  # pragma: no cover - always a pipe
                raise self._process_error("node's stdin is not a pipe")
            try:
                stdin.write(line + "\n")
                stdin.flush()
            except OSError as exc:
                code = self._proc.poll()
                raise self._process_error(
                    f"cannot write to node (exit code {code}): {exc}"
                ) from exc
            op = str(req.get("op"))
            deadline = time.monotonic() + limit
            while True:
                resp = self._next_message(deadline, op)
                if resp.get("rid") == rid:
                    break
                # A response without our rid is not ours; skip it.
        if resp.get("ok") is not True:
            raise NodeAdapterError(str(resp.get("error", resp)), self.stderr_text())
        return resp

    def stderr_text(self) -> str:
        """The tail of everything Node has written to stderr so far."""
        try:
            return read_tail(self._stderr, _STDERR_TAIL_BYTES)
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        """Stop the Node process (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        stdin = self._proc.stdin
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop_process(self._proc)
        self._reader.join(timeout=5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> NodeAdapter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read_stdout(self) -> None:
        stdout = self._proc.stdout
        try:
            if stdout is not None:
                for line in stdout:
                    self._lines.put(line)
        except (OSError, ValueError):
            pass
        finally:
            self._lines.put(None)

    def _next_message(self, deadline: float, op: str) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        try:
            line = self._lines.get(timeout=max(remaining, 0.0))
        except queue.Empty:
            # The process is in an unknown state: stop it rather than reuse it.
            self._failed = f"no response to {op!r} in time; node process stopped"
            stop_process(self._proc)
            raise self._process_error(self._failed) from None
        if line is None:
            self._lines.put(None)  # keep reporting EOF to later calls
            code = self._proc.wait()
            self._failed = f"node exited (code {code}) while waiting for {op!r}"
            raise self._process_error(self._failed)
        try:
            msg = json.loads(line)
        except json.JSONDecodeError as exc:
            raise self._process_error(f"non-JSON line on node's stdout: {line!r}") from exc
        if not isinstance(msg, dict):
            raise self._process_error(f"non-object JSON on node's stdout: {line!r}")
        return msg

    def _process_error(self, message: str) -> NodeAdapterError:
        stderr = self.stderr_text()
        return NodeAdapterError(f"{message}\n--- node stderr ---\n{stderr or '(empty)'}", stderr)


@final
class NodeTable:
    """``store`` and ``load`` of a running ``NodeAdapter``, on a table of the caller's choice."""

    def __init__(self, adapter: NodeAdapter, table: str) -> None:
        self.adapter, self.table = adapter, table

    def store(self, obj: Mapping[str, Any]) -> bool:
        """``storeSession(new Session(obj))``."""
        request = {"op": "store", "session": obj, "table": self.table}
        return bool(self.adapter.request(request)["result"])

    def load(
        self, session_id: str, expect: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any] | None, bool | None]:
        """``loadSession(id)`` and ``loaded.equals(new Session(expect))``, as ``NodeAdapter``."""
        return self.adapter.load(session_id, expect, table=self.table)
