"""Reading SQL sources: SQLite (standard library), PostgreSQL (psycopg 3), MySQL (PyMySQL).

Each reader lists the tables with their column types (for :mod:`.detect`), then yields every
row of the chosen table as a column -> value mapping. Connections are read-only where the
driver allows it; nothing is ever written to a source.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .drivers import driver
from .source_read import ImportSourceError

__all__ = ["SqlReader", "open_sql"]

BATCH = 1000
_DQ = '"'
# query parameters of Prisma's DATABASE_URL that libpq does not know (it refuses them)
_PRISMA_ONLY = {
    "schema",
    "connection_limit",
    "pool_timeout",
    "pgbouncer",
    "statement_cache_size",
    "socket_timeout",
    "sslaccept",
}


class SqlReader(Protocol):
    def tables(self) -> dict[str, dict[str, str]]: ...

    def rows(self, table: str) -> Iterator[dict[str, Any]]: ...


@contextmanager
def open_sql(kind: str, target: str) -> Iterator[SqlReader]:
    """A reader for ``kind`` (sqlite, postgresql, mysql) at ``target`` (a path or URL)."""
    if kind == "sqlite":
        with _sqlite(target) as reader:
            yield reader
    elif kind == "postgresql":
        with _postgresql(target) as reader:
            yield reader
    else:
        with _mysql(target) as reader:
            yield reader


class _Sqlite:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def tables(self) -> dict[str, dict[str, str]]:
        names = [
            row[0]
            for row in self.connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: {
                str(column[1]).lower(): str(column[2])
                for column in self.connection.execute(f"PRAGMA table_info({_quote(name, _DQ)})")
            }
            for name in names
        }

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        cursor = self.connection.execute(f"SELECT * FROM {_quote(table, _DQ)}")
        names = [column[0] for column in cursor.description]
        while batch := cursor.fetchmany(BATCH):
            for row in batch:
                yield dict(zip(names, row, strict=True))


@contextmanager
def _sqlite(path: str) -> Iterator[SqlReader]:
    if not Path(path).is_file():
        raise ImportSourceError(f"no SQLite database at {path}")
    uri = f"file:{Path(path).resolve().as_posix()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise ImportSourceError(f"{path} is not a readable SQLite database ({error})") from None
    connection.text_factory = _strict_text
    with closing(connection):
        yield _Sqlite(connection)


def _strict_text(data: bytes) -> str | bytes:
    """SQLite text as str; text that is not UTF-8 stays bytes, so the row's converter names
    the field (never a U+FFFD stored in its place)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


class _Postgres:
    def __init__(self, connection: Any, sql: Any) -> None:
        self.connection = connection
        self.sql = sql

    def tables(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        rows = self.connection.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
            "AND a.attnum > 0 AND NOT a.attisdropped"
        ).fetchall()
        for table, column, kind in rows:
            found.setdefault(table, {})[str(column).lower()] = kind
        return found

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        query = self.sql.SQL("SELECT * FROM {}").format(self.sql.Identifier(table))
        with self.connection.cursor() as cursor:
            cursor.execute(query)
            names = [column.name for column in cursor.description]
            while batch := cursor.fetchmany(BATCH):
                for row in batch:
                    yield dict(zip(names, row, strict=True))


@contextmanager
def _postgresql(url: str) -> Iterator[SqlReader]:
    psycopg = driver("psycopg", "postgresql")
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = dict(query).get("schema")
    kept = urlencode([(key, value) for key, value in query if key not in _PRISMA_ONLY])
    conninfo = urlunsplit(parts._replace(scheme="postgresql", query=kept))
    options = {"options": f"-c search_path={schema}"} if schema else {}
    try:
        connection = psycopg.connect(conninfo, connect_timeout=15, **options)
    except psycopg.Error as error:
        raise ImportSourceError(f"cannot connect to PostgreSQL: {_first_line(error)}") from None
    connection.read_only = True
    with closing(connection):
        yield _Postgres(connection, driver("psycopg.sql", "postgresql"))


class _MySql:
    def __init__(self, connection: Any, pymysql: Any) -> None:
        self.connection = connection
        self.pymysql = pymysql

    def tables(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE()"
            )
            for table, column, kind in cursor.fetchall():
                found.setdefault(str(table), {})[str(column).lower()] = str(kind)
        return found

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        with self.connection.cursor(self.pymysql.cursors.SSCursor) as cursor:
            cursor.execute(f"SELECT * FROM {_quote(table, '`')}")
            names = [column[0] for column in cursor.description]
            while batch := cursor.fetchmany(BATCH):
                for row in batch:
                    yield dict(zip(names, row, strict=True))


@contextmanager
def _mysql(url: str) -> Iterator[SqlReader]:
    pymysql = driver("pymysql", "mysql")
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImportSourceError("the MySQL URL names no database: mysql://user@host/DATABASE")
    params = dict(parse_qsl(parts.query))
    try:
        connection = pymysql.connect(
            host=parts.hostname or "localhost",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=database,
            unix_socket=params.get("socket"),
            charset="utf8mb4",
            connect_timeout=15,
        )
    except pymysql.MySQLError as error:
        raise ImportSourceError(f"cannot connect to MySQL: {_first_line(error)}") from None
    with closing(connection):
        yield _MySql(connection, pymysql)


def _quote(name: str, mark: str) -> str:
    return mark + name.replace(mark, mark * 2) + mark


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
