"""The rule of imports and restores: an older copy never replaces a newer token.

A copy (a backup, another storage's row) may be older than what DynamoDB holds: refreshed
since (a later ``expires``), or reinstalled since with another non-expiring token. Storing the
copy would bring back a dead token and the shop would need reauthorization, so by default it is
stored only where it is at least as new; ``--overwrite`` / ``--force`` replace regardless.
"""

from __future__ import annotations

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.errors import SessionConflictError

__all__ = ["store_unless_newer"]


def store_unless_newer(storage: DynamoDBSessionStorage, session: Session) -> bool:
    """Store ``session`` unless DynamoDB holds a newer one; ``False``: what is there was kept.

    With an ``expires``: ``store_newest(create=True)`` (one conditional write; a later stored
    ``expires`` wins). Without one (a non-expiring token, nothing to compare): stored where
    nothing is stored, or over the same tokens (a re-run); a different token stored there, or
    an expiring one, is newer than the copy and kept.
    """
    if session.expires is not None:
        return bool(storage.store_newest(session, create=True))
    stored = storage.load_session(session.id)
    if stored is None:
        return bool(storage.store_newest(session, create=True))
    tokens = (session.access_token, session.refresh_token)
    if stored.expires is not None or (stored.access_token, stored.refresh_token) != tokens:
        return False
    try:
        storage.store_session(session, expected=stored)  # only over these very tokens
    except SessionConflictError:
        return False  # changed meanwhile: the newer write stays
    return True
