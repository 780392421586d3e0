"""Backups: export and import, JSON Lines in the Node adapter's plain JSON form."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice
from pathlib import Path

import click

from shopify_sessions.dynamodb import DynamoDBSessionStorage
from shopify_sessions.errors import CorruptSessionError
from shopify_sessions.local import write_private_text
from shopify_sessions.node_json import parse_node_json_lines, session_to_node_json_line
from shopify_sessions.session import Session

from ._app import Settings, cli, env_cipher, progress
from ._view import open_tokens, scan

IMPORT_CONCURRENCY = 8  # PutItems in flight; botocore's connection pool holds 10


def _store_all(
    storage: DynamoDBSessionStorage, sessions: list[Session], advance: Callable[[int], None]
) -> None:
    """One PutItem per session, ``IMPORT_CONCURRENCY`` at a time; stops at the first error.

    The first store runs alone: it creates the storage's botocore client, which the worker
    threads then share (botocore clients are thread-safe; their lazy creation is not).
    """
    storage.store_session(sessions[0])
    advance(1)
    rest = iter(sessions[1:])
    with ThreadPoolExecutor(max_workers=IMPORT_CONCURRENCY) as pool:
        running = {pool.submit(storage.store_session, s) for s in islice(rest, IMPORT_CONCURRENCY)}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # the first error stops the import; running stores finish
                advance(1)
            running |= {pool.submit(storage.store_session, s) for s in islice(rest, len(done))}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@cli.command(short_help="Back up every session as JSON Lines (tokens!).")
@click.argument("target", metavar="FILE|-")
@click.pass_obj
def export(settings: Settings, target: str) -> None:
    """Write every session to FILE (or - for stdout) as JSON Lines, tokens included.

    A full backup: one session per line in the Node adapter's plain JSON form, tokens
    decrypted when $SHOPIFY_SESSIONS_TOKEN_KEYS is set. The file is created readable by
    its owner only. Corrupt items are skipped with a warning.
    """
    cipher = env_cipher()
    storage = settings.storage(cipher=cipher)
    corrupt: list[CorruptSessionError] = []
    with progress(f"exporting {storage.table_name!r}") as advance:
        lines = [
            session_to_node_json_line(open_tokens(entry.session, cipher))
            for entry in scan(storage, advance=advance, corrupt=corrupt)
        ]
    where = "stdout" if target == "-" else target
    secrets = "decrypted " if cipher is not None else ""
    click.secho(
        f"Warning: {where} holds the sessions' {secrets}access and refresh tokens in "
        f"plaintext: keep it secret, delete it when done",
        fg="yellow",
        err=True,
    )
    text = "".join(line + "\n" for line in lines)
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_private_text(Path(target), text)
    skipped = f" ({_plural(len(corrupt), 'corrupt item')} skipped)" if corrupt else ""
    click.echo(
        f"exported {_plural(len(lines), 'session')} from table {storage.table_name!r} "
        f"to {where}{skipped}",
        err=True,
    )


@cli.command("import", short_help="Store sessions from a JSON Lines file.")
@click.argument("source", metavar="FILE|-")
@click.pass_obj
def import_(settings: Settings, source: str) -> None:
    """Store every session of a JSON Lines file (or - for stdin), as `export` writes them.

    Every line is checked first: one bad line is an error naming it, and then nothing is
    written. Sessions are stored whole (replacing one with the same id), so importing a file
    twice changes nothing. Tokens are encrypted when $SHOPIFY_SESSIONS_TOKEN_KEYS is set.
    """
    if source == "-":
        data, name = sys.stdin.buffer.read(), "stdin"
    else:
        data, name = Path(source).read_bytes(), source
    sessions = parse_node_json_lines(data.splitlines(), source=name)
    cipher = env_cipher()
    # tokens already encrypted in the file (a serve-local data file, say): stored as they are
    # without keys, decrypted first with keys, so they are never encrypted twice
    sessions = [open_tokens(session, cipher) if cipher else session for session in sessions]
    storage = settings.storage(cipher=cipher)
    if not sessions:
        click.echo(f"no sessions in {name}; nothing imported")
        return
    storage.verify_table()  # a missing table is reported before anything is sent
    with progress(f"importing into {storage.table_name!r}", total=len(sessions)) as advance:
        _store_all(storage, sessions, advance)
    click.echo(f"imported {_plural(len(sessions), 'session')} into table {storage.table_name!r}")
