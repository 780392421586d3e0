"""Local development: serve-local (an embedded endpoint) and demo (the quick start)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from shopify_sessions.local.demo import run_demo
from shopify_sessions.local.endpoint import LocalEndpoint

from ._app import Settings, cli


@cli.command("serve-local", short_help="Run a local DynamoDB endpoint (moto) with the table.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines file: sessions are loaded from it at start, saved to it about a second "
    "after each change and at exit; other tables, and what session items carry besides the "
    "session (a dead grant's mark), are kept beside it in NAME.tables.jsonl.",
)
@click.pass_obj
def serve_local(settings: Settings, port: int, data: Path | None) -> None:
    """Run a DynamoDB-compatible endpoint on 127.0.0.1 with the sessions table (moto).

    The port accepts connections once the table is there and --data is loaded. Only DynamoDB
    calls are served (signed for dynamodb), to local programs only. Stops on Ctrl-C or
    SIGTERM, saving to --data first. Needs the `local` extra.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    endpoint = LocalEndpoint(
        port,
        session_table_name=settings.table,
        shop_index_name=settings.index,
        region=settings.region,
        data=data,
    )
    try:
        url = endpoint.start()
        storage = endpoint.storage()
        click.echo(f"DynamoDB-compatible endpoint (moto) on {url}")
        click.echo(
            f"table {storage.table_name!r} with index {storage.shop_index_name!r}, "
            f"region {storage.connection.region}"
        )
        if data is not None:
            loaded = f"loaded {endpoint.loaded} sessions from" if data.exists() else "new file"
            click.echo(
                f"{loaded} {data}; changes are saved there within about a second "
                f"(a crash loses at most that), and at exit"
            )
        else:
            click.echo("no --data file: sessions are lost at exit")
        click.echo("only programs on this machine are served (web pages are refused)")
        click.echo("use it (no AWS credentials needed):")
        click.echo(f"  export AWS_ENDPOINT_URL_DYNAMODB={url}")
        click.echo("Ctrl-C to stop")
        while not stop.wait(0.2):
            pass
    finally:
        saved = endpoint.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if saved is not None:
        click.echo(f"saved {saved} sessions to {data}")
    click.echo("stopped")


@cli.command(short_help="Run the quick start on an embedded endpoint.")
@click.pass_obj
def demo(settings: Settings) -> None:
    """The quick start: store an offline and an online session, load them, find them by shop
    and delete them, printing each step.

    Runs on an embedded endpoint (the `local` extra), or on --endpoint-url when given.
    """
    run_demo(
        settings.endpoint_url,
        session_table_name=settings.table,
        shop_index_name=settings.index,
        region=settings.region,
        echo=click.echo,
    )
