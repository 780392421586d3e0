"""Token commands: migrate-to-expiring (before Shopify's deadline) and keep-warm (daily).

Both refresh through the storage's fleet-safe paths, so they can run beside live workers and
Node apps: a migration is stored only over the token it exchanged, a keep-warm refresh goes
through ``load_fresh_session`` (one refresh per shop, the newest pair wins).
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from shopify_sessions.domain.session import Session, offline_session_id
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.health import Category
from shopify_sessions.dynamodb.settings import is_local_endpoint
from shopify_sessions.errors import SessionStorageError
from shopify_sessions.tokens.refresh_errors import ReauthorizationRequiredError, TokenRefreshError

from ._app import Settings, cli, env_cipher, fail, progress
from ._fleet import REPAIR_NOTE, OfflineScan, RateLimit, days_option
from ._migration import GONE, MIGRATED, Migrator
from ._scan import ScanPart, scan_items, scan_options

if TYPE_CHECKING:
    from shopify_sessions.tokens.refresher import ShopifyTokenRefresher

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILED = 1  # some shops failed for now: run again later
EXIT_REAUTHORIZE = 3  # only merchants can fix what is left: they must open the app again


def _credentials(command: F) -> F:
    """``--client-id`` / ``--client-secret`` (from Shopify's env names) and ``--timeout``."""
    for option in reversed(
        [
            click.option(
                "--client-id",
                envvar="SHOPIFY_API_KEY",
                metavar="KEY",
                help="The app's client id. Default: $SHOPIFY_API_KEY.",
            ),
            click.option(
                "--client-secret",
                envvar="SHOPIFY_API_SECRET",
                metavar="SECRET",
                help="The app's client secret. Default: $SHOPIFY_API_SECRET (prefer it: "
                "options show in the process list).",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(0.1, 120),
                default=10.0,
                show_default=True,
                help="Seconds one token request may take, retries included.",
            ),
            click.option(
                "--shopify-endpoint",
                envvar="SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT",
                metavar="URL",
                help="Send every token request to this loopback URL instead of the shops "
                "(a FakeShopify, to rehearse). Default: $SHOPIFY_SESSIONS_SHOPIFY_ENDPOINT.",
            ),
        ]
    ):
        command = option(command)
    return command


def _refresher(
    client_id: str | None,
    client_secret: str | None,
    endpoint: str | None,
    timeout: float,
    limit: RateLimit | None = None,
) -> ShopifyTokenRefresher:
    from shopify_sessions.tokens.refresher import ShopifyTokenRefresher

    if not client_id or not client_secret:
        fail(
            "the app's credentials are needed: set SHOPIFY_API_KEY and SHOPIFY_API_SECRET "
            "(or pass --client-id and --client-secret)"
        )
    assert client_id is not None and client_secret is not None
    if endpoint and (not endpoint.startswith("http://") or not is_local_endpoint(endpoint)):
        fail(
            f"--shopify-endpoint must be a loopback URL such as http://127.0.0.1:PORT (a "
            f"FakeShopify, to rehearse), not {endpoint!r}"
        )
    import httpx

    hooks = limit.http_hooks() if limit is not None else {}
    if endpoint:
        from shopify_sessions.testing import LoopbackTransport

        http = httpx.Client(transport=LoopbackTransport(endpoint), event_hooks=hooks)
    else:
        http = httpx.Client(event_hooks=hooks)
    return ShopifyTokenRefresher(client_id, client_secret, http_client=http, timeout=timeout)


@dataclass
class Tally:
    """Outcomes by shop: what worked, what needs the merchant, what failed for now."""

    done: list[str] = field(default_factory=list)
    unchanged: int = 0
    reauthorize: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    not_started: int = 0
    not_migrated: int | None = None  # keep-warm: non-expiring sessions (migrate them first)

    def exit_code(self) -> int:
        if self.failed or self.not_started:
            return EXIT_FAILED
        return EXIT_REAUTHORIZE if self.reauthorize else 0


@contextmanager
def _stop_on_signal(give_up: threading.Event) -> Iterator[threading.Event]:
    """The first Ctrl-C or SIGTERM stops new work; requests in flight finish and are stored.
    The second sets ``give_up`` (stores being retried end; a re-run recovers them), the third
    aborts."""
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        if not stop.is_set():
            click.echo("stopping: finishing the shops in flight (again to give up)", err=True)
            stop.set()
            return
        click.echo("giving up on the shops in flight (again to abort)", err=True)
        give_up.set()
        for sig, old in previous.items():
            signal.signal(sig, old)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run_each(
    sessions: Iterable[Session],
    work: Callable[[Session], str],
    concurrency: int,
    label: str,
    give_up: threading.Event | None = None,
    limit: RateLimit | None = None,
) -> tuple[dict[str, str], int]:
    """``work`` per session on a bounded pool, as the scan streams them (at most twice
    ``concurrency`` waiting, so memory never holds the table; ``limit`` paces the starts):
    outcome per shop, and how many never started."""
    outcomes: dict[str, str] = {}
    not_started = 0
    give_up = give_up or threading.Event()
    with _stop_on_signal(give_up) as stop, progress(label) as advance:

        def guarded(session: Session) -> str | None:
            if limit is not None and not stop.is_set():
                limit.wait()
            return None if stop.is_set() else work(session)

        def settle(futures: Iterable[Future[str | None]]) -> None:
            nonlocal not_started
            for future in futures:
                session, outcome = running.pop(future), future.result()
                if outcome is None:
                    not_started += 1
                else:
                    outcomes[session.shop] = outcome
                    advance(1)

        running: dict[Future[str | None], Session] = {}
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for session in sessions:
                if stop.is_set():
                    not_started += 1  # and the rest of the scan: run again
                    break
                if len(running) >= 2 * concurrency:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    settle(done)
                running[pool.submit(guarded, session)] = session
            settle(list(running))
    return outcomes, not_started


def _report(
    tally: Tally, noun: str, unchanged: str, as_json: bool, note: str | None = None
) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    noun: sorted(tally.done),
                    unchanged: tally.unchanged,
                    **({} if tally.not_migrated is None else {"not_migrated": tally.not_migrated}),
                    "reauthorize": tally.reauthorize,
                    "failed": tally.failed,
                    "not_started": tally.not_started,
                    **({"note": note} if note else {}),
                },
                indent=2,
            )
        )
    else:
        if note:
            click.echo(note)
        parts = [
            f"{noun.replace('_', ' ')} {len(tally.done)}",
            f"{unchanged.replace('_', ' ')} {tally.unchanged}",
        ]
        if tally.not_migrated is not None:
            hint = " (run migrate-to-expiring)" if tally.not_migrated else ""
            parts.append(f"not migrated {tally.not_migrated}{hint}")
        parts += [f"need reauthorization {len(tally.reauthorize)}", f"failed {len(tally.failed)}"]
        if tally.not_started:
            parts.append(f"not started {tally.not_started} (run again)")
        click.echo(", ".join(parts))
        for shop, reason in sorted({**tally.reauthorize, **tally.failed}.items()):
            click.echo(f"  {shop}: {reason}")
    raise SystemExit(tally.exit_code())


def _repaired_note(offline: OfflineScan, outcomes: dict[str, str], done: str) -> str | None:
    """The missing_expiry sessions repaired by a refresh, said once (None: there were none)."""
    count = sum(
        1
        for shop, category in offline.category.items()
        if category == "missing_expiry" and outcomes.get(shop) == done
    )
    return REPAIR_NOTE.format(count=count) if count else None


def _outcome_of(error: Exception) -> str:
    if isinstance(error, ReauthorizationRequiredError):
        return f"reauthorize: {error.reason}"
    return str(error)


def _sort(tally: Tally, outcomes: dict[str, str], done: str) -> None:
    for shop, outcome in outcomes.items():
        if outcome == GONE:
            tally.unchanged += 1
        elif outcome == done:
            tally.done.append(shop)
        elif outcome.startswith("reauthorize: "):
            tally.reauthorize[shop] = outcome.removeprefix("reauthorize: ")
        else:
            tally.failed[shop] = outcome


def _offline(
    storage: DynamoDBSessionStorage,
    shop: str | None,
    scan: ScanPart,
    wanted: tuple[Category, ...],
    days: int = 0,
) -> OfflineScan:
    """The offline sessions to work on: one shop's, or those the scan streams."""
    if shop is None:
        return OfflineScan(scan_items(storage, scan), storage, wanted, days=days)
    id = offline_session_id(shop)
    item = storage.run(storage.requests.get_item(id))
    if item is None:
        fail(f"no offline session for shop {shop!r} in table {storage.table_name!r}")
    return OfflineScan([item], storage, wanted, days=days)


def _repair_or(
    work: Callable[[Session], str], offline: OfflineScan, repair: Callable[[Session], str]
) -> Callable[[Session], str]:
    """``work``, but ``repair`` for the sessions missing their expiry."""

    def choose(session: Session) -> str:
        if offline.category.get(session.shop) == "missing_expiry":
            return repair(session)
        return work(session)

    return choose


def _refresh_with(
    storage: DynamoDBSessionStorage, refresher: ShopifyTokenRefresher, done: str
) -> Callable[[Session], str]:
    """A refresh through the fleet-safe path (lease, newest pair wins), forced even for a
    session without expires (``rejected``): its outcome, ``done`` when it worked."""

    def refresh(session: Session) -> str:
        try:
            fresh = storage.load_fresh_session(session.id, refresher, rejected=session)
        except (TokenRefreshError, SessionStorageError) as error:
            return _outcome_of(error)
        if fresh is None:
            return GONE
        return done

    return refresh


def _rate_option(command: F) -> F:
    return click.option(
        "--rate",
        type=click.FloatRange(min=0.01),
        metavar="PER_SECOND",
        help="Start at most this many token requests a second (all workers together); a 429 "
        "from Shopify pauses every worker for its Retry-After. Default: no limit.",
    )(command)


@cli.command(
    "migrate-to-expiring", short_help="Exchange non-expiring offline tokens for expiring ones."
)
@click.option("--shop", help="Only this shop's offline session.")
@click.option("--dry-run", is_flag=True, help="Only count what would be migrated.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@_rate_option
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON.")
@_credentials
@scan_options
@click.pass_obj
def migrate_to_expiring(
    settings: Settings,
    shop: str | None,
    dry_run: bool,
    concurrency: int,
    rate: float | None,
    as_json: bool,
    client_id: str | None,
    client_secret: str | None,
    timeout: float,
    shopify_endpoint: str | None,
    scan: ScanPart,
) -> None:
    """Migrate every offline session without an expiry to an expiring token (token exchange).

    Each new pair is stored only if the session still holds the token that was exchanged
    (never over a session refreshed or reinstalled meanwhile); a store DynamoDB refuses is
    retried until it lands. Safe to re-run, also after a crash: the old token stays stored
    until the new pair is, and Shopify answers the same pair again for 7 days. Shops Shopify
    refused are recorded and not asked again. A session with a refresh token but no expires
    (stored so by a Node app, shopify-app-js#3400) is refreshed instead, which sets expires
    again. Ctrl-C stops new exchanges and stores those in flight (twice: gives up on them,
    for a re-run). --segment / --total-segments split the table across hosts. Exit code: 0
    done, 1 some failed (run again), 3 some shops must open the app again.
    """
    storage = settings.storage(cipher=env_cipher())
    offline = _offline(storage, shop, scan, ("non_expiring", "missing_expiry"))
    if dry_run:
        tally = Tally(done=sorted(session.shop for session in offline))
        tally.unchanged = offline.skipped
        if not as_json:
            total = len(tally.done) + tally.unchanged
            repair = offline.found["missing_expiry"]
            click.echo(
                f"dry run: would migrate {offline.found['non_expiring']} of {total} offline "
                f"sessions{scan.describe()}"
                + (f" and refresh {repair} without expires to repair them" if repair else "")
            )
        _report(tally, "would_migrate", "already_expiring", as_json)
    limit = RateLimit(rate)
    refresher = _refresher(client_id, client_secret, shopify_endpoint, timeout, limit)

    migrate = Migrator(storage, refresher.migrate, threading.Event())
    work = _repair_or(migrate, offline, _refresh_with(storage, refresher, MIGRATED))
    outcomes, not_started = _run_each(
        offline, work, concurrency, "migrating", migrate.give_up, limit
    )
    tally = Tally(unchanged=offline.skipped, not_started=not_started)
    _sort(tally, outcomes, MIGRATED)
    _report(
        tally,
        "migrated",
        "already_expiring",
        as_json,
        _repaired_note(offline, outcomes, MIGRATED),
    )


@cli.command("keep-warm", short_help="Refresh offline tokens whose refresh token expires soon.")
@days_option("Refresh sessions whose refresh token expires within this many days.")
@click.option("--dry-run", is_flag=True, help="Only count what would be refreshed.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@_rate_option
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON.")
@_credentials
@scan_options
@click.pass_obj
def keep_warm(
    settings: Settings,
    days: int,
    dry_run: bool,
    concurrency: int,
    rate: float | None,
    as_json: bool,
    client_id: str | None,
    client_secret: str | None,
    timeout: float,
    shopify_endpoint: str | None,
    scan: ScanPart,
) -> None:
    """Refresh every offline session whose refresh token expires within --days (a daily cron).

    Quiet shops never fall off the 90-day cliff. A session with a refresh token but no
    expires (stored so by a Node app, shopify-app-js#3400) is refreshed too, which sets
    expires again. Refreshes go through the same single-flight path as workers (lease,
    newest pair wins); a re-run skips the shops refreshed since (their refresh token has 90
    days again). Non-expiring sessions are counted apart as "not migrated": they have nothing
    to refresh until migrate-to-expiring ran. --segment / --total-segments split the table
    across hosts. Exit code: 0 done, 1 some failed (run again), 3 some shops must open the
    app again.
    """
    storage = settings.storage(cipher=env_cipher())
    offline = _offline(storage, None, scan, ("dead", "missing_expiry", "refresh_due"), days)
    if dry_run:
        tally = _keep_warm_tally(offline, done=sorted(session.shop for session in offline))
        if not as_json:
            total = len(tally.done) + offline.skipped
            click.echo(
                f"dry run: would refresh {len(tally.done)} of {total} offline sessions"
                f"{scan.describe()}"
            )
        _report(tally, "would_refresh", "not_due", as_json)
    limit = RateLimit(rate)
    refresher = _refresher(client_id, client_secret, shopify_endpoint, timeout, limit)
    refresh = _refresh_with(storage, refresher, "refreshed")
    outcomes, not_started = _run_each(offline, refresh, concurrency, "refreshing", limit=limit)
    tally = _keep_warm_tally(offline, not_started=not_started)
    _sort(tally, outcomes, "refreshed")
    _report(tally, "refreshed", "not_due", as_json, _repaired_note(offline, outcomes, "refreshed"))


def _keep_warm_tally(offline: OfflineScan, **fields: Any) -> Tally:
    """After the scan: the non-expiring sessions counted apart from those not due."""
    not_migrated = offline.skipped_by.get("non_expiring", 0)
    return Tally(unchanged=offline.skipped - not_migrated, not_migrated=not_migrated, **fields)
