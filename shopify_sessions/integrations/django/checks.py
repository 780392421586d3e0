"""``manage.py check``: the sessions table exists and has the Node adapter's schema.

One DescribeTable. A table that is missing or unlike the schema is an error (the app cannot
work); a refused DescribeTable or an unreachable endpoint is a warning (the app may still work,
and a check must not block a deploy because of the network).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from shopify_sessions.errors import (
    AccessDeniedError,
    SchemaMismatchError,
    SessionStorageError,
    StorageUnavailableError,
    TableNotFoundError,
)

from . import SETTING, get_storage, storage_settings

__all__ = ["check_table"]

LABEL = "shopify_sessions"
_OFF = f"or set {SETTING}['CHECK_TABLE'] = False to skip this check"


def check_table(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """The Django system check; ids ``shopify_sessions.E001``-``E004``, ``W001``-``W002``."""
    if app_configs is not None and not any(c.label == LABEL for c in app_configs):
        return []  # `manage.py check other_app`
    try:
        if not storage_settings()["CHECK_TABLE"]:
            return []
        storage = get_storage()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id=f"{LABEL}.E001")]
    try:
        storage.verify_table()
    except TableNotFoundError as error:
        return [checks.Error(str(error), id=f"{LABEL}.E002")]
    except SchemaMismatchError as error:
        hint = "point OPTIONS at the Node adapter's table, or create a new one with create-table"
        return [checks.Error(str(error), hint=hint, id=f"{LABEL}.E003")]
    except AccessDeniedError as error:
        hint = f"allow dynamodb:{error.action} to the app's role, {_OFF}"
        return [checks.Warning(str(error), hint=hint, id=f"{LABEL}.W001")]
    except StorageUnavailableError as error:
        hint = f"is the endpoint reachable from here? {_OFF}"
        return [checks.Warning(str(error), hint=hint, id=f"{LABEL}.W002")]
    except SessionStorageError as error:
        return [checks.Error(str(error), id=f"{LABEL}.E004")]
    return []
