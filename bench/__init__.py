"""Benchmark: shopify_sessions vs Shopify's Node adapter vs the floor, on dynalite.

Run ``python -m bench`` (``--quick`` for a smoke run) from the repository root; it needs Node
and ``npm ci`` in ``tests/interop``. ``run(Options(...))`` returns a ``Report``;
``count_wire_requests(endpoint, "find", n)`` counts what one Python call sends, for tests.
"""

from __future__ import annotations

import os

# Before shopify_sessions or botocore are imported: only loopback endpoints, fake credentials.
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
)

from .runner import Options, Report, count_wire_requests, run  # noqa: E402

__all__ = ["Options", "Report", "count_wire_requests", "run"]
