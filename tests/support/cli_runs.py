"""Running the ``shopify-sessions`` command in tests, and what its tests share.

:func:`run` runs one command (forked from the CLI zygote, ``cli_process.py``, or as the given
``command``) and checks it printed no traceback; :class:`Run` is its result. Two shops' sessions
with tokens made of letters ordinary output never strings together (:func:`sessions`), so
:func:`assert_no_token` finds any leaked piece of one.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from datetime import datetime, timedelta, timezone
from typing import Any

from shopify_sessions import DynamoDBSessionStorage, Session
from shopify_sessions.formats.node_json import node_json_to_session, session_to_node_json
from tests.conftest import raw_dynamodb_client

from .cli_process import CLI, run_cli, serve_local
from .dynalite import free_port

__all__ = [
    "ALPHA",
    "BETA",
    "CLI",
    "NOW",
    "Run",
    "assert_no_token",
    "assert_one_line_error",
    "free_port",
    "jsonl",
    "raw_items",
    "run",
    "secret_token",
    "serve_local",
    "sessions",
    "storage",
    "tokens_of",
]

NOW = datetime.now(timezone.utc)
ALPHA, BETA = "alpha.myshopify.com", "beta.myshopify.com"


def secret_token(prefix: str) -> str:
    # letters that ordinary output never strings together, so any leaked piece is found
    return prefix + "".join(random.choices("QXZJVKW", k=24))


class Run:
    """One finished subprocess: exit code, stdout, stderr."""

    def __init__(self, process: subprocess.CompletedProcess[str]) -> None:
        self.code = process.returncode
        self.out = process.stdout
        self.err = process.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Run(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


def run(
    *args: str,
    endpoint: str | None = None,
    table: str | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    command: list[str] | None = None,
) -> Run:
    options = []
    if endpoint is not None:
        options += ["--endpoint-url", endpoint]
    if table is not None:
        options += ["--table", table]
    environment = {**os.environ, **(env or {})}
    if command is None:  # python -m shopify_sessions.cli, forked from a zygote
        process = run_cli([*options, *args], environment, stdin, timeout=60)
    else:
        process = subprocess.run(
            [*command, *options, *args],
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    result = Run(process)
    assert "Traceback" not in result.err, result
    return result


def assert_one_line_error(result: Run, *fragments: str) -> None:
    assert result.code != 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    for fragment in fragments:
        assert fragment in lines[0], result


def assert_no_token(text: str, tokens: list[str]) -> None:
    for token in tokens:
        assert token[:6] not in text, f"token prefix {token[:6]!r} shown"
        for start in range(len(token) - 4):
            assert token[start : start + 5] not in text, "a piece of a token is shown"


def sessions() -> list[Session]:
    """Two shops: offline and online sessions, one with a refresh token."""
    return [
        Session(
            id=f"offline_{ALPHA}",
            shop=ALPHA,
            state="s1",
            is_online=False,
            scope="write_products",
            access_token=secret_token("shpat_"),
        ),
        Session(
            id=f"{ALPHA}_7",
            shop=ALPHA,
            state="s2",
            is_online=True,
            scope="read_orders",
            expires=NOW - timedelta(days=1),
            access_token=secret_token("shpua_"),
            online_access_info=node_json_to_session(
                {
                    "id": "x",
                    "shop": "x",
                    "state": "x",
                    "isOnline": True,
                    "onlineAccessInfo": {
                        "expires_in": 86400,
                        "associated_user_scope": "read_orders",
                        "associated_user": {"id": 7, "first_name": "Grace", "email": "g@e.com"},
                    },
                }
            ).online_access_info,
        ),
        Session(
            id=f"offline_{BETA}",
            shop=BETA,
            state="s3",
            is_online=False,
            expires=NOW - timedelta(hours=2),
            access_token=secret_token("shpat_"),
            refresh_token=secret_token("shprt_"),
            refresh_token_expires=NOW + timedelta(days=30),
        ),
    ]


def tokens_of(items: list[Session]) -> list[str]:
    return [t for s in items for t in (s.access_token, s.refresh_token) if t]


def jsonl(items: list[Session]) -> str:
    return "".join(json.dumps(session_to_node_json(s)) + "\n" for s in items)


def storage(endpoint: str, table: str, **kwargs: Any) -> DynamoDBSessionStorage:
    return DynamoDBSessionStorage(table, host=endpoint, **kwargs)


def raw_items(endpoint: str, table: str) -> dict[str, dict[str, Any]]:
    client = raw_dynamodb_client(endpoint)
    return {i["id"]["S"]: i for i in client.scan(TableName=table, ConsistentRead=True)["Items"]}
