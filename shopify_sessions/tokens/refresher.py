"""``ShopifyTokenRefresher``: exchanges refresh tokens (and migrates old tokens) over httpx.

The decisions (retries, ``Retry-After``, the deadline, answer checks) are in ``grants``, the
settings and flows in ``http.TokenEndpoint`` (shared with ``AsyncShopifyTokenRefresher``); this
class only carries the requests. It stores nothing: ``storage.load_fresh_session`` does, once
for the whole fleet.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from shopify_sessions.domain.session import Session

from .grants import HttpAnswer, HttpRequest, TransportFailure
from .http import SessionFlow, TokenEndpoint, http_answer, post_arguments, transport_failure
from .steps import Sleep, Steps

if TYPE_CHECKING:
    import httpx

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

    def _run(self, flow: SessionFlow) -> Session:
        steps = Steps(flow)
        for step in steps:
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
            else:
                steps.reply(self._send(step))
        return steps.result

    def _send(self, request: HttpRequest) -> HttpAnswer | TransportFailure:
        import httpx

        if self._http is None:
            self._http = httpx.Client()
        try:
            response = self._http.post(**post_arguments(request))
        except httpx.TransportError as error:
            return transport_failure(error)
        return http_answer(response)
