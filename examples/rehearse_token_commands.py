"""Rehearse ``migrate-to-expiring`` and ``keep-warm`` against FakeShopify, before the real run.

Starts a local DynamoDB endpoint and a fake Shopify token endpoint, both on 127.0.0.1, fills
the table, then runs the commands exactly as an operator would, pointed at the two with
``--endpoint-url`` and ``SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT``. No AWS account, no real shop:

    python examples/rehearse_token_commands.py               # three demo shops
    python examples/rehearse_token_commands.py backup.jsonl  # a copy of your table

A copy is made with ``shopify-sessions export backup.jsonl``; the fake accepts its offline
tokens as the shops' current ones, and nothing leaves this machine. Needs
``pip install 'shopify-sessions[local]'`` and the package's testing helpers (httpx).
"""

from __future__ import annotations

import os
import subprocess
import sys

from shopify_sessions import Session, offline_session_id
from shopify_sessions.local.endpoint import LocalEndpoint
from shopify_sessions.testing import FakeShopify

DEMO_SHOPS = ["alpha.myshopify.com", "beta.myshopify.com", "gone.myshopify.com"]


def main(copy: str | None = None) -> None:
    with LocalEndpoint() as local, FakeShopify() as shopify:
        storage = local.storage()
        if copy is not None:
            print(f"loaded {local.load(copy)} sessions from {copy}")
        else:  # shops installed years ago, with non-expiring offline tokens
            for shop in DEMO_SHOPS:
                token = shopify.install(shop, expiring=False).access_token
                storage.store_session(
                    Session(offline_session_id(shop), shop, "", False, None, None, token)
                )
        for session in storage.iter_sessions():  # the fake accepts the table's tokens
            if not session.is_online and session.expires is None and session.access_token:
                shopify.install(session.shop, expiring=False, access_token=session.access_token)
        if copy is None:
            shopify.uninstall(DEMO_SHOPS[2])  # a merchant who uninstalled: reauthorization

        environment = {
            **os.environ,
            "SHOPIFY_API_KEY": shopify.client_id,
            "SHOPIFY_API_SECRET": shopify.client_secret,
            "SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT": shopify.url,
        }
        for command in (
            ["migrate-to-expiring", "--dry-run"],
            ["migrate-to-expiring"],
            ["keep-warm", "--days", "90"],
        ):
            print(f"$ shopify-sessions --endpoint-url {local.url} {' '.join(command)}")
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "shopify_sessions.cli",
                    "--endpoint-url",
                    local.url,
                    *command,
                ],
                env=environment,
                capture_output=True,
                text=True,
                check=False,
            )
            print(done.stdout + done.stderr, end="")
            print(f"(exit code {done.returncode})")
        print(f"token requests Shopify would have answered: {shopify.call_count()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
