"""Session commands: list, show, delete, delete-shop, purge-expired, stats."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click
from rich.table import Table

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.session_plans import condition_fields
from shopify_sessions.errors import CorruptSessionError, SessionConflictError

from ._app import Settings, cli, confirm, env_cipher, out_console, progress
from ._view import OpaqueTokens, ScannedSession, masked_json, scan, session_detail, sessions_table

DELETE_CHUNK = 100  # ids per delete_sessions call: four concurrent batches, then progress
PREVIEW_ROWS = 20  # rows a dry run shows; --json gives every id


def _sorted(sessions: list[Session]) -> list[Session]:
    return sorted(sessions, key=lambda session: (session.shop, session.id))


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@cli.command("list", short_help="List sessions (all, or one shop's); tokens masked.")
@click.option("--shop", help="Only this shop's sessions (a query on the shop index).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="JSON array, tokens masked: not a backup (use export).",
)
@click.pass_obj
def list_sessions(settings: Settings, shop: str | None, as_json: bool) -> None:
    """List sessions, all of them (a table scan) or one shop's. Tokens are masked."""
    if shop is not None:
        storage = settings.storage(cipher=env_cipher() or OpaqueTokens())
        sessions = storage.find_sessions_by_shop(shop)
    else:
        storage = settings.storage()
        with progress(f"scanning {storage.table_name!r}") as advance:
            sessions = [entry.session for entry in scan(storage, advance=advance)]
    sessions = _sorted(sessions)
    if as_json:
        _echo_json([masked_json(session) for session in sessions])
        return
    where = f"shop {shop!r}" if shop is not None else f"table {storage.table_name!r}"
    if not sessions:
        click.echo(f"no sessions in {where}")
        return
    noun = "session" if len(sessions) == 1 else "sessions"
    out_console().print(sessions_table(sessions, title=f"{len(sessions)} {noun} in {where}"))


@cli.command(short_help="Show one session; tokens masked unless --reveal.")
@click.argument("session_id", metavar="ID")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The session's JSON, tokens masked unless --reveal: not a backup (use export).",
)
@click.option("--reveal", is_flag=True, help="Show the tokens themselves.")
@click.pass_obj
def show(settings: Settings, session_id: str, as_json: bool, reveal: bool) -> None:
    """Show one session. Tokens are masked unless --reveal."""
    cipher = env_cipher()
    if cipher is None and not reveal:
        cipher = OpaqueTokens()  # masked: encrypted tokens need no key
    storage = settings.storage(cipher=cipher)
    session = storage.load_session(session_id)
    if session is None:
        raise click.ClickException(f"no session {session_id!r} in table {storage.table_name!r}")
    if as_json:
        _echo_json(masked_json(session, reveal=reveal))
    else:
        out_console().print(session_detail(session, reveal=reveal))


@cli.command(short_help="Delete sessions by id.")
@click.argument("ids", metavar="ID...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="What was deleted, as JSON.")
@click.pass_obj
def delete(settings: Settings, ids: tuple[str, ...], as_json: bool) -> None:
    """Delete sessions by id; ids that are not stored are reported as not found."""
    storage = settings.storage()
    unique = list(dict.fromkeys(ids))
    plan = storage.requests.get_items(unique, lambda item: str(item["id"]["S"]))
    stored = set(storage.run(plan))
    found = [id for id in unique if id in stored]
    missing = [id for id in unique if id not in stored]
    storage.delete_sessions(found)
    if as_json:
        _echo_json({"deleted": found, "not_found": missing})
        return
    if found:
        noun = "session" if len(found) == 1 else "sessions"
        click.echo(f"deleted {len(found)} {noun}: {', '.join(found)}")
    if missing:
        click.echo(f"not found (nothing to delete): {', '.join(missing)}")


def _delete_in_chunks(storage: DynamoDBSessionStorage, ids: list[str], description: str) -> None:
    with progress(description, total=len(ids)) as advance:
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = ids[start : start + DELETE_CHUNK]
            storage.delete_sessions(chunk)
            advance(len(chunk))


@cli.command("delete-shop", short_help="Delete every session of a shop.")
@click.argument("shop")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal.")
@click.option("--json", "as_json", is_flag=True, help="What was deleted, as JSON.")
@click.pass_obj
def delete_shop(settings: Settings, shop: str, yes: bool, as_json: bool) -> None:
    """Delete every session of a shop (what the app/uninstalled webhook does)."""
    storage = settings.storage()
    ids = storage.find_session_ids_by_shop(shop)
    noun = "session" if len(ids) == 1 else "sessions"
    if ids:
        confirm(f"delete {len(ids)} {noun} of shop {shop!r}?", yes)
    _delete_in_chunks(storage, ids, f"deleting the sessions of {shop}")
    if as_json:
        _echo_json({"shop": shop, "deleted": len(ids)})
    else:
        click.echo(f"deleted {len(ids)} {noun} of shop {shop!r}")


def is_purgeable(session: Session, now: datetime) -> bool:
    """The access token has expired and no unexpired refresh token is left.

    Sessions with no access token expiry never are; a refresh token with no expiry counts as
    unexpired.
    """
    if session.expires is None or session.expires > now:
        return False
    refresh_left = session.refresh_token is not None and (
        session.refresh_token_expires is None or session.refresh_token_expires > now
    )
    return not refresh_left


def _delete_if_unchanged(storage: DynamoDBSessionStorage, entry: ScannedSession) -> bool:
    """Delete the item only if its tokens and expiry are still the ones scanned.

    A session refreshed (or re-created by a new login) since the scan is left alone.
    """
    model = storage.model
    session = entry.session
    raw_access = entry.item.get("accessToken", {}).get("S")
    raw_refresh = entry.item.get("refreshToken", {}).get("S")
    condition = (
        (model.access_token == raw_access) if raw_access else model.access_token.does_not_exist()
    )
    condition &= (
        (model.refresh_token == raw_refresh)
        if raw_refresh
        else model.refresh_token.does_not_exist()
    )
    condition &= model.expires == session.expires
    request = {**storage.requests.key(session.id), **condition_fields(condition)}
    try:  # through the storage's requests: retried, errors translated
        storage.run(storage.requests.call("DeleteItem", request))
    except SessionConflictError:
        return False
    return True


@cli.command("purge-expired", short_help="Delete sessions that can no longer be used.")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (ids by shop).")
@click.pass_obj
def purge_expired(settings: Settings, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Delete sessions whose access token has expired and that have no unexpired refresh token.

    Sessions that never expire are kept. A session refreshed after the scan is kept.
    """
    storage = settings.storage()
    now = datetime.now(timezone.utc)
    with progress(f"scanning {storage.table_name!r}") as advance:
        expired = [
            entry for entry in scan(storage, advance=advance) if is_purgeable(entry.session, now)
        ]
    expired.sort(key=lambda entry: (entry.session.shop, entry.session.id))
    noun = "session" if len(expired) == 1 else "sessions"
    by_shop: dict[str, list[str]] = {}
    for entry in expired:
        by_shop.setdefault(entry.session.shop, []).append(entry.session.id)
    if dry_run:
        if as_json:
            _echo_json({"would_delete": len(expired), "by_shop": by_shop})
            return
        shown = [entry.session for entry in expired[:PREVIEW_ROWS]]
        if shown:
            more = len(expired) - len(shown)
            title = "would delete" + (f" (first {len(shown)}; {more} more)" if more else "") + ":"
            out_console().print(sessions_table(shown, title=title))
        click.echo(
            f"dry run: would delete {len(expired)} expired {noun} of {len(by_shop)} "
            f"shop{'' if len(by_shop) == 1 else 's'} (--json lists them all)"
        )
        return
    if expired:
        confirm(f"delete {len(expired)} expired {noun} of {len(by_shop)} shops?", yes)
    deleted = 0
    with progress("deleting expired sessions", total=len(expired)) as advance:
        for entry in expired:
            deleted += _delete_if_unchanged(storage, entry)
            advance(1)
    kept = len(expired) - deleted
    if as_json:
        _echo_json({"deleted": deleted, "kept_changed": kept})
        return
    suffix = f" ({kept} changed since the scan and kept)" if kept else ""
    click.echo(f"deleted {deleted} expired {'session' if deleted == 1 else 'sessions'}{suffix}")


@cli.command(short_help="Count sessions, shops, online, expired...")
@click.option("--json", "as_json", is_flag=True, help="The numbers as a JSON object.")
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Count sessions: shops, online, offline, expired, with refresh tokens (a table scan)."""
    storage = settings.storage()
    now = datetime.now(timezone.utc)
    corrupt: list[CorruptSessionError] = []
    counts = dict.fromkeys(
        ("sessions", "shops", "online", "offline", "expired", "with_refresh_token", "purgeable"),
        0,
    )
    shops: set[str] = set()
    with progress(f"scanning {storage.table_name!r}") as advance:
        for entry in scan(storage, advance=advance, corrupt=corrupt):
            session = entry.session
            shops.add(session.shop)
            counts["sessions"] += 1
            counts["online" if session.is_online else "offline"] += 1
            counts["expired"] += session.expires is not None and session.expires <= now
            counts["with_refresh_token"] += bool(session.refresh_token)
            counts["purgeable"] += is_purgeable(session, now)
    counts["shops"] = len(shops)
    counts["corrupt"] = len(corrupt)
    if as_json:
        _echo_json(counts)
        return
    table = Table(title=f"table {storage.table_name!r}", title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    labels = {
        "with_refresh_token": "with refresh token",
        "expired": "expired (access token)",
        "purgeable": "purgeable (purge-expired)",
        "corrupt": "corrupt items",
    }
    for key, value in counts.items():
        table.add_row(labels.get(key, key), str(value))
    out_console().print(table)
