"""Quick start: store, load, find and delete Shopify sessions in DynamoDB.

Runs with no AWS account: when no endpoint is configured (``AWS_ENDPOINT_URL_DYNAMODB`` or
``AWS_ENDPOINT_URL``), it starts moto's DynamoDB-compatible server on 127.0.0.1 first (the
``local`` extra). The steps are in ``shopify_sessions/demo.py``; ``shopify-sessions demo`` runs
the same.

    python examples/quickstart.py
"""

from __future__ import annotations

import os

from shopify_sessions.demo import run_demo


def main() -> None:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    run_demo(endpoint)  # None: an embedded endpoint


if __name__ == "__main__":
    main()
