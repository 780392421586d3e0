"""Benchmark: shopify_sessions vs Shopify's Node adapter vs the floor, on dynalite.

Run ``python -m bench`` (``--quick`` for a smoke run) from the repository root; it needs Node
and ``npm ci`` in ``tests/interop``. ``run(Options(...))`` returns a ``Report``;
``count_wire_requests(endpoint, "find", n)`` counts what one Python call sends, for tests.
"""

from __future__ import annotations

from tests.support.fake_aws import use_fake_aws_environment

# Before shopify_sessions or botocore are imported: only loopback endpoints, fake credentials.
use_fake_aws_environment()

from .runner import Options, Report, count_wire_requests, run  # noqa: E402

__all__ = ["Options", "Report", "count_wire_requests", "run"]
