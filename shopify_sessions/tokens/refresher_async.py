"""``AsyncShopifyTokenRefresher``: ``ShopifyTokenRefresher`` for asyncio, over httpx.AsyncClient.

Same settings, checks, flows, errors and secrecy (``http.TokenEndpoint`` and ``grants``); only
the loop differs: ``await client.post(...)`` and ``await asyncio.sleep(...)``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

from shopify_sessions.domain.session import Session
from shopify_sessions.steps import Sleep, Steps

from .grants import HttpAnswer, HttpRequest, TransportFailure
from .http import Flow, TokenEndpoint, http_answer, post_arguments, transport_failure

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")  # what a flow gives: a Session, or a probe's answer

__all__ = ["AsyncShopifyTokenRefresher"]


class AsyncShopifyTokenRefresher(TokenEndpoint["httpx.AsyncClient"]):
    """Refreshes expiring offline tokens without blocking the event loop.

    As ``ShopifyTokenRefresher``, with ``http_client`` an ``httpx.AsyncClient``; a client the
    refresher makes itself belongs to the event loop of its first request, and :meth:`aclose`
    (or ``async with``) closes it.
    """

    _http: httpx.AsyncClient | None

    async def refresh(self, session: Session) -> Session:
        """See ``ShopifyTokenRefresher.refresh``: the same answer and errors, awaited."""
        return await self._run(self._refresh_flow(session))

    async def is_active(self, session: Session) -> bool | None:
        """See ``ShopifyTokenRefresher.is_active``, awaited."""
        return await self._run(self._active_flow(session))

    async def migrate(self, session: Session) -> Session:
        """See ``ShopifyTokenRefresher.migrate``; store the result at once."""
        return await self._run(self._migrate_flow(session))

    async def aclose(self) -> None:
        """Close the HTTP client if the refresher made it (a caller's client stays open)."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncShopifyTokenRefresher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- the I/O the grants logic asks for -----------------------------------------------------

    async def _run(self, flow: Flow[T]) -> T:
        steps = Steps(flow)
        for step in steps:
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            else:
                steps.reply(await self._send(step))
        return steps.result

    async def _send(self, request: HttpRequest) -> HttpAnswer | TransportFailure:
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient()
        try:  # within request.timeout in all, however the answer trickles in
            response = await asyncio.wait_for(
                self._http.post(**post_arguments(request)), request.timeout
            )
        except (asyncio.TimeoutError, httpx.TransportError) as error:
            return transport_failure(error)
        return http_answer(response)
