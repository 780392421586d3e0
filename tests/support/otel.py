"""OpenTelemetry's SDK as the global providers, with an in-memory reader and span exporter.

The API lets a process set its providers once; :func:`global_otel` resets them before and
after (as opentelemetry-test-utils does), so each test, and a documentation example run in
the same process, sets its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once


@dataclass
class Captured:
    """What the global providers received during one test."""

    reader: InMemoryMetricReader
    exporter: InMemorySpanExporter

    def points(self, name: str) -> list[Any]:
        """The data points of the metric ``name`` (cumulative since the test began)."""
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        return list(metric.data.data_points)
        return []

    def by_outcome(self, name: str) -> dict[str, Any]:
        """A counter's values, or a histogram's counts, by their ``outcome`` attribute."""
        return {
            point.attributes["outcome"]: getattr(point, "value", None) or point.count
            for point in self.points(name)
        }

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


def reset_globals() -> None:
    """As if no provider had been set in this process."""
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@contextmanager
def global_otel() -> Iterator[Captured]:
    """Fresh SDK providers, set as OpenTelemetry's global ones until the block ends."""
    reset_globals()
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics.set_meter_provider(meter_provider)
    trace.set_tracer_provider(tracer_provider)
    try:
        yield Captured(reader, exporter)
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()
        reset_globals()
