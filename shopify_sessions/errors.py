"""Errors raised by session storages.

Every storage method raises a :class:`SessionStorageError` (or a subclass) instead of a raw
botocore or PynamoDB exception, so an app needs one ``except`` clause. Messages never contain
tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AccessDeniedError",
    "CorruptSessionError",
    "InvalidSessionError",
    "SchemaMismatchError",
    "SessionConflictError",
    "SessionStorageError",
    "StorageUnavailableError",
    "TableNotFoundError",
]


class SessionStorageError(Exception):
    """Base class: a storage operation failed; the message says which and why."""


class TableNotFoundError(SessionStorageError):
    """The sessions table does not exist (or is not visible with these credentials)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        super().__init__(
            f"DynamoDB table {table_name!r} does not exist: create it with "
            f"DynamoDBSessionStorage({table_name!r}).create_table() or "
            f"`shopify-sessions --table {table_name} create-table`"
        )


class CorruptSessionError(SessionStorageError):
    """A stored item cannot be read as a session; names the item and the bad attribute."""

    def __init__(self, session_id: str, attribute: str, reason: str) -> None:
        self.session_id = session_id
        self.attribute = attribute
        super().__init__(f"session {session_id!r}: attribute {attribute!r} {reason}")


class InvalidSessionError(SessionStorageError, ValueError):
    """Refused before any request: the session cannot be stored as it is."""


class SessionConflictError(SessionStorageError):
    """A conditional store found other tokens than ``expected``: someone stored first."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(
            f"session {session_id!r} changed since it was loaded (its tokens differ from "
            f"expected): nothing was written; load it again and retry"
        )


class AccessDeniedError(SessionStorageError):
    """IAM refused a DynamoDB action; names the action to add to the policy."""

    def __init__(self, action: str, table_name: str, detail: str = "") -> None:
        self.action = action
        self.table_name = table_name
        super().__init__(
            f"access denied: dynamodb:{action} on table {table_name!r} is not allowed by the "
            f"IAM policy; add dynamodb:{action} (see README, IAM policy){detail}"
        )


class StorageUnavailableError(SessionStorageError):
    """DynamoDB kept throttling, failing or dropping connections until retries ran out."""

    def __init__(self, action: str, table_name: str, attempts: int, detail: str) -> None:
        self.action = action
        self.table_name = table_name
        self.attempts = attempts
        super().__init__(
            f"DynamoDB {action} on table {table_name!r} failed after {attempts} "
            f"attempt{'s' if attempts != 1 else ''}: {detail}"
        )


class SchemaMismatchError(SessionStorageError):
    """The table exists but differs from the Node adapter's schema; lists each difference."""

    def __init__(self, table_name: str, differences: Sequence[str]) -> None:
        self.table_name = table_name
        self.differences = list(differences)
        super().__init__(
            f"table {table_name!r} does not match the sessions schema: " + "; ".join(differences)
        )
