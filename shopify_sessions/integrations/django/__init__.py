"""A Django app: one session storage per process from ``settings.SHOPIFY_SESSIONS``, and a
system check that verifies the table on ``manage.py check`` (and before ``runserver``).

Why an app rather than five lines in your project: the storage is built from settings once per
process and rebuilt when a test changes the setting (``override_settings``), and a missing or
mismatched table is reported by ``manage.py check`` at deploy time instead of by the first
request of the first merchant::

    INSTALLED_APPS = [..., "shopify_sessions.integrations.django"]

    SHOPIFY_SESSIONS = {
        "BACKEND": "shopify_sessions.DynamoDBSessionStorage",  # the default
        "OPTIONS": {"session_table_name": "my_app_sessions"},  # its keyword arguments
        "CHECK_TABLE": True,  # the default: one DescribeTable on manage.py check
    }

    from shopify_sessions.integrations.django import get_storage

    storage = get_storage()

Every key is optional (no setting: ``DynamoDBSessionStorage()`` configured by the
environment, as anywhere else). In tests, ``"BACKEND": "shopify_sessions.MemorySessionStorage"``.
Needs Django: ``pip install 'shopify-sessions[django]'``.
"""

from __future__ import annotations

import threading
from typing import Any

try:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "shopify_sessions.integrations.django needs Django: pip install 'shopify-sessions[django]'"
    ) from exc

from shopify_sessions.session_storage import SessionStorage

__all__ = ["DEFAULT_BACKEND", "SETTING", "get_storage", "reset_storage", "storage_settings"]

SETTING = "SHOPIFY_SESSIONS"
DEFAULT_BACKEND = "shopify_sessions.DynamoDBSessionStorage"
_KEYS = frozenset({"BACKEND", "OPTIONS", "CHECK_TABLE"})

_lock = threading.Lock()
_storage: SessionStorage | None = None


def storage_settings() -> dict[str, Any]:
    """``settings.SHOPIFY_SESSIONS`` with defaults filled in; ``ImproperlyConfigured`` naming
    what is wrong (never a value: OPTIONS may hold credentials)."""
    raw = getattr(settings, SETTING, None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"{SETTING} must be a dict, got {type(raw).__name__}")
    unknown = sorted(str(key) for key in set(raw) - _KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING} has unknown keys {unknown}; allowed: {sorted(_KEYS)}"
        )
    backend = raw.get("BACKEND", DEFAULT_BACKEND)
    options = raw.get("OPTIONS", {})
    check_table = raw.get("CHECK_TABLE", True)
    if not isinstance(backend, str) or not backend:
        raise ImproperlyConfigured(f"{SETTING}['BACKEND'] must be a dotted path to a class")
    if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
        raise ImproperlyConfigured(f"{SETTING}['OPTIONS'] must be a dict of keyword arguments")
    if not isinstance(check_table, bool):
        raise ImproperlyConfigured(f"{SETTING}['CHECK_TABLE'] must be True or False")
    return {"BACKEND": backend, "OPTIONS": dict(options), "CHECK_TABLE": check_table}


def _build(config: dict[str, Any]) -> SessionStorage:
    path = config["BACKEND"]
    try:
        factory = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"{SETTING}['BACKEND']: cannot import {path!r}") from error
    try:
        storage = factory(**config["OPTIONS"])
    except TypeError as error:  # an unknown option: the message names the argument only
        raise ImproperlyConfigured(f"{SETTING}['OPTIONS'] for {path}: {error}") from None
    except ValueError as error:  # the storage's own messages name the option, not a secret
        raise ImproperlyConfigured(f"{SETTING}['OPTIONS'] for {path}: {error}") from None
    if not isinstance(storage, SessionStorage):
        raise ImproperlyConfigured(f"{SETTING}['BACKEND'] {path!r} is not a session storage")
    return storage


def get_storage() -> SessionStorage:
    """The process's storage, built from settings on first use (thread-safe; forks are safe:
    the storage renews its connections in a child process)."""
    global _storage
    storage = _storage
    if storage is not None:
        return storage
    with _lock:
        if _storage is None:
            _storage = _build(storage_settings())
        return _storage


def reset_storage() -> None:
    """Close and forget the storage; the next ``get_storage()`` builds it from settings again.

    Called when ``SHOPIFY_SESSIONS`` changes (``override_settings``), so tests get theirs."""
    global _storage
    with _lock:
        storage, _storage = _storage, None
    if storage is not None:
        storage.close()
