"""What the blocking and the async refresher share: everything but the I/O loop.

Each request's ``timeout`` is a total deadline (httpx's timeouts bound each read, so an answer
trickling in would never end): the refreshers stop waiting at it and report :data:`TIMED_OUT`.

:class:`TokenEndpoint` checks the settings, keeps the secret out of ``repr`` and builds the
refresh and migration flows (``grants.exchange`` plus the answer check); :func:`post_arguments`,
:func:`http_answer` and :func:`transport_failure` translate between ``grants`` and httpx. A
refresher subclass only sends, sleeps and closes its client, with or without ``await``.
httpx is imported by the subclasses when they first send, never here.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from shopify_sessions import redact
from shopify_sessions.domain.session import Session
from shopify_sessions.steps import Sleep

from .grants import (
    HttpAnswer,
    HttpRequest,
    TransportFailure,
    exchange,
    migration_body,
    refresh_blocker,
    refresh_body,
    refreshed_session,
)
from .probe import Probe, active_check
from .refresh_errors import ReauthorizationRequiredError
from .telemetry import note_request_id

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SHOPIFY_TOKEN_LIFE",
    "TIMED_OUT",
    "Flow",
    "SessionFlow",
    "TokenEndpoint",
    "http_answer",
    "post_arguments",
    "transport_failure",
]

redact.install()  # httpx's and httpcore's DEBUG logs would show the request bodies

SHOPIFY_TOKEN_LIFE = timedelta(hours=1)  # expiring offline access tokens: expires_in 3600
TIMED_OUT = TransportFailure("timed out")  # no whole answer within the request's deadline
T = TypeVar("T")
Flow = Generator[HttpRequest | Sleep, HttpAnswer | TransportFailure | None, T]  # a refresher runs
SessionFlow = Flow[Session]
C = TypeVar("C")  # the httpx client type: httpx.Client or httpx.AsyncClient


class TokenEndpoint(Generic[C]):
    """The settings and flows of a refresher; ``C`` is the kind of httpx client it sends with.

    ``timeout``: seconds one refresh may take in all, retries included. ``http_client``: a
    client to send through (tests and apps route or instrument requests with it); without one
    the refresher makes its own on the first request and closes it when it is closed.
    ``token_life``: how long the access tokens it gets live (Shopify's ``expires_in`` in the
    last answer; its documented hour before one): ``load_fresh_session`` refuses a ``within``
    at least as long, which would refresh on every call.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        http_client: C | None = None,
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
        self.token_life = SHOPIFY_TOKEN_LIFE

    def __repr__(self) -> str:  # never the secret
        return f"{type(self).__name__}(client_id={self.client_id!r}, timeout={self.timeout:g})"

    def _refresh_flow(self, session: Session) -> SessionFlow:
        """The refresh as a flow; a grant known to be dead raises at the first step, no call."""
        blocker = refresh_blocker(session, datetime.now(timezone.utc))
        if blocker is not None:
            raise ReauthorizationRequiredError(session.shop, blocker)
        assert session.refresh_token is not None  # refresh_blocker checked it
        body = refresh_body(self.client_id, self._client_secret, session.refresh_token)
        secrets = (session.access_token,)
        answer, sent_at = yield from exchange(session.shop, body, self.timeout, secrets=secrets)
        return self._learned(refreshed_session(session, answer, sent_at), answer)

    def _learned(self, fresh: Session, answer: dict[str, Any]) -> Session:
        """``fresh``, once its access token's life is remembered (``token_life``)."""
        self.token_life = timedelta(seconds=answer["expires_in"])
        return fresh

    def _active_flow(self, session: Session) -> Probe:
        """Whether Shopify accepts ``session``'s access token now (``None``: cannot tell)."""
        return active_check(session.shop, session.access_token, self.timeout)

    def _migrate_flow(self, session: Session) -> SessionFlow:
        """The migration as a flow; a session that cannot migrate raises at the first step."""
        if session.is_online:
            raise ValueError(f"session {session.id!r} is online: only offline tokens migrate")
        if not session.access_token:
            raise ValueError(f"session {session.id!r} has no access token to migrate")
        if session.refresh_token or session.expires is not None:
            raise ValueError(f"session {session.id!r} already has an expiring token")
        body = migration_body(self.client_id, self._client_secret, session.access_token)
        answer, sent_at = yield from exchange(session.shop, body, self.timeout)
        return self._learned(refreshed_session(session, answer, sent_at), answer)


def post_arguments(request: HttpRequest) -> dict[str, Any]:
    """Keyword arguments of ``client.post`` for ``request`` (sync and async alike)."""
    return {
        "url": request.url,
        "json": request.body,
        "timeout": request.timeout,
        "headers": {"Accept": "application/json", **request.headers},
    }


def http_answer(response: httpx.Response) -> HttpAnswer:
    note_request_id(response.headers)  # Shopify's x-request-id, for the refresh's record
    return HttpAnswer(response.status_code, response.headers, response.content)


def transport_failure(error: Exception) -> TransportFailure:
    """What ``grants`` retries on: a timeout (httpx's, or the request's whole deadline passed:
    ``asyncio``'s or a future's ``TimeoutError``), or a connection refused or dropped."""
    import asyncio
    import concurrent.futures

    import httpx

    timeouts = (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError)
    if isinstance(error, (httpx.TimeoutException, *timeouts)):
        return TIMED_OUT
    return TransportFailure(f"connection failed ({type(error).__name__})")
