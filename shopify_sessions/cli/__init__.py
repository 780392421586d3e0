"""The ``shopify-sessions`` command line: tables, sessions, backups and a local endpoint.

shopify-sessions serve-local --data sessions.jsonl     # a local DynamoDB, no AWS account
shopify-sessions --help
"""

from . import _import_from, _local, _sessions, _tables, _tokens, _transfer  # noqa: F401 - they register the commands
from ._app import cli, main

__all__ = ["cli", "main"]
