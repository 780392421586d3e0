"""Which storage wrote a source: from the URL, the tables and column types, or a file's content.

Column types tell the SQL writers apart (the table name may have been changed):
``expires`` as an integer is Shopify's own adapter (epoch seconds); ``DATETIME`` (SQLite,
MySQL) or ``timestamp(3)`` (PostgreSQL) is Prisma, whose migrations declare exactly those;
``timestamp`` without precision (PostgreSQL, MySQL) or ``text`` (SQLite) is Drizzle's schema
from its README.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .source_read import ImportSourceError

__all__ = [
    "FORMATS",
    "SourceSpec",
    "describe",
    "file_format",
    "parse_source",
    "sessions_table",
    "table_format",
]

Kind = Literal["sqlite", "postgresql", "mysql", "redis", "file"]
FORMATS = ("shopify", "prisma", "drizzle", "redis", "kv", "mongodb")
_SQL_FORMATS = ("shopify", "prisma", "drizzle")
_SCHEMES: dict[str, Kind] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "redis": "redis",
    "rediss": "redis",
}
_DIALECT_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL"}
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class SourceSpec:
    """A parsed SOURCE: its kind, the URL or path to open, and how to show it."""

    kind: Kind
    target: str
    shown: str


def parse_source(source: str) -> SourceSpec:
    """``sqlite:///relative``, ``sqlite:////absolute`` (SQLAlchemy's convention), a
    ``postgresql://``, ``mysql://`` or ``redis://`` URL, or a file (KV dump, mongoexport,
    SQLite database)."""
    scheme, sep, rest = source.partition("://")
    if sep and scheme.lower() in _SCHEMES:
        kind = _SCHEMES[scheme.lower()]
        if kind == "sqlite":
            path = rest[1:] if rest.startswith("/") else rest
            if not path:
                raise ImportSourceError("sqlite URL without a path: use sqlite:///relative/path")
            return SourceSpec("sqlite", path, f"sqlite:///{path}")
        return SourceSpec(kind, source, mask_password(source))
    if sep:
        raise ImportSourceError(
            f"unsupported source scheme {scheme!r}: use sqlite:///, postgresql://, mysql://, "
            f"redis:// or a file path"
        )
    if not Path(source).is_file():
        raise ImportSourceError(f"no such file: {source}")
    with Path(source).open("rb") as file:
        head = file.read(len(_SQLITE_MAGIC))
    if head == _SQLITE_MAGIC:
        return SourceSpec("sqlite", source, source)
    return SourceSpec("file", source, source)


def mask_password(url: str) -> str:
    """The URL with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return url.replace(parts.netloc, f"{user}:***@{netloc[1]}", 1)


def table_format(columns: Mapping[str, str]) -> str | None:
    """The writer of a table from its (lower-cased) column names and types; ``None`` when it
    is no sessions table."""
    if not {"id", "shop", "state", "isonline"} <= set(columns):
        return None
    kind = columns.get("expires", "").lower()
    if "datetime" in kind or "(3)" in kind:
        return "prisma"
    if "timestamp" in kind or "text" in kind or "char" in kind:
        return "drizzle"
    return "shopify"  # integer epoch seconds (or no expires column at all)


def sessions_table(
    tables: Mapping[str, Mapping[str, str]], wanted: str | None, forced: str | None
) -> tuple[str, str]:
    """(table, format) to read; an error lists the candidates when it is not clear."""
    if forced is not None and forced not in _SQL_FORMATS:
        known = ", ".join(_SQL_FORMATS)
        raise ImportSourceError(f"--format {forced} is not a SQL format ({known})")
    if wanted is not None:
        if wanted not in tables:
            known = ", ".join(sorted(tables)) or "none"
            raise ImportSourceError(f"no table {wanted!r} (tables: {known})")
        found = table_format(tables[wanted])
        if found is None and forced is None:
            raise ImportSourceError(
                f"table {wanted!r} has no id, shop, state and isOnline columns: not sessions"
            )
        return wanted, forced or str(found)
    candidates = {
        name: fmt for name, columns in tables.items() if (fmt := table_format(columns)) is not None
    }
    if forced is not None:
        matching = {name: fmt for name, fmt in candidates.items() if fmt == forced}
        candidates = matching or candidates
    if len(candidates) == 1:
        ((name, fmt),) = candidates.items()
        return name, forced or fmt
    if not candidates:
        known = ", ".join(sorted(tables)) or "none"
        raise ImportSourceError(f"no sessions table found (tables: {known}); see --source-table")
    listed = ", ".join(f"{name} ({fmt})" for name, fmt in sorted(candidates.items()))
    raise ImportSourceError(f"several sessions tables: {listed}; pass --source-table NAME")


def file_format(first: Any) -> str:
    """``kv`` or ``mongodb``, from the first record of a JSON (Lines) file."""
    if isinstance(first, Mapping):
        if isinstance(first.get("key"), str) and "value" in first:
            return "kv"
        if "shop" in first or "_id" in first or "isOnline" in first:
            return "mongodb"
    raise ImportSourceError(
        'the file is neither a KV dump ([{"key", "value"}]) nor a mongoexport file '
        "(documents with id, shop, ...); pass --format kv or --format mongodb"
    )


def describe(fmt: str, kind: str) -> str:
    """The format in words, with its units: what the output names."""
    if fmt == "shopify":
        dialect = _DIALECT_NAMES.get(kind, kind)
        refresh = "milliseconds" if kind == "postgresql" else "seconds"
        return (
            f"Shopify's {dialect} session storage (expires in epoch seconds, "
            f"refreshTokenExpires in epoch {refresh})"
        )
    return {
        "prisma": "the Prisma Session model (DateTime columns, BigInt userId)",
        "drizzle": "Drizzle's session table (timestamp or ISO text dates)",
        "redis": "Shopify's Redis session storage (property arrays, epoch milliseconds)",
        "kv": "Shopify's KV session storage, a wrangler bulk JSON dump (epoch milliseconds)",
        "mongodb": "Shopify's MongoDB session storage, a mongoexport file (Extended JSON)",
    }[fmt]
