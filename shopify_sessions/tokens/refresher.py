"""``ShopifyTokenRefresher``: exchanges refresh tokens (and migrates old tokens) over httpx.

The decisions (retries, ``Retry-After``, the deadline, answer checks) are in ``grants``; this
class only carries the requests. It stores nothing: ``storage.load_fresh_session`` does, once
for the whole fleet.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING

from shopify_sessions import redact
from shopify_sessions.session import Session

from .errors import ReauthorizationRequiredError
from .grants import (
    Exchange,
    HttpAnswer,
    HttpRequest,
    Pause,
    TransportFailure,
    exchange,
    migration_body,
    refresh_blocker,
    refresh_body,
    refreshed_session,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["ShopifyTokenRefresher"]

redact.install()


class ShopifyTokenRefresher:
    """Refreshes expiring offline tokens at ``POST https://{shop}/admin/oauth/access_token``.

    ``timeout``: seconds one refresh may take in all, retries included. ``http_client``: an
    ``httpx.Client`` to send through (tests and apps route or instrument requests with it);
    without one the refresher owns a client, closed by :meth:`close`. The client secret and
    the tokens never appear in ``repr``, errors or logs.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        for name, value in (("client_id", client_id), ("client_secret", client_secret)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string (the app's API key/secret)")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError("timeout must be a number of seconds")
        if not math.isfinite(timeout) or timeout <= 0:
            raise ValueError("timeout must be a positive, finite number of seconds")
        self.client_id = client_id
        self._client_secret = client_secret
        self.timeout = float(timeout)
        self._http = http_client
        self._owns_http = http_client is None

    def __repr__(self) -> str:
        return f"ShopifyTokenRefresher(client_id={self.client_id!r}, timeout={self.timeout:g})"

    def refresh(self, session: Session) -> Session:
        """The session with a new pair (same id, shop, state); no call for a known-dead grant.

        Raises ``ReauthorizationRequiredError`` (no refresh token, refresh token expired,
        ``invalid_grant``) or ``TokenRefreshError`` (transient failure past ``timeout``, or
        a malformed answer).
        """
        blocker = refresh_blocker(session, datetime.now(timezone.utc))
        if blocker is not None:
            raise ReauthorizationRequiredError(session.shop, blocker)
        assert session.refresh_token is not None  # refresh_blocker checked it
        body = refresh_body(self.client_id, self._client_secret, session.refresh_token)
        answer, sent_at = self._run(exchange(session.shop, body, self.timeout))
        return refreshed_session(session, answer, sent_at)

    def migrate(self, session: Session) -> Session:
        """Exchange a non-expiring offline token for an expiring pair (Shopify's migration).

        Shopify revokes the old token once the exchange succeeds: store the result at once.
        """
        if session.is_online:
            raise ValueError(f"session {session.id!r} is online: only offline tokens migrate")
        if not session.access_token:
            raise ValueError(f"session {session.id!r} has no access token to migrate")
        if session.refresh_token or session.expires is not None:
            raise ValueError(f"session {session.id!r} already has an expiring token")
        body = migration_body(self.client_id, self._client_secret, session.access_token)
        answer, sent_at = self._run(exchange(session.shop, body, self.timeout))
        return refreshed_session(session, answer, sent_at)

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

    def _run(self, flow: Exchange) -> tuple[dict[str, object], datetime]:
        outcome: HttpAnswer | TransportFailure | None = None
        while True:
            try:
                step = flow.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(step, Pause):
                time.sleep(step.seconds)
                outcome = None
            else:
                outcome = self._send(step)

    def _send(self, request: HttpRequest) -> HttpAnswer | TransportFailure:
        import httpx

        if self._http is None:
            self._http = httpx.Client()
        try:
            response = self._http.post(
                request.url,
                json=request.body,
                timeout=request.timeout,
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException:
            return TransportFailure("timed out")
        except httpx.TransportError as error:
            return TransportFailure(f"connection failed ({type(error).__name__})")
        return HttpAnswer(response.status_code, response.headers, response.content)
