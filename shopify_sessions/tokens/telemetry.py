"""Refresh telemetry: each outcome of a fleet refresh as one log record, metrics and a span.

Both drivers run ``lease.fresh_session`` through :func:`observed` (``fresh.refresh_flow``),
which watches its operations and their answers pass: the outcome is read once, for both
drivers, off what the protocol did. Outcomes: ``refreshed`` (this run called Shopify and got a
pair), ``took_over`` (the same, after taking over a lease its holder let lapse), ``waited``
(another holder's pair came), ``dead`` (Shopify refused the grant, recorded or already known)
and ``failed`` (anything else raised). A run that refreshed nothing because the stored token
still works, though it cannot be refreshed, has no outcome.

The record goes to the ``shopify_sessions`` logger with ``extra`` fields (never a token).
With the ``[otel]`` extra installed, OpenTelemetry's API is imported at the first outcome (not
at import) and the instruments come from its global providers, so an app's SDK setup, made
before or after, receives them.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from shopify_sessions._version import __version__
from shopify_sessions.domain.session import Session
from shopify_sessions.errors import SessionStorageError

from .lease_protocol import Flow, MarkDead, Operation, Refresh, TakeLease
from .refresh_errors import ReauthorizationRequiredError, TokenRefreshError

__all__ = [
    "DURATION_METRIC",
    "OUTCOMES",
    "OUTCOMES_METRIC",
    "SPAN_NAME",
    "note_request_id",
    "observed",
]

logger = logging.getLogger("shopify_sessions")

OUTCOMES = ("refreshed", "waited", "took_over", "dead", "failed")
OUTCOMES_METRIC = "shopify_sessions.refresh.outcomes"
DURATION_METRIC = "shopify_sessions.refresh.duration"
SPAN_NAME = "shopify_sessions.refresh"
# seconds: a refresh is one call (~0.1-1 s); a waiter may wait a lease and a timeout (40 s)
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60)

# Shopify's x-request-id of the last token answer seen in this context (thread or task)
_request_id: ContextVar[str | None] = ContextVar("shopify_sessions_request_id", default=None)


def note_request_id(headers: Mapping[str, str]) -> None:
    """Keep the ``x-request-id`` of a token answer (the refreshers call this for each one)."""
    _request_id.set(headers.get("x-request-id"))


@dataclass
class _Watch:
    """What a run of the flow did, as its operations and answers showed it."""

    steps: int = 0
    took_over: bool = False  # took a lease another holder had let lapse
    refreshed: bool = False  # Shopify answered this run with a new pair
    dead: bool = False  # this run recorded a refresh token Shopify refused

    def saw(self, operation: Operation, answer: Any, failed: bool) -> None:
        self.steps += 1
        if isinstance(operation, MarkDead):
            self.dead = True
        elif failed:
            return
        elif isinstance(operation, TakeLease) and answer is True:
            self.took_over = operation.snapshot.lease_holder not in (None, operation.holder)
        elif isinstance(operation, Refresh):
            self.refreshed = True

    def outcome(self, error: BaseException | None) -> str | None:
        if self.dead or isinstance(error, ReauthorizationRequiredError):
            return "dead"
        if error is not None:
            return "failed"
        if self.refreshed:
            return "took_over" if self.took_over else "refreshed"
        return "waited" if self.steps else None


def observed(flow: Flow, session: Session) -> Flow:
    """``flow`` unchanged, its outcome recorded once it ends (see the module's docstring)."""
    watch = _Watch()
    started = time.monotonic()
    _request_id.set(None)
    span = _Span()  # started with the first operation: a run may do none
    error: BaseException | None = None
    abandoned = False
    try:
        operation = next(flow)
        span = _Span.start(session)
        while True:
            try:
                answer = yield operation
            except Exception as failure:  # the driver's step failed: the flow decides
                watch.saw(operation, None, failed=True)
                operation = flow.throw(failure)
            else:
                watch.saw(operation, answer, failed=False)
                operation = flow.send(answer)
    except StopIteration as done:
        result: Session | None = done.value
        return result
    except GeneratorExit:  # abandoned by its driver (its task cancelled): no outcome
        abandoned = True
        flow.close()
        raise
    except BaseException as raised:
        error = raised
        raise
    finally:
        outcome = None if abandoned else watch.outcome(error)
        if outcome is not None:
            if not span.started:  # decided before any operation (a grant known to be dead)
                span = _Span.start(session)
            _record(outcome, session, time.monotonic() - started, error, span)
        span.end(abandoned)


def _describe(error: BaseException | None) -> str | None:
    """The error for a record: our errors' messages name no token; others show their type."""
    if error is None:
        return None
    if isinstance(error, (TokenRefreshError, SessionStorageError)):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


def _record(
    outcome: str, session: Session, seconds: float, error: BaseException | None, span: _Span
) -> None:
    request_id = _request_id.get()
    described = _describe(error)
    fields = {
        "shop": session.shop,
        "session_id": session.id,
        "outcome": outcome,
        "duration_seconds": round(seconds, 6),
        "request_id": request_id,
        "error": described,
    }
    level = logging.WARNING if outcome in ("dead", "failed") else logging.INFO
    logger.log(
        level,
        "token refresh of %s: %s in %.3f s (x-request-id %s)%s",
        session.shop,
        outcome,
        seconds,
        request_id or "none",
        f": {described}" if described else "",
        extra=fields,
    )
    span.finish(outcome, request_id, error, described)
    instruments = _Otel.current()
    if instruments is not None:
        instruments.outcomes.add(1, {"outcome": outcome})
        instruments.duration.record(seconds, {"outcome": outcome})


class _Otel:
    """The metric instruments and the tracer, from OpenTelemetry's global providers."""

    missing = False  # the API is not installed: looked for once
    cached: _Otel | None = None

    def __init__(self, providers: tuple[Any, Any]) -> None:
        self.providers = providers
        meter_provider, tracer_provider = providers
        meter = meter_provider.get_meter("shopify_sessions", __version__)
        self.outcomes = meter.create_counter(
            OUTCOMES_METRIC,
            unit="{refresh}",
            description="Outcomes of token refreshes by load_fresh_session, by outcome",
        )
        self.duration = meter.create_histogram(
            DURATION_METRIC,
            unit="s",
            description="How long load_fresh_session took to refresh a token, or to wait for "
            "another holder's, by outcome",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.tracer = tracer_provider.get_tracer("shopify_sessions", __version__)

    @classmethod
    def current(cls) -> _Otel | None:
        """The instruments of the providers set now; ``None`` without the ``[otel]`` extra."""
        if cls.missing:
            return None
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            cls.missing = True
            return None
        providers = (metrics.get_meter_provider(), trace.get_tracer_provider())
        cached = cls.cached
        if cached is None or not all(map(operator.is_, cached.providers, providers)):
            cached = cls.cached = cls(providers)
        return cached


class _Span:
    """The span of one run, current while its operations are carried out (so the spans of
    instrumented HTTP and DynamoDB clients nest under it); does nothing without the extra."""

    def __init__(self, span: Any = None, token: Any = None) -> None:
        self._span, self._token = span, token
        self.started = span is not None

    @classmethod
    def start(cls, session: Session) -> _Span:
        instruments = _Otel.current()
        if instruments is None:
            return cls()
        from opentelemetry import context, trace

        attributes = {
            "shopify_sessions.shop": session.shop,
            "shopify_sessions.session_id": session.id,
        }
        span = instruments.tracer.start_span(SPAN_NAME, attributes=attributes)
        return cls(span, context.attach(trace.set_span_in_context(span)))

    def finish(
        self,
        outcome: str,
        request_id: str | None,
        error: BaseException | None,
        described: str | None,
    ) -> None:
        if self._span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute("shopify_sessions.outcome", outcome)
        if request_id is not None:
            self._span.set_attribute("shopify_sessions.request_id", request_id)
        if error is not None:
            self._span.set_attribute("error.type", type(error).__name__)
            self._span.set_status(Status(StatusCode.ERROR, described))

    def end(self, abandoned: bool = False) -> None:
        """End the span (once) and make the previous one current again. An abandoned run is
        closed by the garbage collector, maybe in another context: that one is left alone."""
        span, token, self._span, self._token = self._span, self._token, None, None
        if span is None:
            return
        from opentelemetry import context, trace

        if token is not None and (not abandoned or trace.get_current_span() is span):
            context.detach(token)
        span.end()
