"""Errors raised by session storages.

Every storage method raises a :class:`SessionStorageError` (or a subclass) instead of a raw
botocore or PynamoDB exception, so an app needs one ``except`` clause. Messages never contain
tokens.
"""

from __future__ import annotations

__all__ = ["CorruptSessionError", "SessionStorageError", "TableNotFoundError"]


class SessionStorageError(Exception):
    """Base class: a storage operation failed; the message says which and why."""


class TableNotFoundError(SessionStorageError):
    """The sessions table does not exist (or is not visible with these credentials)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        super().__init__(
            f"DynamoDB table {table_name!r} does not exist: create it with "
            f"DynamoDBSessionStorage(...).create_table() or SessionModel.create_table(wait=True)"
        )


class CorruptSessionError(SessionStorageError):
    """A stored item cannot be read as a session; names the item and the bad attribute."""

    def __init__(self, session_id: str, attribute: str, reason: str) -> None:
        self.session_id = session_id
        self.attribute = attribute
        super().__init__(f"session {session_id!r}: attribute {attribute!r} {reason}")
