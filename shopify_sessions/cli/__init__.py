"""The ``shopify-sessions`` command line: tables, sessions, backups and a local endpoint.

shopify-sessions serve-local --data sessions.jsonl     # a local DynamoDB, no AWS account
shopify-sessions --help
"""

from . import (  # noqa: F401 - they register the commands
    _doctor,
    _import_from,
    _local,
    _sessions,
    _tables,
    _tokens,
    _transfer,
)
from ._app import cli, main

__all__ = ["cli", "main"]
