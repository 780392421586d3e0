"""The Prisma template's ``Session`` table, built without Prisma (its engines cannot run here).

Prisma needs its query and schema engines (native binaries it downloads at install time), so
no real Prisma writer runs in these tests. Instead the table is created with the DDL that
``prisma migrate`` generates for the template's model, and rows are written with the values
``PrismaSessionStorage.sessionToRow`` gives and the encodings Prisma uses for them:

- the model: ``prisma/schema.prisma`` of Shopify's app template
  (Shopify/shopify-app-template-react-router): ``id String @id``, ``isOnline Boolean
  @default(false)``, ``expires DateTime?``, ``accessToken String``, ``userId BigInt?``,
  ``accountOwner Boolean @default(false)``, ``collaborator``/``emailVerified Boolean?
  @default(false)``, ``refreshToken String?``, ``refreshTokenExpires DateTime?``;
- the values: ``@shopify/shopify-app-session-storage-prisma`` 11.0.0, ``dist/esm/prisma.mjs``
  ``sessionToRow``: ``scope || null``, ``accessToken || ''``, ``userId || null``, the three
  flags ``|| false`` (absent becomes false), dates as ``Date``;
- the DDL per database: Prisma's type mapping (SQLite ``DATETIME``/``BIGINT``/``BOOLEAN``;
  PostgreSQL ``TIMESTAMP(3)``, ``BIGINT``, ``TEXT``; MySQL ``DATETIME(3)``, ``VARCHAR(191)``,
  ``BOOLEAN``), as in the template's migration ``create_session_table``;
- the date encodings: Prisma's native SQLite connector stores integer epoch milliseconds, its
  SQLite driver adapters (better-sqlite3, libsql) ISO-8601 text as ``Date.toISOString()``
  writes it (prisma/orm#25948, prisma/prisma-engines#5571); PostgreSQL and MySQL get naive
  UTC timestamps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from shopify_sessions import Session

SqliteDates = Literal["epoch_ms", "iso"]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_COLUMNS = (
    "id",
    "shop",
    "state",
    "isOnline",
    "scope",
    "expires",
    "accessToken",
    "userId",
    "firstName",
    "lastName",
    "email",
    "accountOwner",
    "locale",
    "collaborator",
    "emailVerified",
    "refreshToken",
    "refreshTokenExpires",
)

_QUOTED = ", ".join(f'"{c}"' for c in _COLUMNS)

SQLITE_DDL = """CREATE TABLE "Session" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "shop" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "isOnline" BOOLEAN NOT NULL DEFAULT false,
    "scope" TEXT,
    "expires" DATETIME,
    "accessToken" TEXT NOT NULL,
    "userId" BIGINT,
    "firstName" TEXT,
    "lastName" TEXT,
    "email" TEXT,
    "accountOwner" BOOLEAN NOT NULL DEFAULT false,
    "locale" TEXT,
    "collaborator" BOOLEAN DEFAULT false,
    "emailVerified" BOOLEAN DEFAULT false,
    "refreshToken" TEXT,
    "refreshTokenExpires" DATETIME
)"""

POSTGRESQL_DDL = """CREATE TABLE "Session" (
    "id" TEXT NOT NULL,
    "shop" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "isOnline" BOOLEAN NOT NULL DEFAULT false,
    "scope" TEXT,
    "expires" TIMESTAMP(3),
    "accessToken" TEXT NOT NULL,
    "userId" BIGINT,
    "firstName" TEXT,
    "lastName" TEXT,
    "email" TEXT,
    "accountOwner" BOOLEAN NOT NULL DEFAULT false,
    "locale" TEXT,
    "collaborator" BOOLEAN DEFAULT false,
    "emailVerified" BOOLEAN DEFAULT false,
    "refreshToken" TEXT,
    "refreshTokenExpires" TIMESTAMP(3),

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
)"""

MYSQL_DDL = """CREATE TABLE `Session` (
    `id` VARCHAR(191) NOT NULL,
    `shop` VARCHAR(191) NOT NULL,
    `state` VARCHAR(191) NOT NULL,
    `isOnline` BOOLEAN NOT NULL DEFAULT false,
    `scope` VARCHAR(191) NULL,
    `expires` DATETIME(3) NULL,
    `accessToken` VARCHAR(191) NOT NULL,
    `userId` BIGINT NULL,
    `firstName` VARCHAR(191) NULL,
    `lastName` VARCHAR(191) NULL,
    `email` VARCHAR(191) NULL,
    `accountOwner` BOOLEAN NOT NULL DEFAULT false,
    `locale` VARCHAR(191) NULL,
    `collaborator` BOOLEAN NULL DEFAULT false,
    `emailVerified` BOOLEAN NULL DEFAULT false,
    `refreshToken` VARCHAR(191) NULL,
    `refreshTokenExpires` DATETIME(3) NULL,

    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"""


def session_to_row(session: Session) -> dict[str, Any]:
    """``PrismaSessionStorage.sessionToRow`` (11.0.0), dates still as datetimes."""
    info = session.online_access_info
    user = info.associated_user if info is not None else None
    return {
        "id": session.id,
        "shop": session.shop,
        "state": session.state,
        "isOnline": session.is_online,
        "scope": session.scope or None,
        "expires": session.expires,
        "accessToken": session.access_token or "",
        "userId": (user.id or None) if user else None,
        "firstName": (user.first_name or None) if user else None,
        "lastName": (user.last_name or None) if user else None,
        "email": (user.email or None) if user else None,
        "accountOwner": bool(user and user.account_owner),
        "locale": (user.locale or None) if user else None,
        "collaborator": bool(user and user.collaborator),
        "emailVerified": bool(user and user.email_verified),
        "refreshToken": session.refresh_token or None,
        "refreshTokenExpires": session.refresh_token_expires,
    }


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _sqlite_value(value: Any, dates: SqliteDates) -> Any:
    if isinstance(value, datetime):
        if dates == "epoch_ms":
            return (value - _EPOCH) // timedelta(milliseconds=1)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}Z"
        )
    if isinstance(value, bool):
        return int(value)
    return value


def write_sqlite(path: str, sessions: Sequence[Session], dates: SqliteDates) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(SQLITE_DDL)
        for session in sessions:
            row = session_to_row(session)
            connection.execute(
                f'INSERT INTO "Session" ({_QUOTED}) VALUES ({", ".join("?" for _ in _COLUMNS)})',
                [_sqlite_value(row[c], dates) for c in _COLUMNS],
            )
    connection.close()


def write_postgresql(url: str, sessions: Sequence[Session]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(POSTGRESQL_DDL)
        for session in sessions:
            row = session_to_row(session)
            connection.execute(
                f'INSERT INTO "Session" ({_QUOTED}) VALUES ({", ".join("%s" for _ in _COLUMNS)})',
                [_naive_utc(row[c]) for c in _COLUMNS],
            )


def write_mysql(port: int, sessions: Sequence[Session]) -> None:
    import pymysql

    connection = pymysql.connect(
        host="127.0.0.1",
        port=port,
        user="root",
        database="sessions",
        charset="utf8mb4",
        autocommit=True,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(MYSQL_DDL)
            columns = ", ".join(f"`{c}`" for c in _COLUMNS)
            for session in sessions:
                row = session_to_row(session)
                cursor.execute(
                    f"INSERT INTO `Session` ({columns}) "
                    f"VALUES ({', '.join('%s' for _ in _COLUMNS)})",
                    [_naive_utc(row[c]) for c in _COLUMNS],
                )
    finally:
        connection.close()
