"""A small threaded loopback HTTP proxy in front of a DynamoDB-compatible endpoint.

``DynamoProxy(upstream_url)`` relays every request to ``upstream_url`` (dynalite, moto server),
counts requests by operation (``X-Amz-Target: DynamoDB_20120810.GetItem`` -> ``GetItem``) and
can inject faults through ``proxy.faults``, a callable ``(operation, request_body, attempt_no)
-> Fault | None`` called for every request before it is forwarded. ``attempt_no`` is 1 for the
first request with this operation and exact body since ``reset()``, 2 for its first retry, and
so on (``proxy.counts[operation]`` already includes the request, for sequence-based faults).

Only the standard library is used here.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["DynamoProxy", "Fault", "FaultHook", "unprocess_items", "unprocess_keys"]

HOST = "127.0.0.1"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
IDLE_TIMEOUT_S = 300.0  # a client connection idle this long is closed
UPSTREAM_TIMEOUT_S = 60.0
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_NOT_RELAYED = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}

Rewrite = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or on top of) relaying one request. Use the constructors."""

    status: int | None = None  # answer with this status and ``body``; nothing is forwarded
    body: bytes = b""
    drop: bool = False  # close the client connection without an answer
    after_forward: bool = False  # with ``drop``: forward first (applied, answer lost)
    rewrite: Rewrite | None = None  # forward, then ``rewrite(request, response)`` a 200 answer

    @classmethod
    def error(cls, status: int, error_type: str, message: str = "injected fault") -> Fault:
        """An AWS JSON error, e.g. ``Fault.error(400, "ValidationException")``."""
        body = {"__type": _ERROR_PREFIX + error_type, "message": message}
        return cls(status=status, body=json.dumps(body).encode())

    @classmethod
    def throttle(cls) -> Fault:
        return cls.error(400, "ProvisionedThroughputExceededException", "injected throttle")

    @classmethod
    def server_error(cls) -> Fault:
        return cls.error(500, "InternalServerError", "injected server error")

    @classmethod
    def drop_connection(cls, after_forward: bool = False) -> Fault:
        return cls(drop=True, after_forward=after_forward)

    @classmethod
    def rewrite_response(cls, rewrite: Rewrite) -> Fault:
        return cls(rewrite=rewrite)


FaultHook = Callable[[str, bytes, int], "Fault | None"]


def unprocess_keys(count: int, key_names: tuple[str, ...] = ("id",)) -> Rewrite:
    """BatchGetItem: move the last ``count`` found items of each table to UnprocessedKeys."""

    def rewrite(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        for table, items in response.get("Responses", {}).items():
            n = min(count, len(items))
            moved, response["Responses"][table] = items[len(items) - n :], items[: len(items) - n]
            if not moved:
                continue
            asked = {k: v for k, v in request["RequestItems"][table].items() if k != "Keys"}
            entry = response.setdefault("UnprocessedKeys", {}).setdefault(table, asked)
            entry.setdefault("Keys", []).extend({k: it[k] for k in key_names} for it in moved)
        return response

    return rewrite


def unprocess_items(count: int) -> Rewrite:
    """BatchWriteItem: claim the last ``count`` requests of each table were not processed."""

    def rewrite(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        for table, writes in request["RequestItems"].items():
            n = min(count, len(writes))
            if n:
                unprocessed = response.setdefault("UnprocessedItems", {})
                unprocessed.setdefault(table, []).extend(writes[len(writes) - n :])
        return response

    return rewrite


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # Node opens ~50 sockets at once; the default 5 overflows
    daemon_threads = True
    proxy: DynamoProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    disable_nagle_algorithm = True  # else a reused connection waits ~40 ms on delayed ACKs
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.upstream: http.client.HTTPConnection | None = None  # one per client connection
        self.server.proxy._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, False)
            if self.upstream is not None:
                self.upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2] or "(none)"
        attempt = proxy._record(operation, body)
        hook = proxy.faults
        fault = hook(operation, body, attempt) if hook is not None else None
        if fault is not None and fault.drop and not fault.after_forward:
            return self._drop()
        if fault is not None and fault.status is not None:
            return self._answer(fault.status, [("Content-Type", JSON_CONTENT_TYPE)], fault.body)
        status, headers, payload = self._forward(body)
        if fault is not None and fault.drop:
            return self._drop()
        if fault is not None and fault.rewrite is not None and status == 200:
            payload = json.dumps(fault.rewrite(json.loads(body), json.loads(payload))).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"]
            headers.append(("x-amz-crc32", str(zlib.crc32(payload))))  # botocore checks it
        return self._answer(status, headers, payload)

    do_GET = do_POST

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_RELAYED}
        headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a reused upstream connection may have been closed meanwhile
            if self.upstream is None:
                host, port = self.server.proxy.upstream
                self.upstream = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT_S)
            try:
                self.upstream.request(self.command, self.path, body, headers)
                response = self.upstream.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.upstream.close()
                self.upstream = None
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _NOT_RELAYED]
            return response.status, kept, payload
        raise AssertionError("unreachable")

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class DynamoProxy:
    """Loopback proxy to ``upstream_url``; ``.endpoint`` is where clients should point."""

    def __init__(self, upstream_url: str, host: str = HOST, port: int = 0) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream_url!r}")
        self.upstream: tuple[str, int] = (parts.hostname, parts.port or 80)
        self.faults: FaultHook | None = None
        self._address = (host, port)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._attempts: Counter[tuple[str, bytes]] = Counter()
        self._clients: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("DynamoProxy is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def counts(self) -> Counter[str]:
        """Requests received per operation since the last ``reset()`` (a copy)."""
        with self._lock:
            return Counter(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def reset(self) -> None:
        """Zero the counts and the attempt numbers."""
        with self._lock:
            self._counts.clear()
            self._attempts.clear()

    def start(self) -> DynamoProxy:
        if self._server is not None:
            return self
        server = _Server(self._address, _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="dynamo-proxy"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every client connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            clients = list(self._clients)
        for sock in clients:  # handler threads blocked on keep-alive reads end now
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DynamoProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(self, operation: str, body: bytes) -> int:
        key = (operation, hashlib.sha1(body).digest())
        with self._lock:
            self._counts[operation] += 1
            self._attempts[key] += 1
            return self._attempts[key]

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._clients.add(sock)
            else:
                self._clients.discard(sock)
