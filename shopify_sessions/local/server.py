"""The HTTP side of the local endpoint: moto's DynamoDB, served to this machine's programs only.

moto's own server answers CORS preflights for any origin, checks no signature, serves
``/moto-api/`` (a state dump, and a reset that deletes every table), and routes each request to
whichever of its hundred services the request's signature names: any web page open in a
developer's browser could read or wipe the sessions of a local store, and a local program
could use it as S3 or SQS. :class:`DynamoOnly` stands in front of moto's DynamoDB alone and
passes only DynamoDB API calls (``POST /`` with a ``DynamoDB_20120810.*`` target, signed for
``dynamodb``) that come from a program, not a page: requests carrying an ``Origin`` header
(browsers send one with every cross-origin and every POST request) and requests whose ``Host``
is not a loopback name (DNS rebinding) are refused; a request for another service gets the 400
DynamoDB itself would answer.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = ["WRITE_ACTIONS", "DynamoOnly", "GuardedServer"]

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
TARGET_PREFIX = "DynamoDB_20120810."
SERVICE: Final = "dynamodb"  # the service a request's SigV4 credential scope must name
WRITE_ACTIONS = frozenset(
    {
        "UpdateTimeToLive",
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


def _refuse(
    start_response: StartResponse, status: str, why: str, error: str = "AccessDeniedException"
) -> list[bytes]:
    """An error as DynamoDB words it: botocore reads ``__type``'s last part as the code."""
    body = json.dumps({"__type": f"com.amazon.coral.service#{error}", "message": why}).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


def _not_dynamodb(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Why a request names another service than DynamoDB (an error code and its message),
    or ``None``. moto would route it by its signature's credential scope, so that is checked
    first, then the target."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", "")).strip()
    if not authorization:
        return "MissingAuthenticationTokenException", "Request is missing Authentication Token"
    algorithm, _, rest = authorization.partition(" ")
    credential = rest.split(",", 1)[0].strip()
    scope = credential.removeprefix("Credential=").split("/")
    if (
        algorithm != "AWS4-HMAC-SHA256"
        or not credential.startswith("Credential=")
        or len(scope) != 5
    ):
        return (
            "InvalidSignatureException",
            "only requests signed with AWS Signature Version 4 (SigV4) are served",
        )
    if scope[3] != SERVICE:
        return (
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'. "
            f"This endpoint serves DynamoDB only, not {scope[3][:40]!r}.",
        )
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if not target.startswith(TARGET_PREFIX):
        shown = target[:80] or "(no X-Amz-Target)"
        return "UnknownOperationException", f"{shown} is not a DynamoDB operation"
    return None


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
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO", "/") != "/":
            return _refuse(start_response, "404 Not Found", "only the DynamoDB API is served here")
        refused = _not_dynamodb(environ)
        if refused is not None:
            error, why = refused
            return _refuse(start_response, "400 Bad Request", why, error)
        target = str(environ["HTTP_X_AMZ_TARGET"])
        result = self.app(environ, start_response)
        if self.on_write is not None and target[len(TARGET_PREFIX) :] in WRITE_ACTIONS:
            self.on_write()
        return result


class GuardedServer:
    """moto's DynamoDB behind :class:`DynamoOnly`, on 127.0.0.1, in a daemon thread.

    The same pieces moto's ``ThreadedMotoServer`` uses (its Flask app and request handler,
    werkzeug's threaded server), with the guard in between and moto's DynamoDB app alone
    behind it (never its dispatcher to every service).
    """

    def __init__(self, port: int, on_write: Callable[[], None] | None = None) -> None:
        self.port = port
        self.on_write = on_write
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, prepare: Callable[[str], None] | None = None) -> tuple[str, int]:
        """Serve on ``port``; ``prepare(url)`` runs first, on a private port.

        The port is bound at once (so it is ours, and a busy one fails here, clearly) but
        accepts connections only once ``prepare`` (creating the table, loading data) is
        done: a client that waits for the port never meets a missing table. moto's tables
        live in the process, so what ``prepare`` made is what the port then serves.
        """
        from moto.moto_server.werkzeug_app import create_backend_app

        app = DynamoOnly(create_backend_app(SERVICE), self.on_write)
        listener = _bind(self.port)
        with listener:
            if prepare is not None:
                setup, setup_thread = _serve(_bind(0), app, poll_interval=0.01)
                try:
                    host, port = setup.server_address[:2]
                    prepare(f"http://{host}:{port}")
                finally:
                    setup.shutdown()
                    setup.server_close()
                    setup_thread.join(timeout=10)
            self._server, self._thread = _serve(listener, app)
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


def _serve(
    listener: socket.socket, app: WsgiApp, poll_interval: float = 0.5
) -> tuple[Any, threading.Thread]:
    """Accept connections on ``listener`` in a daemon thread (the server takes it over);
    ``shutdown()`` waits up to ``poll_interval`` seconds."""
    from moto.moto_server import werkzeug_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    # moto 5.2 added its own handler (header spelling for S3); 5.1 uses werkzeug's
    MotoRequestHandler = getattr(werkzeug_app, "MotoRequestHandler", WSGIRequestHandler)
    with listener:  # the server works on its own duplicate of the socket
        host, port = listener.getsockname()[:2]
        try:
            listener.listen(128)
        except OSError as error:  # another process bound it too, and listened first
            raise _unavailable(port, error) from None
        server = make_server(
            host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=listener.fileno()
        )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": poll_interval},
        name="shopify-sessions-local",
        daemon=True,
    )
    thread.start()
    return server, thread


def _bind(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:``port``, not listening yet: connections are refused."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's own
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as error:
        listener.close()
        raise _unavailable(port, error) from None
    return listener


def _unavailable(port: int, error: OSError) -> OSError:
    why = f"port {port} on 127.0.0.1 is not available ({error.strerror})"
    return OSError(f"{why}: pick another with --port")
