"""The HTTP side of the local endpoint: moto's DynamoDB, served to this machine's programs only.

moto's own server answers CORS preflights for any origin, checks no signature, and serves
``/moto-api/`` (a state dump, and a reset that deletes every table): any web page open in a
developer's browser could read or wipe the sessions of a local store. :class:`DynamoOnly`
stands in front of it and passes only DynamoDB API calls (``POST /`` with a
``DynamoDB_20120810.*`` target) that come from a program, not a page: requests carrying an
``Origin`` header (browsers send one with every cross-origin and every POST request) and
requests whose ``Host`` is not a loopback name (DNS rebinding) are refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["WRITE_ACTIONS", "DynamoOnly", "GuardedServer"]

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
TARGET_PREFIX = "DynamoDB_20120810."
WRITE_ACTIONS = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _host_name(host: str) -> str:
    """``127.0.0.1:8000`` -> ``127.0.0.1``; ``[::1]:8000`` -> ``[::1]``."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0].lower()


def _refuse(start_response: StartResponse, status: str, why: str) -> list[bytes]:
    body = f'{{"__type": "AccessDeniedException", "message": "{why}"}}'.encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


class DynamoOnly:
    """WSGI middleware: only DynamoDB API calls from local programs reach ``app``.

    ``on_write`` is called after each request that may change data (the saver's cue).
    """

    def __init__(self, app: WsgiApp, on_write: Callable[[], None] | None = None) -> None:
        self.app = app
        self.on_write = on_write

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_ORIGIN") is not None or environ.get("REQUEST_METHOD") == "OPTIONS":
            return _refuse(start_response, "403 Forbidden", "requests from web pages are refused")
        if _host_name(str(environ.get("HTTP_HOST", ""))) not in LOOPBACK_NAMES:
            return _refuse(start_response, "403 Forbidden", "only loopback host names are served")
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO", "/") != "/"
            or not target.startswith(TARGET_PREFIX)
        ):
            return _refuse(start_response, "404 Not Found", "only the DynamoDB API is served here")
        result = self.app(environ, start_response)
        if self.on_write is not None and target[len(TARGET_PREFIX) :] in WRITE_ACTIONS:
            self.on_write()
        return result


class GuardedServer:
    """moto's DynamoDB behind :class:`DynamoOnly`, on 127.0.0.1, in a daemon thread.

    The same pieces moto's ``ThreadedMotoServer`` uses (its Flask dispatcher and request
    handler, werkzeug's threaded server), with the guard in between.
    """

    def __init__(self, port: int, on_write: Callable[[], None] | None = None) -> None:
        self.port = port
        self.on_write = on_write
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        from moto.moto_server import werkzeug_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        DomainDispatcherApplication = werkzeug_app.DomainDispatcherApplication
        create_backend_app = werkzeug_app.create_backend_app
        # moto 5.2 added its own handler (header spelling for S3); 5.1 uses werkzeug's
        MotoRequestHandler = getattr(werkzeug_app, "MotoRequestHandler", WSGIRequestHandler)

        app = DynamoOnly(DomainDispatcherApplication(create_backend_app), self.on_write)
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="shopify-sessions-local", daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
