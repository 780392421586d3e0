"""Database drivers, imported only when a source needs one: a missing one is a one-line error."""

from __future__ import annotations

import importlib
from types import ModuleType

from shopify_sessions.local.endpoint import MissingExtraError

__all__ = ["IMPORT_EXTRA_HINT", "driver"]

IMPORT_EXTRA_HINT = "pip install 'shopify-sessions[import]'"
_PACKAGES = {"psycopg": "psycopg 3", "pymysql": "PyMySQL", "redis": "redis-py"}


def driver(module: str, scheme: str) -> ModuleType:
    """``import module``, or ``MissingExtraError`` naming the pip command."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"reading {scheme}:// sources needs {_PACKAGES.get(module, module)}: "
            f"{IMPORT_EXTRA_HINT}"
        ) from None
