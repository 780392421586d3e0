"""SQL rows -> ``Session``: Shopify's own SQL adapters, and the Prisma / Drizzle ``Session`` model.

Pure functions of one row (a column -> value mapping as the driver returns it), so every
encoding is unit-testable without a server. Sources, at the npm versions the tests pin:

- ``@shopify/shopify-app-session-storage-sqlite`` 8.0.0 and ``-mysql`` 8.0.0 (``dist/esm``,
  ``storeSession``): ``toPropertyArray(true)`` with ``expires`` **and** ``refreshTokenExpires``
  divided by 1000 (epoch seconds); booleans as 0/1.
- ``@shopify/shopify-app-session-storage-postgresql`` 8.0.0: only ``expires`` is divided by
  1000; ``refreshTokenExpires`` stays in **milliseconds** (a ``bigint`` column).
- Older tables of those adapters: lower-case ``isonline`` / ``accesstoken`` columns and an
  ``onlineAccessInfo`` column holding the user id only; read the same way.
- ``toPropertyArray(true)`` never had ``onlineAccessInfo.expires_in`` nor
  ``associated_user_scope``: imports from these tables have neither (none is invented).
- ``@shopify/shopify-app-session-storage-prisma`` 11.0.0 ``sessionToRow`` and
  ``-drizzle`` 6.0.0: camelCase columns, DateTime values, a BigInt ``userId``; Prisma writes
  ``accountOwner``/``collaborator``/``emailVerified`` as ``false`` when absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopify_sessions.domain.session import AssociatedUser, OnlineAccessInfo, Session

from .values import (
    Unit,
    as_bool,
    as_user_id,
    epoch_ms_value,
    lower_keys,
    orm_datetime,
    text_or_none,
)

__all__ = ["SHOPIFY_SQL_UNITS", "orm_row_to_session", "shopify_row_to_session"]

# dialect -> (expires unit, refreshTokenExpires unit), from each adapter's storeSession
SHOPIFY_SQL_UNITS: dict[str, tuple[Unit, Unit]] = {
    "sqlite": ("s", "s"),
    "mysql": ("s", "s"),
    "postgresql": ("s", "ms"),
}
_DATE_COLUMNS = ("expires", "refreshtokenexpires")
_REQUIRED = ("id", "shop", "state", "isonline")


def _required(row: Mapping[str, Any]) -> None:
    missing = [name for name in _REQUIRED if row.get(name) is None]
    if missing:
        raise ValueError(f"{', '.join(repr(name) for name in missing)} missing")


def shopify_row_to_session(row: Mapping[str, Any], dialect: str) -> Session:
    """A row of Shopify's own SQL adapter for ``dialect`` (sqlite, mysql, postgresql)."""
    units = dict(zip(_DATE_COLUMNS, SHOPIFY_SQL_UNITS[dialect], strict=True))
    pairs: list[tuple[str, Any]] = []
    lowered = lower_keys(row)
    _required(lowered)
    for key, value in lowered.items():
        if value is None:
            continue
        if key in units:
            value = epoch_ms_value(_NAMES[key], value, units[key])
        elif key in ("id", "shop", "state", "scope", "accesstoken", "refreshtoken"):
            value = text_or_none(key, value)
        elif key in ("userid", "onlineaccessinfo"):
            value = as_user_id(key, value)
        elif key in ("isonline", "accountowner", "collaborator", "emailverified"):
            value = as_bool(key, value)
        elif isinstance(value, bytes):  # other text columns (firstName, email, ...)
            value = text_or_none(key, value)
        pairs.append((key, value))
    return Session.from_property_array(pairs, return_user_data=True)


_NAMES = {"expires": "expires", "refreshtokenexpires": "refreshTokenExpires"}


def orm_row_to_session(row: Mapping[str, Any]) -> Session:
    """A row of the ``Session`` model of Prisma or Drizzle (any database, any driver)."""
    lowered = lower_keys(row)
    _required(lowered)
    is_online = as_bool("isOnline", lowered["isonline"])
    info = None
    if is_online:
        user_id = as_user_id("userId", lowered.get("userid"))
        user = None
        if user_id is not None:
            user = AssociatedUser(
                id=user_id,
                first_name=text_or_none("firstName", lowered.get("firstname")),
                last_name=text_or_none("lastName", lowered.get("lastname")),
                email=text_or_none("email", lowered.get("email")),
                email_verified=as_bool("emailVerified", lowered.get("emailverified")),
                account_owner=as_bool("accountOwner", lowered.get("accountowner")),
                locale=text_or_none("locale", lowered.get("locale")),
                collaborator=as_bool("collaborator", lowered.get("collaborator")),
            )
        info = OnlineAccessInfo(associated_user=user)
    return Session(
        id=_text("id", lowered["id"]),
        shop=_text("shop", lowered["shop"]),
        state=_text("state", lowered["state"]),
        is_online=bool(is_online),
        scope=text_or_none("scope", lowered.get("scope")),
        expires=orm_datetime("expires", lowered.get("expires")),
        access_token=text_or_none("accessToken", lowered.get("accesstoken")),
        refresh_token=text_or_none("refreshToken", lowered.get("refreshtoken")),
        refresh_token_expires=orm_datetime(
            "refreshTokenExpires", lowered.get("refreshtokenexpires")
        ),
        online_access_info=info,
    )


def _text(field: str, value: Any) -> str:
    text = text_or_none(field, value)
    if text is None:
        raise ValueError(f"{field!r} missing")
    return text
