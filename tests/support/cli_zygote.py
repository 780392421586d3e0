"""A fork server for ``python -m MODULE``: the interpreter's start-up and the module's imports
happen once, then every command runs in a fork of this process.

Started by ``tests/support/cli_process.py`` (see there) as ``python cli_zygote.py FD MODULE``,
with the environment and working directory of the commands it serves. Only the standard library
is imported here, besides what ``python -m MODULE`` itself imports before it runs
``MODULE.__main__``; the objects made so far are then frozen (``gc.freeze()``).

Protocol on the SOCK_SEQPACKET socket FD, one request at a time:

- zygote -> client: ``{"ready": true}`` once MODULE is imported;
- client -> zygote: ``{"args": [...], "env": {...}}`` with three file descriptors attached
  (SCM_RIGHTS): the command's stdin, stdout and stderr;
- zygote -> client: ``{"pid": PID}`` once forked, then ``{"exit": CODE}`` when the command has
  ended (CODE as subprocess's ``returncode``: negative for a signal).

In the fork, the descriptors become 0, 1 and 2 and every other one is closed (as subprocess's
``close_fds``); the environment becomes the request's (the client starts one zygote per
environment, so this changes no more than pytest's ``PYTEST_CURRENT_TEST``); the rest is
``python -m MODULE ARGS``: ``runpy`` runs ``MODULE.__main__`` as ``__main__``, and the
interpreter exits as it would (SystemExit; an uncaught exception's traceback on stderr; atexit
handlers; non-daemon threads joined). The zygote exits at EOF on its socket.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import socket
import sys
from typing import Any

_MAX_MESSAGE = 1 << 16


def _serve(sock: socket.socket) -> list[str] | None:
    """Answer requests until EOF (None); in a fork, return that command's arguments."""
    while True:
        message, fds, _flags, _address = socket.recv_fds(sock, _MAX_MESSAGE, 3)
        if not message:
            return None
        request: dict[str, Any] = json.loads(message)
        if len(fds) != 3:
            raise RuntimeError(f"expected stdin, stdout and stderr, got {len(fds)} descriptors")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            sock.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.environ.clear()
            os.environ.update(request["env"])
            return [str(arg) for arg in request["args"]]
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())


def _main() -> tuple[str, list[str]] | None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    module = sys.argv[2]
    # as `python -m`: the working directory, not this script's folder, leads sys.path
    sys.path[0] = os.getcwd()
    __import__(module)  # what `python -m MODULE` imports before it runs MODULE.__main__
    # Out of the collector's sight: a fork's collections would otherwise touch, and so copy,
    # every page these objects live on (half a fork's CPU time). They are not garbage anyway.
    gc.freeze()
    sock.send(json.dumps({"ready": True}).encode())
    args = _serve(sock)
    return None if args is None else (module, args)


if __name__ == "__main__":
    command = _main()
    if command is not None:
        module, args = command
        sys.argv = ["-m", *args]  # runpy puts the module's path first, as `python -m` does
        runpy._run_module_as_main(module, alter_argv=True)  # type: ignore[attr-defined]
