"""``ShopifyTokenRefresher``: exchanges refresh tokens (and migrates old tokens) over httpx.

The decisions (retries, ``Retry-After``, the deadline, answer checks) are in ``grants``, the
settings and flows in ``http.TokenEndpoint`` (shared with ``AsyncShopifyTokenRefresher``); this
class only carries the requests. It stores nothing: ``storage.load_fresh_session`` does, once
for the whole fleet.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from shopify_sessions.domain.session import Session
from shopify_sessions.steps import Sleep, Steps

from .grants import HttpAnswer, HttpRequest, TransportFailure
from .http import Flow, TokenEndpoint, http_answer, post_arguments, transport_failure

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")  # what a flow gives: a Session, or a probe's answer

__all__ = ["ShopifyTokenRefresher"]


class ShopifyTokenRefresher(TokenEndpoint["httpx.Client"]):
    """Refreshes expiring offline tokens at ``POST https://{shop}/admin/oauth/access_token``.

    ``timeout``: seconds one refresh may take in all, retries included. ``http_client``: an
    ``httpx.Client`` to send through (tests and apps route or instrument requests with it);
    without one the refresher owns a client, closed by :meth:`close`. The client secret and
    the tokens never appear in ``repr``, errors or logs.
    """

    _http: httpx.Client | None

    def refresh(self, session: Session) -> Session:
        """The session with a new pair (same id, shop, state); no call for a known-dead grant.

        Raises ``ReauthorizationRequiredError`` (no refresh token, refresh token expired,
        ``invalid_grant``) or ``TokenRefreshError`` (transient failure past ``timeout``, or
        a malformed answer).
        """
        return self._run(self._refresh_flow(session))

    def is_active(self, session: Session) -> bool | None:
        """Whether Shopify accepts ``session``'s access token now: one Admin API request.

        ``None`` when it cannot be told (no answer within ``timeout``, throttled). Shopify keeps
        one offline token active per shop, so this says which of two pairs it issued last.
        """
        return self._run(self._active_flow(session))

    def migrate(self, session: Session) -> Session:
        """Exchange a non-expiring offline token for an expiring pair (Shopify's migration).

        Shopify revokes the old token once the exchange succeeds: store the result at once.
        """
        return self._run(self._migrate_flow(session))

    def close(self) -> None:
        """Close the HTTP client if the refresher made it (a caller's client stays open)."""
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> ShopifyTokenRefresher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the I/O the grants logic asks for -----------------------------------------------------

    def _run(self, flow: Flow[T]) -> T:
        steps = Steps(flow)
        for step in steps:
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
            else:
                steps.reply(self._send(step))
        return steps.result

    def _send(self, request: HttpRequest) -> HttpAnswer | TransportFailure:
        """The answer within ``request.timeout`` in all, however it trickles in: the request
        runs in a thread of its own, left behind when the deadline passes (httpx ends it at a
        read timeout or once the answer is in). The answer is read here, in the caller's
        thread and context."""
        import httpx

        if self._http is None:
            self._http = httpx.Client()
        sent: Future[httpx.Response] = Future()
        threading.Thread(target=_post, args=(self._http, request, sent), daemon=True).start()
        try:
            response = sent.result(timeout=request.timeout)
        except (FutureTimeout, httpx.TransportError) as error:
            return transport_failure(error)
        return http_answer(response)


def _post(client: httpx.Client, request: HttpRequest, sent: Future[httpx.Response]) -> None:
    """``client.post`` for ``request``, its response or error handed to ``sent``."""
    try:
        sent.set_result(client.post(**post_arguments(request)))
    except BaseException as error:  # raised in the caller's thread
        sent.set_exception(error)
