"""Run ``python -m shopify_sessions.cli ARGS`` as a process of its own, without paying for the
interpreter's start-up and the CLI's imports on every command.

Most of a short command's CPU time is importing (botocore, PynamoDB, click, rich): about 0.3 s of
0.5 s, for some 90 commands in the suite. ``run_cli`` keeps a fork server (``cli_zygote.py``) that
did those imports once, started with the environment and working directory of the commands it
serves: a command with another environment gets a new zygote (only ``PYTEST_CURRENT_TEST``, which
pytest changes with every test phase, may differ; the fork is given the exact environment), so
what the package reads from the environment at import time is what a fresh process would read.
Each command is a fork of the zygote: its own pid, stdin, stdout and stderr, exit code, and an
interpreter exit as usual.

What a fork does not repeat: the interpreter's start-up and those imports (tests that start the
CLI with ``subprocess`` still do: the console script, ``serve-local``, the terminal prompts, a
command stopped by SIGINT, the missing extras). What differs: every fork shares its zygote's hash
seed, and the objects the imports made are frozen out of the garbage collector's sight
(``gc.freeze()``, so that forks do not copy their pages). A forked command costs ~0.05-0.15 s of
CPU instead of ~0.35-0.5 s.
``SHOPIFY_SESSIONS_TEST_FRESH_CLI=1`` starts a fresh interpreter for every command instead.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from .dynalite import new_log, read_tail, stop_process

MODULE = "shopify_sessions.cli"
CLI = [sys.executable, "-m", MODULE]
FRESH_ENV = "SHOPIFY_SESSIONS_TEST_FRESH_CLI"
ZYGOTE_SCRIPT = Path(__file__).resolve().parent / "cli_zygote.py"
START_TIMEOUT_S = 60.0


class _Zygote:
    """One running ``cli_zygote.py`` for one environment and working directory."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.env, self.cwd = env, cwd
        self._log: IO[bytes] = new_log("cli-zygote-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, str(ZYGOTE_SCRIPT), str(theirs.fileno()), MODULE],
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                pass_fds=[theirs.fileno()],
            )
        try:
            ready = self._receive(time.monotonic() + START_TIMEOUT_S)
            if ready != {"ready": True}:
                raise RuntimeError(f"expected ready, got {ready!r}")
        except BaseException:
            self.close()
            raise

    def matches(self, env: dict[str, str], cwd: str) -> bool:
        return _key(env) == _key(self.env) and cwd == self.cwd and self._process.poll() is None

    def run(
        self, args: list[str], env: dict[str, str], stdin: str | None, timeout: float
    ) -> tuple[int, bytes, bytes]:
        """Fork one command; its exit code, stdout and stderr (TimeoutExpired after timeout)."""
        deadline = time.monotonic() + timeout
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin is not None else (None, None)
        try:
            child_stdin = in_r if in_r is not None else _inherited_stdin()
            socket.send_fds(
                self._sock,
                [json.dumps({"args": args, "env": env}).encode()],
                [child_stdin, out_w, err_w],
            )
        finally:
            for fd in (in_r, out_w, err_w):
                if fd is not None:
                    os.close(fd)
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        threads = [threading.Thread(target=_drain, args=(fd, chunks[fd])) for fd in chunks]
        if in_w is not None:
            assert stdin is not None
            threads.append(threading.Thread(target=_feed, args=(in_w, stdin.encode())))
        for thread in threads:
            thread.start()
        pid: int | None = None
        try:
            pid = int(self._receive(deadline)["pid"])
            code = int(self._receive(deadline)["exit"])
        except TimeoutError:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.close()  # its answer is still due: start afresh next time
            for thread in threads:
                thread.join(timeout=5)
            raise subprocess.TimeoutExpired(
                [*CLI, *args], timeout, b"".join(chunks[out_r]), b"".join(chunks[err_r])
            ) from None
        for thread in threads:
            thread.join()
        return code, b"".join(chunks[out_r]), b"".join(chunks[err_r])

    def _receive(self, deadline: float) -> dict[str, Any]:
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        message = self._sock.recv(1 << 16)  # TimeoutError at the deadline
        if not message:
            code = self._process.wait()
            raise RuntimeError(
                f"the CLI zygote exited ({code}): {read_tail(self._log).strip() or '(no output)'}"
            )
        answer: dict[str, Any] = json.loads(message)
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()  # EOF: the zygote exits
        stop_process(self._process)
        self._log.close()


def _inherited_stdin() -> int:
    """Our stdin, as subprocess leaves it to a child given none (/dev/null if we have none)."""
    try:
        os.fstat(0)
    except OSError:
        global _devnull
        if _devnull is None:
            _devnull = os.open(os.devnull, os.O_RDONLY)
        return _devnull
    return 0


_devnull: int | None = None


def _drain(fd: int, into: list[bytes]) -> None:
    with open(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(1 << 16):
            into.append(chunk)


def _feed(fd: int, data: bytes) -> None:
    with open(fd, "wb") as pipe, contextlib.suppress(BrokenPipeError):
        pipe.write(data)


def _text(data: bytes) -> str:
    """As ``subprocess.run(text=True)`` decodes: the locale's encoding, universal newlines."""
    return io.TextIOWrapper(io.BytesIO(data)).read()


def _key(env: dict[str, str]) -> dict[str, str]:
    """What a zygote must have been started with: the environment but pytest's own marker,
    which changes with every test phase (the fork gets the exact environment)."""
    return {name: value for name, value in env.items() if name != "PYTEST_CURRENT_TEST"}


_zygote: _Zygote | None = None
_lock = threading.Lock()


def _close() -> None:
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


atexit.register(_close)


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([*CLI, *args], env=env, input=stdin, capture_output=True, text=True,
    timeout=timeout)``, forked from a zygote unless ``SHOPIFY_SESSIONS_TEST_FRESH_CLI`` is set."""
    global _zygote
    if os.environ.get(FRESH_ENV):
        return subprocess.run(
            [*CLI, *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    with _lock:
        cwd = os.getcwd()
        if _zygote is None or not _zygote.matches(env, cwd):
            _close()  # one at a time: each holds the CLI's imports in memory
            _zygote = _Zygote(dict(env), cwd)
        code, out, err = _zygote.run(args, env, stdin, timeout)
    return subprocess.CompletedProcess([*CLI, *args], code, _text(out), _text(err))


def serve_local(
    port: int, data: Path, env: dict[str, str], *, wait: bool = True
) -> subprocess.Popen[str]:
    """``serve-local --port PORT --data DATA`` as a process of its own (a real interpreter: it
    is stopped by signals). With ``wait``, returned once its banner says it serves."""
    server = subprocess.Popen(
        [*CLI, "serve-local", "--port", str(port), "--data", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if not wait:
        return server
    assert server.stdout is not None
    banner = []
    for line in server.stdout:  # ends when the server exits early
        banner.append(line)
        if "AWS_ENDPOINT_URL_DYNAMODB=" in line:
            break
    assert f"export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:{port}" in map(str.strip, banner), (
        banner,
        server.stderr.read() if server.poll() is not None and server.stderr else "",
    )
    return server


def stop_serving(server: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a developer stops it; its output (it must exit 0, with no traceback)."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
    out, err = server.communicate(timeout=60)
    assert server.returncode == 0, (out, err)
    assert "Traceback" not in err, err
    return out
