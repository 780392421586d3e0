"""``doctor``: the token health of every session, before and after Shopify's 2027-01-01 deadline.

One pass over the table (or one segment of it); each item is put in one category by
:func:`~shopify_sessions.dynamodb.health.classify`. Memory stays flat however large the table:
counts and a few example ids are kept, and the ``--json`` session list goes to a temporary
file until the scan is done (so the JSON printed is always whole).
"""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import IO, Any

import click
from rich.bar import Bar
from rich.table import Table
from rich.text import Text

from shopify_sessions.dynamodb.health import (
    CATEGORIES,
    DEADLINE,
    PROBLEMS,
    Category,
    Checked,
    classify,
    days_until_deadline,
)

from ._app import FAILURE_ERROR, Settings, cli, out_console
from ._fleet import days_option
from ._scan import ScanPart, scan_items, scan_options

__all__ = ["EXIT_COULD_NOT_LOOK", "EXIT_PROBLEMS", "doctor"]

EXIT_PROBLEMS = 1  # the table was read and some sessions need work
EXIT_COULD_NOT_LOOK = 3  # no table, no credentials, no endpoint: nothing was checked


class CouldNotLook(click.ClickException):
    """doctor could not read the table: exit 3, never 1 (which says "problems found")."""

    exit_code = EXIT_COULD_NOT_LOOK


EXAMPLES = 5  # ids shown per problem category in the plain report
BAR_WIDTH = 24

ADVICE: dict[Category, str] = {
    "unreadable": "fix or delete the item (show ID / delete ID); export skips it",
    "online_active": "",
    "online_expired": "purge-expired deletes them (optional)",
    "dead": "reinstall: the merchant opens the app again (token exchange or OAuth)",
    "missing_expiry": "keep-warm: a refresh sets expires again (shopify-app-js#3400)",
    "refresh_due": "keep-warm --days N before the refresh token lapses",
    "unrefreshable": "reinstall: no refresh token, the token lapses for good",
    "non_expiring": "migrate-to-expiring before 2027-01-01",
    "expiring_ok": "",
}


class Findings:
    """Counts per category, a few ids per problem, and every verdict spooled for ``--json``."""

    def __init__(self, spool: IO[str] | None) -> None:
        self.counts: dict[Category, int] = dict.fromkeys(CATEGORIES, 0)
        self.examples: dict[Category, list[str]] = {category: [] for category in PROBLEMS}
        self._spool = spool

    def add(self, checked: Checked) -> None:
        self.counts[checked.category] += 1
        examples = self.examples.get(checked.category)
        if examples is not None and len(examples) < EXAMPLES:
            examples.append(checked.id)
        if self._spool is not None:
            self._spool.write(json.dumps(checked._asdict(), ensure_ascii=False) + "\n")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def problems(self) -> int:
        return sum(self.counts[category] for category in PROBLEMS)


@cli.command(short_help="Token health of every session (exit 1: problems found).")
@days_option("A refresh token expiring within this many days is refresh_due.")
@click.option(
    "--json", "as_json", is_flag=True, help="Counts and every session's category, as JSON."
)
@scan_options
@click.pass_obj
def doctor(settings: Settings, days: int, as_json: bool, scan: ScanPart) -> None:
    """Put every session in one category of token health and say what to run for each.

    Reads every item once (tokens are never decrypted nor shown). Categories, first match
    wins: unreadable, online_active, online_expired, dead (invalid_grant recorded, or the
    refresh token expired), missing_expiry (a refresh token but no expires: shopify-app-js
    #3400), refresh_due (refresh token expires within --days), unrefreshable (expires, no
    refresh token), non_expiring (must migrate before 2027-01-01), expiring_ok.

    Exit code: 0 no problems; 1 some unreadable, dead, missing_expiry, refresh_due,
    unrefreshable or non_expiring sessions; 2 bad options; 3 the table could not be read
    (no table, no credentials, no endpoint).
    """
    storage = settings.storage()
    now = datetime.now(timezone.utc)
    with ExitStack() as stack:
        spool = stack.enter_context(_spool_file()) if as_json else None
        findings = Findings(spool)
        for item in scan_items(storage, scan):
            findings.add(classify(item, now=now, days=days))
        meta = {
            "table": storage.table_name,
            "checked_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "days": days,
            "days_until_2027_01_01": days_until_deadline(now),
            "scan": scan.as_json(),
            "total": findings.total,
            "problems": findings.problems,
            "counts": findings.counts,
        }
        if spool is not None:
            _print_json(meta, spool)
        else:
            _print_report(findings, storage.table_name, scan, now, days)
    raise SystemExit(EXIT_PROBLEMS if findings.problems else 0)


setattr(doctor, FAILURE_ERROR, CouldNotLook)


def _spool_file() -> IO[str]:
    """An anonymous file on disk: the ``--json`` session list grows there, not in memory."""
    return tempfile.TemporaryFile("w+", encoding="utf-8")


def _print_json(meta: dict[str, Any], spool: IO[str]) -> None:
    """``meta`` and then ``"sessions"``: the spooled verdicts, one object per line."""
    stream = sys.stdout
    head = json.dumps(meta, indent=2, ensure_ascii=False)
    stream.write(head[: head.rindex("}")].rstrip() + ',\n  "sessions": [')
    spool.seek(0)
    first = True
    for line in spool:
        stream.write(("\n    " if first else ",\n    ") + line.rstrip("\n"))
        first = False
    stream.write("\n  ]\n}\n" if not first else "]\n}\n")
    stream.flush()


def _print_report(
    findings: Findings, table_name: str, scan: ScanPart, now: datetime, days: int
) -> None:
    console = out_console()
    left = days_until_deadline(now)
    deadline = f"{DEADLINE:%Y-%m-%d}"
    when = f"{left} days until {deadline}" if left else f"{deadline} has passed"
    title = f"Token health of table {table_name!r}{scan.describe()}: {findings.total} sessions"
    table = Table(title=f"{title}, {when}", title_justify="left")
    table.add_column("category")
    table.add_column("count", justify="right")
    table.add_column("share", width=BAR_WIDTH)
    table.add_column("what to run")
    total = max(findings.total, 1)
    for category in CATEGORIES:
        count = findings.counts[category]
        problem = category in PROBLEMS and count > 0
        style = "red" if problem else ""
        color = "red" if problem else "green" if category == "expiring_ok" else "blue"
        table.add_row(
            Text(category, style=style),
            Text(str(count), style=style),
            Bar(total, 0, count, width=BAR_WIDTH, color=color),
            Text(ADVICE[category] if count else "", style="dim" if not problem else ""),
        )
    console.print(table)
    for category in CATEGORIES:
        ids = findings.examples.get(category)
        if ids:
            more = findings.counts[category] - len(ids)
            listed = ", ".join(ids) + (f" and {more} more" if more else "")
            console.print(Text(f"{category}: {listed}"), soft_wrap=True)
    if findings.problems:
        console.print(
            f"{findings.problems} sessions need work (--json lists every session); "
            f"refresh_due counts refresh tokens expiring within {days} days"
        )
    else:
        console.print("no problems found")
