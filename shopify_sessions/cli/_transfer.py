"""Backups: export and import, JSON Lines in the Node adapter's plain JSON form."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice
from pathlib import Path

import click

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.cipher import open_tokens
from shopify_sessions.errors import CorruptSessionError
from shopify_sessions.formats.node_json import parse_node_json_lines, session_to_node_json_line
from shopify_sessions.local.endpoint import write_private_text

from ._app import Settings, cli, env_cipher, fail, progress
from ._keep_newer import store_unless_newer
from ._scan import ScanPart, scan_items, scan_options

logger = logging.getLogger("shopify_sessions")

IMPORT_CONCURRENCY = 8  # PutItems in flight; botocore's connection pool holds 10
KEPT_SHOWN = 20


def _store_all(
    store: Callable[[Session], bool], sessions: list[Session], advance: Callable[[int], None]
) -> list[str]:
    """``store`` per session, ``IMPORT_CONCURRENCY`` at a time; stops at the first error.
    Returns the ids ``store`` kept as they were (``False``).

    The first store runs alone: it creates the storage's botocore client, which the worker
    threads then share (botocore clients are thread-safe; their lazy creation is not).
    """
    kept: list[str] = []

    def one(session: Session) -> None:
        if not store(session):
            kept.append(session.id)

    one(sessions[0])
    advance(1)
    rest = iter(sessions[1:])
    with ThreadPoolExecutor(max_workers=IMPORT_CONCURRENCY) as pool:
        running = {pool.submit(one, s) for s in islice(rest, IMPORT_CONCURRENCY)}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # the first error stops the import; running stores finish
                advance(1)
            running |= {pool.submit(one, s) for s in islice(rest, len(done))}
    return sorted(kept)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _check_target(target: str) -> Path | None:
    """The export's target, checked before the table is read (``None``: stdout).

    A regular file (or a new path) is replaced atomically; anything else that exists (a
    device, a FIFO, a process substitution's pipe) is written to in place, never replaced.
    """
    if target == "-":
        return None
    path = Path(target)
    if path.exists():
        if path.is_dir():
            fail(f"cannot export to {target}: it is a directory")
        if not os.access(path, os.W_OK):
            fail(f"cannot export to {target}: not writable")
        return path
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        fail(f"cannot export to {target}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        fail(f"cannot export to {target}: directory {parent} is not writable")
    return path


def _write_export(path: Path, target: str, lines: Iterable[str]) -> None:
    try:
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            with path.open("w", encoding="utf-8") as stream:  # a device or pipe: in place
                stream.writelines(lines)
        else:
            write_private_text(path, lines)
    except OSError as error:
        fail(f"cannot export to {target}: {error.strerror or error}")


@cli.command(short_help="Back up every session as JSON Lines (tokens!).")
@click.argument("target", metavar="FILE|-")
@click.option(
    "--skip-corrupt",
    is_flag=True,
    help="Exit 0 even when unreadable items were skipped (default: exit 1, the backup is "
    "incomplete).",
)
@scan_options
@click.pass_obj
def export(settings: Settings, target: str, skip_corrupt: bool, scan: ScanPart) -> None:
    """Write every session to FILE (or - for stdout) as JSON Lines, tokens included.

    A full backup: one session per line in the Node adapter's plain JSON form, tokens
    decrypted when $SHOPIFY_SESSIONS_TOKEN_KEYS is set. A new or regular file is replaced
    atomically and created readable by its owner only; a device or pipe is written to.
    Unreadable items (corrupt, or tokens that cannot be decrypted) are skipped with a
    warning, and the exit code is 1 unless --skip-corrupt. Sessions are written as they are
    read (a file appears once whole); --segment / --total-segments export one part.
    """
    path = _check_target(target)
    cipher = env_cipher()
    storage = settings.storage(cipher=cipher)
    corrupt = 0
    exported = 0

    def lines() -> Iterator[str]:
        nonlocal corrupt, exported
        label = f"exporting {storage.table_name!r}{scan.describe()}"
        for item in scan_items(storage, scan, label=label):
            entry = storage.plans.decode(item)  # tokens opened with the environment's keys
            if isinstance(entry, CorruptSessionError):
                logger.warning("skipped an unreadable session: %s", entry)
                corrupt += 1
                continue
            exported += 1
            yield session_to_node_json_line(entry) + "\n"

    where = "stdout" if path is None else target
    secrets = "decrypted " if cipher is not None else ""
    click.secho(
        f"Warning: {where} holds the sessions' {secrets}access and refresh tokens in "
        f"plaintext: keep it secret, delete it when done",
        fg="yellow",
        err=True,
    )
    if path is None:
        sys.stdout.writelines(lines())
        sys.stdout.flush()
    else:
        _write_export(path, target, lines())
    skipped = f" ({_plural(corrupt, 'unreadable item')} skipped)" if corrupt else ""
    click.echo(
        f"exported {_plural(exported, 'session')} from table {storage.table_name!r}"
        f"{scan.describe()} to {where}{skipped}",
        err=True,
    )
    if corrupt and not skip_corrupt:
        click.echo(
            "the backup is incomplete: exit code 1 (pass --skip-corrupt to accept that)",
            err=True,
        )
        raise SystemExit(1)


def _refuse_masked(lines: list[bytes], name: str) -> None:
    """Masked tokens (``***``, from ``list --json`` / ``show --json``) are not tokens."""
    for number, raw in enumerate(lines, start=1):
        if b"*" not in raw:
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue  # the parser reports it, naming the line
        for field in ("accessToken", "refreshToken"):
            value = obj.get(field) if isinstance(obj, dict) else None
            if isinstance(value, str) and value and set(value) == {"*"}:
                fail(
                    f"{name}, line {number}: {field} is masked ({value!r}): that is `list "
                    f"--json` or `show --json` output, not a backup; nothing was imported "
                    f"(back up with `shopify-sessions export`)"
                )


@cli.command("import", short_help="Store sessions from a JSON Lines file.")
@click.argument("source", metavar="FILE|-")
@click.option(
    "--force",
    is_flag=True,
    help="Replace every stored session, also ones newer than the file's (default: keep them).",
)
@click.pass_obj
def import_(settings: Settings, source: str, force: bool) -> None:
    """Store every session of a JSON Lines file (or - for stdin), as `export` writes them.

    Every line is checked first: one bad line is an error naming it, and then nothing is
    written. A session is stored unless the table holds a newer one (a later expires:
    refreshed since the backup; for a non-expiring token, a different one: reinstalled
    since), which is kept and listed: restoring an old backup never brings back a dead
    token. --force replaces them all. Importing a file twice changes nothing. Tokens are
    encrypted when $SHOPIFY_SESSIONS_TOKEN_KEYS is set.
    """
    if source == "-":
        data, name = sys.stdin.buffer.read(), "stdin"
    else:
        data, name = Path(source).read_bytes(), source
    lines = data.splitlines()
    _refuse_masked(lines, name)
    sessions = parse_node_json_lines(lines, source=name)
    cipher = env_cipher()
    storage = settings.storage(cipher=cipher)
    # tokens already encrypted in the file (a serve-local data file, say): stored as they are
    # without keys, decrypted first with keys, so they are never encrypted twice
    if cipher is not None:
        table = storage.cipher_table_name
        sessions = [open_tokens(session, cipher, table=table) for session in sessions]
    if not sessions:
        click.echo(f"no sessions in {name}; nothing imported")
        return
    storage.verify_table()  # a missing table is reported before anything is sent

    def store(session: Session) -> bool:
        if force:
            return bool(storage.store_session(session))
        return store_unless_newer(storage, session)

    with progress(f"importing into {storage.table_name!r}", total=len(sessions)) as advance:
        kept = _store_all(store, sessions, advance)
    imported = f"{len(sessions) - len(kept)} of " if kept else ""
    click.echo(
        f"imported {imported}{_plural(len(sessions), 'session')} into table "
        f"{storage.table_name!r}"
        + (f"; kept {len(kept)} newer already there (--force replaces them)" if kept else "")
    )
    for id in kept[:KEPT_SHOWN]:
        click.echo(f"  kept {id}")
    if len(kept) > KEPT_SHOWN:
        click.echo(f"  ... and {len(kept) - KEPT_SHOWN} more")
