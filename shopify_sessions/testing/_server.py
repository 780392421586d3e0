"""The fake's HTTP side: a threaded loopback server answering like Shopify's token endpoint.

Latency and injected delays are slept outside the one lock, so concurrent requests overlap as
they would against Shopify; only the token rules and the records run under it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ._token_book import OAuthError, TokenBook, grant_kind

__all__ = ["Call", "Core", "Fault", "Omission", "serve"]

HOST = "127.0.0.1"
IDLE_TIMEOUT_S = 60.0  # a client connection idle this long is closed
TOKEN_PATH = "/admin/oauth/access_token"
_ADMIN_GRAPHQL = re.compile(r"/admin/api/[^/]+/graphql\.json")
_ADMIN_UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_NOT_JSON = object()  # a body that did not parse


@dataclass(frozen=True)
class Call:
    """One request the fake received; ``status`` 0 when the connection was dropped."""

    shop: str
    grant: str  # "refresh_token", "token_exchange", "admin_api" or "invalid"
    status: int
    started: float  # time.monotonic()
    finished: float  # when the answer left (or the connection was dropped)
    request_id: str = ""  # the X-Request-Id header of the answer, as Shopify sends ("": none)


@dataclass(frozen=True)
class Fault:
    """An answer given instead of processing one token request."""

    status: int
    retry_after: str | None = None
    body: object | None = None
    delay: float = 0.0
    drop: bool = False

    @property
    def passthrough(self) -> bool:
        """Only slowness: a 2xx fault with no body is the normal answer, ``delay`` late."""
        return 200 <= self.status < 300 and self.body is None and not self.drop


@dataclass(frozen=True)
class Omission:
    """How one successful token answer is damaged (the tokens are issued all the same)."""

    fields: tuple[str, ...]
    replace: dict[str, object] = field(default_factory=dict)

    def apply(self, answer: dict[str, object]) -> dict[str, object]:
        damaged = {k: v for k, v in answer.items() if k not in self.fields}
        damaged.update(self.replace)
        return damaged


class Core:
    """Everything the request threads share; ``lock`` guards all of it but the two knobs."""

    def __init__(self, book: TokenBook, *, latency: float, strict: bool) -> None:
        self.lock = threading.Lock()
        self.book = book
        self.latency = latency  # read without the lock: a float swap is atomic
        self.strict = strict
        self.calls: list[Call] = []
        self.faults: deque[Fault] = deque()
        self.omissions: deque[Omission] = deque()
        self.clients: set[socket.socket] = set()

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def next_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None

    def token_answer(self, shop: str, body: object) -> tuple[int, dict[str, object]]:
        with self.lock:
            try:
                answer = self.book.answer(shop, body, strict=self.strict)
            except OAuthError as error:
                return error.status, error.body()
            if self.omissions:
                answer = self.omissions.popleft().apply(answer)
            return 200, answer

    def admin_allows(self, shop: str, access_token: str) -> bool:
        with self.lock:
            return self.book.is_active(shop, access_token)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self.lock:
            if add:
                self.clients.add(sock)
            else:
                self.clients.discard(sock)

    def close_clients(self) -> None:
        """End the keep-alive connections still open, so a stopped fake answers nothing."""
        with self.lock:
            clients = list(self.clients)
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping an injected delay
    request_queue_size = 128  # storm tests open many connections at once
    core: Core

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away (timeouts, dropped faults, stop()) is no error of the fake
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _shop(host: str | None) -> str:
    """The shop a request is for: the Host header the loopback transports keep."""
    name, _, port = (host or "").strip().lower().rpartition(":")
    return name if name and port.isdigit() else (host or "").strip().lower()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    disable_nagle_algorithm = True  # else a reused connection waits ~40 ms on delayed ACKs
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.core.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.core.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # silent: request lines are noise in test output

    def version_string(self) -> str:
        return "FakeShopify"

    def do_POST(self) -> None:
        core = self.server.core
        started = time.monotonic()
        shop = _shop(self.headers.get("Host"))
        raw = self._read_body()
        if raw is None:
            return
        path = urlsplit(self.path).path
        if path == TOKEN_PATH:
            self._token(core, shop, raw, started)
        elif _ADMIN_GRAPHQL.fullmatch(path):
            self._admin(core, shop, started)
        else:
            self._not_found(core, shop, started)

    def do_GET(self) -> None:
        if self._read_body() is not None:
            core = self.server.core
            self._not_found(core, _shop(self.headers.get("Host")), time.monotonic())

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _token(self, core: Core, shop: str, raw: bytes, started: float) -> None:
        try:
            body: object = json.loads(raw) if raw else _NOT_JSON
        except ValueError:
            body = _NOT_JSON
        grant = grant_kind(body)
        _sleep(core.latency)
        fault = core.next_fault()
        if fault is not None:
            _sleep(fault.delay)
            if fault.drop:
                core.record(Call(shop, grant, 0, started, time.monotonic()))
                return self._drop()
            if not fault.passthrough:
                phrase = http.client.responses.get(fault.status, "Error")
                payload = {"errors": phrase} if fault.body is None else fault.body
                headers = [("Retry-After", fault.retry_after)] if fault.retry_after else []
                call = Call(shop, grant, fault.status, started, 0.0)
                return self._reply(core, call, payload, headers)
        status, answer = core.token_answer(shop, None if body is _NOT_JSON else body)
        self._reply(core, Call(shop, grant, status, started, 0.0), answer)

    def _admin(self, core: Core, shop: str, started: float) -> None:
        _sleep(core.latency)
        answer: dict[str, object]
        if core.admin_allows(shop, self.headers.get("X-Shopify-Access-Token", "")):
            status, answer = 200, {"data": {"shop": {"name": shop, "myshopifyDomain": shop}}}
        else:
            status, answer = 401, {"errors": _ADMIN_UNAUTHORIZED}
        self._reply(core, Call(shop, "admin_api", status, started, 0.0), answer)

    def _not_found(self, core: Core, shop: str, started: float) -> None:
        _sleep(core.latency)
        self._reply(core, Call(shop, "invalid", 404, started, 0.0), {"errors": "Not Found"})

    def _read_body(self) -> bytes | None:
        """The request body; None (and the connection closed) when it cannot be framed."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self.send_error(400, "Bad request framing")
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def _reply(
        self,
        core: Core,
        call: Call,
        body: object,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        if isinstance(body, str | bytes):  # e.g. a proxy's HTML error page
            payload = body.encode() if isinstance(body, str) else body
            content_type = "text/html; charset=utf-8"
        else:
            payload = json.dumps(body).encode()
            content_type = "application/json; charset=utf-8"
        request_id = str(uuid.uuid4())  # Shopify names every answer so (support asks for it)
        # recorded before the answer leaves, so a client that has it also sees the call
        core.record(dataclasses.replace(call, finished=time.monotonic(), request_id=request_id))
        self.send_response(call.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-Id", request_id)
        for name, value in headers or ():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def serve(core: Core) -> tuple[_Server, threading.Thread]:
    """A started server on 127.0.0.1 and a free port, answering from ``core``."""
    server = _Server((HOST, 0), _Handler)
    server.core = core
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-shopify"
    )
    thread.daemon = True
    thread.start()
    return server, thread
