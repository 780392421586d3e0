"""Run a throwaway in-memory dynalite (DynamoDB-compatible) server for tests.

dynalite comes from ``tests/interop/node_modules`` (``npm ci`` in ``tests/interop``).
Only the standard library is used here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

INTEROP_DIR: Path = Path(__file__).resolve().parent.parent / "interop"
NODE_MODULES: Path = INTEROP_DIR / "node_modules"
DYNALITE_CLI: Path = NODE_MODULES / "dynalite" / "cli.js"
# idle connections kept 120 s, not Node's 5 s (see the file): no reset-and-retry races
LONG_KEEP_ALIVE: Path = Path(__file__).resolve().parent / "long_keep_alive.cjs"
ADAPTER_PACKAGE: Path = NODE_MODULES / "@shopify" / "shopify-app-session-storage-dynamodb"

HOST = "127.0.0.1"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
# dynalite keeps tables CREATING/DELETING/UPDATING for 500 ms by default; 0: instant.
_STATE_DELAY_ARGS = (
    "--createTableMs",
    "0",
    "--deleteTableMs",
    "0",
    "--updateTableMs",
    "0",
)
_PORT_ATTEMPTS = 3
_LISTENING_BANNER = "Dynalite listening at"


class DynaliteError(RuntimeError):
    """dynalite could not be started."""


def node_available() -> str | None:
    """Return why the Node side of the tests cannot run, or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if shutil.which("npm") is None:
        return "npm is not on PATH"
    if not NODE_MODULES.is_dir():
        return f"{NODE_MODULES} is missing: run `npm ci` in {INTEROP_DIR}"
    for needed in (DYNALITE_CLI, ADAPTER_PACKAGE):
        if not needed.exists():
            return f"{needed} is missing: run `npm ci` in {INTEROP_DIR}"
    return None


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise DynaliteError("node is not on PATH")
    return node


def free_port(host: str = HOST) -> int:
    """A port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_tail(log: IO[bytes], limit: int = 4000) -> str:
    """The last ``limit`` bytes of a log file a child process writes to.

    Reads with ``os.pread`` so the offset the child shares is never moved.
    """
    fd = log.fileno()
    size = os.fstat(fd).st_size
    start = max(size - limit, 0)
    return os.pread(fd, size - start, start).decode("utf-8", errors="replace")


def new_log(prefix: str) -> IO[bytes]:
    """An anonymous temporary file for a child's output, opened in append mode."""
    return tempfile.TemporaryFile(mode="a+b", prefix=prefix)


def _read_log(log: IO[bytes]) -> str:
    return read_tail(log).strip() or "(no output)"


def stop_process(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT_S) -> None:
    """Terminate ``proc``; kill it if it has not stopped within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start(port: int, log: IO[bytes], timeout: float) -> subprocess.Popen[bytes]:
    """Start dynalite on ``port``; return it once the port accepts connections."""
    cmd = [
        _node(),
        "--require",
        str(LONG_KEEP_ALIVE),
        str(DYNALITE_CLI),
        "--port",
        str(port),
        "--host",
        HOST,
        *_STATE_DELAY_ARGS,
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=INTEROP_DIR,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DynaliteError(
                f"dynalite exited with code {proc.returncode} before listening on "
                f"{HOST}:{port}; its output:\n{_read_log(log)}"
            )
        # Its banner proves dynalite itself holds the port (not some other listener).
        if _LISTENING_BANNER in read_tail(log) and _accepts_connections(HOST, port):
            return proc
        if time.monotonic() > deadline:
            stop_process(proc)
            raise DynaliteError(
                f"dynalite did not accept connections on {HOST}:{port} "
                f"within {timeout:g} s; its output:\n{_read_log(log)}"
            )
        time.sleep(0.05)


def _start_on_free_port(log: IO[bytes], timeout: float) -> tuple[int, subprocess.Popen[bytes]]:
    attempt = 1
    while True:
        port = free_port()
        try:
            return port, _start(port, log, timeout)
        except DynaliteError as exc:
            # Another process may have taken the port between probing and binding.
            if "EADDRINUSE" not in str(exc) or attempt >= _PORT_ATTEMPTS:
                raise
        attempt += 1
        log.truncate(0)


@contextmanager
def run_dynalite(timeout: float = START_TIMEOUT_S) -> Iterator[str]:
    """Run an in-memory dynalite on a free 127.0.0.1 port; yield its endpoint URL.

    The server is terminated on exit (killed if it does not stop within 5 s).
    """
    reason = node_available()
    if reason is not None:
        raise DynaliteError(reason)
    with new_log("dynalite-") as log:
        port, proc = _start_on_free_port(log, timeout)
        try:
            yield f"http://{HOST}:{port}"
        finally:
            stop_process(proc)
