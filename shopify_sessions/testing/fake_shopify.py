"""A fake Shopify OAuth token endpoint on loopback, for testing apps that refresh tokens.

It is a real HTTP server, so an app's own retries, timeouts, connection pools and concurrency
meet real sockets; it keeps Shopify's rules (one active offline token per shop, rotating refresh
tokens with a replay window, token exchange, a migration exchange that answers the same pair
again for 7 days) and can inject faults::

    with FakeShopify() as shopify:
        grant = shopify.install("example.myshopify.com")
        with shopify.client() as client:  # https://example.myshopify.com/... goes to the fake
            client.post("https://example.myshopify.com/admin/oauth/access_token", json={...})
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

from ._server import Call, Core, Fault, Omission, serve
from ._token_book import DEFAULT_SCOPE, Grant, TokenBook
from ._transport import AsyncLoopbackTransport, LoopbackTransport

__all__ = ["AsyncLoopbackTransport", "Call", "FakeShopify", "Grant", "LoopbackTransport"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeShopify:
    """Shopify's token endpoint and a minimal Admin API for one app, on 127.0.0.1."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        latency: float = 0.0,
        strict: bool = False,
        access_ttl: int = 3600,
        refresh_ttl: int = 7776000,
    ) -> None:
        book = TokenBook(client_id, client_secret, access_ttl, refresh_ttl)
        self._core = Core(book, latency=0.0, strict=strict)
        self.latency = latency  # checked by the setter
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never the secret
        where = self.url if self._server is not None else "stopped"
        return f"FakeShopify({where}, strict={self.strict}, latency={self.latency})"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeShopify:
        """Listen on a free loopback port (idempotent)."""
        if self._server is None:
            self._server, self._thread = serve(self._core)
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (idempotent; state is kept)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        self._core.close_clients()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeShopify:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; only once started."""
        if self._server is None:
            raise RuntimeError("FakeShopify is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- knobs, settable any time ------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds every request waits before it is answered (slept outside the lock)."""
        return self._core.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self._core.latency = seconds

    @property
    def strict(self) -> bool:
        """No replay window: a rotated refresh token dies at once."""
        return self._core.strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self._core.strict = value

    @property
    def client_id(self) -> str:
        return self._core.book.client_id

    @property
    def client_secret(self) -> str:
        """For the app's config and for signing session tokens; kept out of every repr."""
        return self._core.book.client_secret

    # -- clients -----------------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        return LoopbackTransport(self.url)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        return AsyncLoopbackTransport(self.url)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` whose requests to any shop reach this fake."""
        return httpx.Client(transport=self.transport(), **kwargs)

    # -- the merchant's side -----------------------------------------------------------------

    def install(
        self,
        shop: str,
        *,
        expiring: bool = True,
        scope: str = DEFAULT_SCOPE,
        access_token: str | None = None,
    ) -> Grant:
        """As if the merchant installed or reopened the app: a new offline token for ``shop``,
        every earlier offline and refresh token of the shop revoked.

        ``access_token`` makes that token the new one instead of a made-up one: to rehearse
        on a copy of a table, whose tokens the fake then accepts (with ``expiring=False``, as
        the tokens ``migrate-to-expiring`` exchanges)."""
        if access_token is not None and (expiring or not access_token):
            raise ValueError("access_token needs expiring=False and a non-empty token")
        with self._core.lock:
            return self._core.book.install(
                shop, expiring=expiring, scope=scope, access_token=access_token
            )

    def uninstall(self, shop: str) -> None:
        """Every token of ``shop`` dies: refreshes answer invalid_grant, the Admin API 401."""
        with self._core.lock:
            self._core.book.uninstall(shop)

    def expire_refresh_token(self, shop: str) -> None:
        """Put the shop's refresh token past its life, as after 90 idle days."""
        with self._core.lock:
            self._core.book.expire_refresh_token(shop)

    def advance(self, seconds: float) -> None:
        """As if ``seconds`` passed for Shopify: tokens age, a migration's 7-day retry window
        closes. The clock only moves forward."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._core.lock:
            self._core.book.advance(seconds)

    def is_active(self, shop: str, access_token: str) -> bool:
        """Whether the Admin API would accept ``access_token`` for ``shop`` now."""
        with self._core.lock:
            return self._core.book.is_active(shop, access_token)

    def active_token(self, shop: str) -> str | None:
        """The shop's one active (unexpired, unrevoked) offline access token."""
        with self._core.lock:
            return self._core.book.active_token(shop)

    def session_token(self, shop: str, *, user_id: str = "1", **claims: object) -> str:
        """A session token (HS256 JWT) as App Bridge would send for ``shop`` and this app."""
        now = int(time.time())
        payload: dict[str, object] = {
            "iss": f"https://{shop}/admin",
            "dest": f"https://{shop}",
            "aud": self.client_id,
            "sub": user_id,
            "exp": now + 60,
            "nbf": now - 5,
            "iat": now,
            "jti": secrets.token_hex(8),
            "sid": secrets.token_hex(8),
        }
        payload.update(claims)
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64url(json.dumps(payload).encode())
        key = self.client_secret.encode()
        signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64url(signature)}"

    # -- what happened -----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every request received, in order (the live list; appended under the lock)."""
        return self._core.calls

    def call_count(self, shop: str | None = None, grant: str | None = None) -> int:
        with self._core.lock:
            return sum(
                1
                for call in self._core.calls
                if (shop is None or call.shop == shop) and (grant is None or call.grant == grant)
            )

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        body: object | None = None,
        delay: float = 0.0,
        drop: bool = False,
    ) -> None:
        """Answer the next ``times`` token requests with ``status`` instead of processing them.

        ``body`` replaces the JSON body (a str or bytes is sent as text/html), ``delay`` adds
        slowness (a 2xx without ``body`` is only that: the normal answer, late), ``drop`` closes
        the connection with no answer. Faults queue up and are used in order.
        """
        if not 100 <= status <= 599 or times < 1 or delay < 0:
            raise ValueError("fail_next needs 100 <= status <= 599, times >= 1, delay >= 0")
        fault = Fault(status, retry_after=retry_after, body=body, delay=delay, drop=drop)
        with self._core.lock:
            self._core.faults.extend([fault] * times)

    def omit_next(
        self, *fields: str, times: int = 1, replace: dict[str, object] | None = None
    ) -> None:
        """The next ``times`` successful token answers lack ``fields`` and carry ``replace``;
        the tokens are issued and rotated all the same."""
        if times < 1:
            raise ValueError("times must be >= 1")
        omission = Omission(tuple(fields), dict(replace or {}))
        with self._core.lock:
            self._core.omissions.extend([omission] * times)

    def reset_faults(self) -> None:
        """Forget every queued fault and omission."""
        with self._core.lock:
            self._core.faults.clear()
            self._core.omissions.clear()
