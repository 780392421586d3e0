"""Reading sessions for display and backups, and showing them with tokens masked."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from rich.table import Table
from rich.text import Text

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.cipher import TOKEN_FIELDS, TokenCipher
from shopify_sessions.dynamodb.codec import item_to_session
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.errors import CorruptSessionError
from shopify_sessions.formats.node_json import session_to_node_json

from ._app import MASK

__all__ = [
    "OpaqueTokens",
    "ScannedSession",
    "masked_json",
    "scan",
    "session_detail",
    "sessions_table",
    "when",
]

logger = logging.getLogger("shopify_sessions")


class ScannedSession:
    """A session read by a scan, with the raw item it came from (for conditional writes)."""

    __slots__ = ("item", "session")

    def __init__(self, session: Session, item: dict[str, Any]) -> None:
        self.session = session
        self.item = item


def scan(
    storage: DynamoDBSessionStorage,
    *,
    advance: Callable[[int], None] | None = None,
    corrupt: list[CorruptSessionError] | None = None,
) -> Iterator[ScannedSession]:
    """Every session of the table, tokens as stored (no key needed; callers mask them).

    Corrupt items are skipped with a warning, and collected in ``corrupt`` when given.
    """
    for item in storage.iter_items():
        if advance is not None:
            advance(1)
        try:
            yield ScannedSession(item_to_session(item), item)
        except CorruptSessionError as error:
            logger.warning("skipped a corrupt item: %s", error)
            if corrupt is not None:
                corrupt.append(error)


class OpaqueTokens(TokenCipher):
    """A stand-in cipher for reads whose tokens are masked anyway: encrypted tokens are passed
    through as they are, so listing and showing need no keys. It never encrypts."""

    def __init__(self) -> None:  # holds no key: TokenCipher's own state is never used
        pass

    def __repr__(self) -> str:
        return "OpaqueTokens()"

    def encrypt(
        self, plaintext: str, *, session_id: str, field: str, table: str | None = None
    ) -> str:
        raise RuntimeError("OpaqueTokens is for masked reads only; it cannot encrypt")

    def decrypt(self, value: str, *, session_id: str, field: str, table: str | None = None) -> str:
        return value


def masked_json(session: Session, *, reveal: bool = False) -> dict[str, Any]:
    """The session's plain JSON (the export format) with tokens replaced by ``***``."""
    obj = session_to_node_json(session)
    if not reveal:
        for _, stored in TOKEN_FIELDS:
            if stored in obj:
                obj[stored] = MASK
    return obj


def when(value: datetime | None, *, now: datetime | None = None) -> Text:
    """A date for a table cell, red with "(expired)" when past."""
    if value is None:
        return Text("-", style="dim")
    now = now or datetime.now(timezone.utc)
    shown = f"{value:%Y-%m-%d %H:%M}Z"
    if value <= now:
        return Text(f"{shown} (expired)", style="red")
    return Text(shown)


def _token(value: str | None) -> Text:
    return Text(MASK) if value else Text("-", style="dim")


def sessions_table(sessions: list[Session], title: str | None = None) -> Table:
    """One row per session, tokens masked; refresh-token columns only when one has them."""
    refresh = any(session.refresh_token for session in sessions)
    table = Table(title=title, title_justify="left")
    headers = ["id", "shop", "online", "scope", "expires", "access token"]
    headers += ["refresh token", "refresh expires"] if refresh else []
    for header in headers:
        table.add_column(header, overflow="fold")
    for session in sessions:
        row = [
            Text(session.id),
            Text(session.shop),
            "yes" if session.is_online else "no",
            Text(session.scope or "-"),
            when(session.expires),
            _token(session.access_token),
        ]
        if refresh:
            row.append(_token(session.refresh_token))
            row.append(when(session.refresh_token_expires) if session.refresh_token else Text("-"))
        table.add_row(*row)
    return table


def session_detail(session: Session, *, reveal: bool = False) -> Table:
    """Field by field, tokens masked unless ``reveal``."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")

    def secret(value: str | None) -> Text:
        if value is None:
            return Text("-", style="dim")
        return Text(value) if reveal else Text(f"{MASK} ({len(value)} characters)")

    table.add_row("id", Text(session.id))
    table.add_row("shop", Text(session.shop))
    table.add_row("state", Text(session.state))
    table.add_row("online", "yes" if session.is_online else "no")
    table.add_row("scope", Text(session.scope or "-"))
    table.add_row("expires", when(session.expires))
    table.add_row("access token", secret(session.access_token))
    table.add_row("refresh token", secret(session.refresh_token))
    table.add_row("refresh expires", when(session.refresh_token_expires))
    table.add_row("active", "yes" if session.is_active() else "no")
    info = session.online_access_info
    if info is not None:
        table.add_row("expires_in", str(info.expires_in) if info.expires_in is not None else "-")
        table.add_row("user scope", Text(info.associated_user_scope or "-"))
        user = info.associated_user
        if user is not None:
            name = " ".join(part for part in (user.first_name, user.last_name) if part)
            table.add_row("user", Text(f"{user.id} {name}".strip()))
            for label, value in (
                ("email", user.email),
                ("email verified", user.email_verified),
                ("account owner", user.account_owner),
                ("collaborator", user.collaborator),
                ("locale", user.locale),
            ):
                if value is not None:
                    table.add_row(label, Text(_yes_no(value)))
    return table


def _yes_no(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
