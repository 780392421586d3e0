"""``import-from``: move sessions in from Shopify's other storages (SQL, Redis, KV, MongoDB).

Everything is read, converted and validated first (``shopify_sessions.importers``); then each
session is stored unless DynamoDB holds a newer one (``_keep_newer``: refreshed there since, or
another token stored since), so running it twice changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice

import click

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.errors import SessionStorageError
from shopify_sessions.importers import (
    FORMATS,
    ImportSourceError,
    Problem,
    SourceRead,
    group_problems,
    read_source,
)

from ._app import Settings, cli, env_cipher, fail, progress
from ._keep_newer import store_unless_newer

CONCURRENCY = 8  # conditional PutItems in flight; botocore's pool holds 10
SHOPS_SHOWN = 50
KEYS_SHOWN = 5
EXIT_PROBLEMS = 1


@dataclass
class Outcome:
    """What happened to each session, by shop: stored, or a newer one kept in DynamoDB."""

    imported: Counter[str] = field(default_factory=Counter)
    kept_newer: Counter[str] = field(default_factory=Counter)
    kept_ids: list[str] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)


def _store_each(
    storage: DynamoDBSessionStorage,
    sessions: list[Session],
    advance: Callable[[int], None],
    overwrite: bool = False,
) -> Outcome:
    """``store_unless_newer`` (``overwrite``: a plain store) per session, ``CONCURRENCY`` at
    a time.

    The first store runs alone: it creates the botocore client the threads then share.
    """
    outcome = Outcome()

    def one(session: Session) -> None:
        try:
            if overwrite:
                stored = bool(storage.store_session(session))
            else:
                stored = store_unless_newer(storage, session)
        except SessionStorageError as error:
            outcome.failed.append(Problem(session.id, f"not stored: {error}"))
            return
        (outcome.imported if stored else outcome.kept_newer)[session.shop] += 1
        if not stored:
            outcome.kept_ids.append(session.id)

    if not sessions:
        return outcome
    one(sessions[0])
    advance(1)
    rest = iter(sessions[1:])
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        running: set[Future[None]] = {pool.submit(one, s) for s in islice(rest, CONCURRENCY)}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
                advance(1)
            running |= {pool.submit(one, s) for s in islice(rest, len(done))}
    return outcome


def _per_shop(read: SourceRead, outcome: Outcome | None) -> dict[str, dict[str, int]]:
    shops: dict[str, dict[str, int]] = {}
    for session in read.sessions:
        row = shops.setdefault(session.shop, {"read": 0, "imported": 0, "kept_newer": 0})
        row["read"] += 1
    if outcome is not None:
        for shop, row in shops.items():
            row["imported"] = outcome.imported[shop]
            row["kept_newer"] = outcome.kept_newer[shop]
    return dict(sorted(shops.items()))


def _echo_summary(
    read: SourceRead, outcome: Outcome | None, problems: list[Problem], target: str
) -> None:
    shops = _per_shop(read, outcome)
    verb = "would import" if outcome is None else "imported"
    count = len(read.sessions) if outcome is None else sum(outcome.imported.values())
    shop_count = f"{len(shops)} shop{'' if len(shops) == 1 else 's'}"
    line = f"{verb} {count} of {len(read.sessions)} sessions ({shop_count}) into {target}"
    if outcome is not None and outcome.kept_newer:
        line += f"; kept {sum(outcome.kept_newer.values())} newer already there"
    click.echo(line)
    if outcome is not None and outcome.kept_ids:
        kept = sorted(outcome.kept_ids)
        shown = ", ".join(kept[:KEYS_SHOWN]) + (", ..." if len(kept) > KEYS_SHOWN else "")
        click.echo(f"kept (DynamoDB holds a newer token; --overwrite replaces it): {shown}")
    for kind, number in sorted(read.skipped.items()):
        click.echo(f"skipped {number} {kind}{'' if number == 1 else 's'} (not sessions)")
    if shops:
        click.echo("per shop (read / imported / kept newer):" if outcome else "per shop:")
        for shop, row in islice(shops.items(), SHOPS_SHOWN):
            detail = (
                f"{row['read']} / {row['imported']} / {row['kept_newer']}"
                if outcome is not None
                else f"{row['read']}"
            )
            click.echo(f"  {shop}: {detail}")
        if len(shops) > SHOPS_SHOWN:
            click.echo(f"  ... and {len(shops) - SHOPS_SHOWN} more shops (--json lists all)")
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}:")
        for reason, keys in group_problems(problems).items():
            shown = ", ".join(keys[:KEYS_SHOWN]) + (", ..." if len(keys) > KEYS_SHOWN else "")
            click.echo(f"  {reason}: {len(keys)} ({shown})")


def _echo_json(
    read: SourceRead, outcome: Outcome | None, problems: list[Problem], target: str
) -> None:
    click.echo(
        json.dumps(
            {
                "source": read.source,
                "format": read.format,
                "location": read.location,
                "target": target,
                "dry_run": outcome is None,
                "read": len(read.sessions),
                "imported": None if outcome is None else sum(outcome.imported.values()),
                "kept_newer": None if outcome is None else sum(outcome.kept_newer.values()),
                "kept": None if outcome is None else sorted(outcome.kept_ids),
                "skipped": read.skipped,
                "shops": _per_shop(read, outcome),
                "problems": [{"key": p.key, "reason": p.reason} for p in problems],
            },
            indent=2,
            ensure_ascii=False,
        )
    )


@cli.command("import-from", short_help="Move sessions in from another Shopify session storage.")
@click.argument("source")
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    help="Force the source's format (default: detected from its tables, keys or content).",
)
@click.option(
    "--source-table",
    metavar="NAME",
    help="The SQL table to read (default: the one sessions table found), or the Redis key "
    "prefix (default: shopify_sessions).",
)
@click.option("--dry-run", is_flag=True, help="Read and check everything; write nothing.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace what DynamoDB holds even when it is newer (default: keep it and list it).",
)
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON on stdout.")
@click.pass_obj
def import_from(
    settings: Settings,
    source: str,
    format_: str | None,
    source_table: str | None,
    dry_run: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Import every session of SOURCE into the DynamoDB table (--table).

    SOURCE: sqlite:///relative/path or sqlite:////absolute/path (Shopify's SQLite adapter,
    the Prisma template's Session table, Drizzle's session table), postgresql://... and
    mysql://... (the same three), redis://... (Shopify's Redis adapter), or a file: a KV
    dump (wrangler bulk JSON) or a mongoexport file. Every record is converted and checked
    first; a bad one is listed by key with the reason and left out. A session is stored
    unless DynamoDB holds a newer one: a later expires (refreshed there since), or, for a
    non-expiring token, a different token (reinstalled since); those are kept and listed
    (--overwrite replaces them). Running it again is safe. Exit code: 0 every record
    imported or kept newer, 1 some records had problems (listed; the rest were imported),
    or an error.
    """
    try:
        read = read_source(source, format=format_, source_table=source_table)
    except ImportSourceError as error:
        fail(str(error))
        raise AssertionError("unreachable") from None
    click.echo(f"reading {read.source}: {read.description}, {read.location}", err=True)
    storage = settings.storage(cipher=env_cipher())
    target = f"table {storage.table_name!r}"
    outcome = None
    if not dry_run and read.sessions:
        storage.verify_table()  # a missing table is reported before anything is sent
        with progress(f"importing into {target}", total=len(read.sessions)) as advance:
            outcome = _store_each(storage, read.sessions, advance, overwrite)
    elif not dry_run:
        outcome = Outcome()
    problems = read.problems + (outcome.failed if outcome is not None else [])
    (_echo_json if as_json else _echo_summary)(read, outcome, problems, target)
    raise SystemExit(EXIT_PROBLEMS if problems else 0)
