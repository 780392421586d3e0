"""Token commands: migrate-to-expiring (before Shopify's deadline) and keep-warm (daily).

Both refresh through the storage's fleet-safe paths, so they can run beside live workers and
Node apps: a migration is stored only over the token it exchanged, a keep-warm refresh goes
through ``load_fresh_session`` (one refresh per shop, the newest pair wins).
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import click

from shopify_sessions.domain.session import Session, offline_session_id
from shopify_sessions.dynamodb.settings import is_local_endpoint
from shopify_sessions.dynamodb.storage import DynamoDBSessionStorage
from shopify_sessions.errors import SessionStorageError
from shopify_sessions.tokens.errors import ReauthorizationRequiredError, TokenRefreshError

from ._app import Settings, cli, env_cipher, fail, progress
from ._migration import GONE, MIGRATED, Migrator

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
    client_id: str | None, client_secret: str | None, endpoint: str | None, timeout: float
) -> ShopifyTokenRefresher:
    from shopify_sessions.tokens.refresher import ShopifyTokenRefresher

    if not client_id or not client_secret:
        fail(
            "the app's credentials are needed: set SHOPIFY_API_KEY and SHOPIFY_API_SECRET "
            "(or pass --client-id and --client-secret)"
        )
    assert client_id is not None and client_secret is not None
    http = None
    if endpoint:
        if not endpoint.startswith("http://") or not is_local_endpoint(endpoint):
            fail(
                f"--shopify-endpoint must be a loopback URL such as http://127.0.0.1:PORT (a "
                f"FakeShopify, to rehearse), not {endpoint!r}"
            )
        import httpx

        from shopify_sessions.testing import LoopbackTransport

        http = httpx.Client(transport=LoopbackTransport(endpoint))
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
    sessions: list[Session],
    work: Callable[[Session], str],
    concurrency: int,
    label: str,
    give_up: threading.Event | None = None,
) -> tuple[dict[str, str], int]:
    """``work`` per session on a bounded pool: outcome per shop, and how many never started."""
    outcomes: dict[str, str] = {}
    give_up = give_up or threading.Event()
    with _stop_on_signal(give_up) as stop, progress(label, total=len(sessions)) as advance:

        def guarded(session: Session) -> str | None:
            return None if stop.is_set() else work(session)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = {pool.submit(guarded, session): session for session in sessions}
            for future in as_completed(futures):
                outcome = future.result()
                if outcome is not None:
                    outcomes[futures[future].shop] = outcome
                advance(1)
    return outcomes, len(sessions) - len(outcomes)


def _report(tally: Tally, noun: str, unchanged: str, as_json: bool) -> None:
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
                },
                indent=2,
            )
        )
    else:
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


def _offline_sessions(storage: DynamoDBSessionStorage, shop: str | None) -> list[Session]:
    if shop is not None:
        session = storage.load_session(offline_session_id(shop))
        if session is None:
            fail(f"no offline session for shop {shop!r} in table {storage.table_name!r}")
        return [session] if session is not None else []
    with progress(f"scanning {storage.table_name!r}") as advance:
        found = []
        for session in storage.iter_sessions():
            advance(1)
            if not session.is_online:
                found.append(session)
    return found


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


@cli.command(
    "migrate-to-expiring", short_help="Exchange non-expiring offline tokens for expiring ones."
)
@click.option("--shop", help="Only this shop's offline session.")
@click.option("--dry-run", is_flag=True, help="Only count what would be migrated.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON.")
@_credentials
@click.pass_obj
def migrate_to_expiring(
    settings: Settings,
    shop: str | None,
    dry_run: bool,
    concurrency: int,
    as_json: bool,
    client_id: str | None,
    client_secret: str | None,
    timeout: float,
    shopify_endpoint: str | None,
) -> None:
    """Migrate every offline session without an expiry to an expiring token (token exchange).

    Each new pair is stored only if the session still holds the token that was exchanged
    (never over a session refreshed or reinstalled meanwhile); a store DynamoDB refuses is
    retried until it lands. Safe to re-run, also after a crash: the old token stays stored
    until the new pair is, and Shopify answers the same pair again for 7 days. Shops Shopify
    refused are recorded and not asked again. Ctrl-C stops new exchanges and stores those in
    flight (twice: gives up on them, for a re-run). Exit code: 0 done, 1 some failed (run
    again), 3 some shops must open the app again.
    """
    storage = settings.storage(cipher=env_cipher())
    sessions = _offline_sessions(storage, shop)
    todo = [s for s in sessions if s.expires is None and not s.refresh_token]
    tally = Tally(unchanged=len(sessions) - len(todo))
    if dry_run:
        tally.done = sorted(session.shop for session in todo)
        if not as_json:
            click.echo(f"dry run: would migrate {len(todo)} of {len(sessions)} offline sessions")
        _report(tally, "would_migrate", "already_expiring", as_json)
    refresher = _refresher(client_id, client_secret, shopify_endpoint, timeout)
    migrate = Migrator(storage, refresher.migrate, threading.Event())
    outcomes, tally.not_started = _run_each(
        todo, migrate, concurrency, "migrating", migrate.give_up
    )
    _sort(tally, outcomes, MIGRATED)
    _report(tally, "migrated", "already_expiring", as_json)


@cli.command("keep-warm", short_help="Refresh offline tokens whose refresh token expires soon.")
@click.option(
    "--days",
    type=click.IntRange(1, 90),
    default=14,
    show_default=True,
    help="Refresh sessions whose refresh token expires within this many days.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be refreshed.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON.")
@_credentials
@click.pass_obj
def keep_warm(
    settings: Settings,
    days: int,
    dry_run: bool,
    concurrency: int,
    as_json: bool,
    client_id: str | None,
    client_secret: str | None,
    timeout: float,
    shopify_endpoint: str | None,
) -> None:
    """Refresh every offline session whose refresh token expires within --days (a daily cron).

    Quiet shops never fall off the 90-day cliff. Refreshes go through the same single-flight
    path as workers (lease, newest pair wins). Non-expiring sessions are counted apart as
    "not migrated": they have nothing to refresh until migrate-to-expiring ran. Exit code:
    0 done, 1 some failed (run again), 3 some shops must open the app again.
    """
    storage = settings.storage(cipher=env_cipher())
    cutoff = datetime.now(timezone.utc) + timedelta(days=days)
    sessions = _offline_sessions(storage, None)
    due = [
        s
        for s in sessions
        if s.refresh_token
        and s.refresh_token_expires is not None
        and s.refresh_token_expires <= cutoff
    ]
    not_migrated = sum(1 for s in sessions if s.expires is None and not s.refresh_token)
    tally = Tally(unchanged=len(sessions) - len(due) - not_migrated, not_migrated=not_migrated)
    if dry_run:
        tally.done = sorted(session.shop for session in due)
        if not as_json:
            click.echo(f"dry run: would refresh {len(due)} of {len(sessions)} offline sessions")
        _report(tally, "would_refresh", "not_due", as_json)
    refresher = _refresher(client_id, client_secret, shopify_endpoint, timeout)

    def refresh(session: Session) -> str:
        try:
            fresh = storage.load_fresh_session(session.id, refresher, rejected=session)
        except (TokenRefreshError, SessionStorageError) as error:
            return _outcome_of(error)
        if fresh is None:
            return GONE
        return "refreshed"

    outcomes, tally.not_started = _run_each(due, refresh, concurrency, "refreshing")
    _sort(tally, outcomes, "refreshed")
    _report(tally, "refreshed", "not_due", as_json)
