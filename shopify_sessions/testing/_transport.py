"""httpx transports that send ``https://{shop}/...`` requests to a loopback fake instead.

The app under test keeps its real Shopify URLs; only the socket goes to the fake, and the Host
header still names the shop, which is how the fake knows whose tokens are meant. Built from the
fake's URL alone, so a transport can be made in another process (a worker, a subprocess).
"""

from __future__ import annotations

import httpx

__all__ = ["AsyncLoopbackTransport", "LoopbackTransport"]


def _base(base_url: str) -> httpx.URL:
    url = httpx.URL(base_url)
    if url.scheme != "http" or not url.host:
        raise ValueError(f"base_url must be an http:// URL, got {base_url!r}")
    return url


def _rerouted(request: httpx.Request, base: httpx.URL) -> httpx.Request:
    """A copy of ``request`` aimed at ``base``; headers (Host included) and body unchanged."""
    url = request.url.copy_with(
        scheme=base.scheme,
        host=base.host,
        port=base.port,
        raw_path=base.raw_path.rstrip(b"/") + request.url.raw_path,  # byte for byte, query kept
    )
    return httpx.Request(
        request.method,
        url,
        headers=request.headers,
        stream=request.stream,
        extensions=request.extensions,
    )


class LoopbackTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Sends every request to ``base_url`` over a real socket, keeping the shop's Host header.

    One transport for both clients: ``httpx.Client(transport=...)`` and
    ``httpx.AsyncClient(transport=...)`` (``AsyncLoopbackTransport`` is the same class).
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = _base(base_url)
        self._blocking: httpx.HTTPTransport | None = None
        self._awaited: httpx.AsyncHTTPTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.base_url)!r})"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._blocking = self._blocking or httpx.HTTPTransport()
        return self._blocking.handle_request(_rerouted(request, self.base_url))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._awaited = self._awaited or httpx.AsyncHTTPTransport()
        return await self._awaited.handle_async_request(_rerouted(request, self.base_url))

    def close(self) -> None:
        if self._blocking is not None:
            self._blocking.close()

    async def aclose(self) -> None:
        if self._awaited is not None:
            await self._awaited.aclose()


AsyncLoopbackTransport = LoopbackTransport
