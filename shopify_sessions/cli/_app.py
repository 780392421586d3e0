"""The ``shopify-sessions`` group: global options, storages, consoles, progress, errors."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from shopify_sessions import __version__
from shopify_sessions.dynamodb.cipher import (
    ACTIVE_KEY_ID_ENV,
    TOKEN_KEYS_ENV,
    TokenCipher,
    UnknownKeyError,
)
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.settings import resolve_connection
from shopify_sessions.errors import (
    SessionStorageError,
    StorageUnavailableError,
    TableNotFoundError,
)
from shopify_sessions.local.endpoint import MissingExtraError, is_local_endpoint

__all__ = [
    "FAILURE_ERROR",
    "Settings",
    "cli",
    "confirm",
    "err_console",
    "fail",
    "main",
    "out_console",
    "progress",
]

DEBUG_ENV = "SHOPIFY_SESSIONS_DEBUG"
# a command attribute: the ClickException (and so the exit code) of its errors, for a command
# whose exit code 1 means something else (doctor: problems found)
FAILURE_ERROR = "failure_error"
MASK = "***"


@dataclass(frozen=True)
class Settings:
    """The global options as given; ``None`` lets the library resolve the environment."""

    endpoint_url: str | None
    region: str | None
    table: str | None
    index: str | None

    @property
    def host(self) -> str | None:
        """The endpoint in effect: the option, else the environment, else AWS (``None``)."""
        return resolve_connection(host=self.endpoint_url).host

    def storage(self, *, cipher: TokenCipher | None = None) -> DynamoDBSessionStorage:
        """A storage for these settings (a local endpoint needs no credentials: the storage
        uses placeholders when none are configured)."""
        return DynamoDBSessionStorage(
            self.table, self.index, region=self.region, host=self.endpoint_url, token_cipher=cipher
        )


def env_cipher(*, required: str | None = None) -> TokenCipher | None:
    """The token cipher the environment configures; with ``required`` (a command name), an
    error when there is none."""
    cipher = TokenCipher.from_env()
    if cipher is None and required is not None:
        fail(
            f"{required} needs token keys: set {TOKEN_KEYS_ENV}=key_id:base64key[,...] "
            f"(and optionally {ACTIVE_KEY_ID_ENV}; the last key listed is active by default)"
        )
    return cipher


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying data, on a terminal only (scripts and pipes are not asked)."""
    if yes or not sys.stdin.isatty():
        return
    if not click.confirm(question, default=False, err=True):
        raise click.ClickException("cancelled; nothing was deleted (--yes skips this question)")


def fail(message: str) -> NoReturn:
    """Stop with one line on stderr and exit code 1."""
    raise click.ClickException(_one_line(message))


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


@cache
def out_console() -> Console:
    """Standard output; wide when piped, so tables are not cut to 80 columns."""
    probe = Console()
    return Console(highlight=False, width=None if probe.is_terminal else 200)


@cache
def err_console() -> Console:
    return Console(stderr=True, highlight=False)


class Tally:
    """``advance(n)`` for a progress bar, which also keeps the count (``.done``)."""

    def __init__(self, advance: Callable[[int], None]) -> None:
        self._advance = advance
        self.done = 0

    def __call__(self, n: int = 1) -> None:
        self.done += n
        self._advance(n)


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Tally]:
    """A progress bar on stderr (only on a terminal); yields ``advance(n)``, a ``Tally``."""
    console = err_console()
    count: ProgressColumn = (
        MofNCompleteColumn() if total is not None else TextColumn("{task.completed} items")
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield Tally(lambda n: bar.advance(task, n))


class _Group(click.Group):
    """Turns the errors a command can meet into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        # a command whose exit code 1 means "problems found" (doctor) fails with another code,
        # also when the failure is a bug: a script must never read a crash as a finding
        try:
            return self._invoke(ctx)
        except click.ClickException as error:
            failure = self._failure_error(ctx)
            if failure is not None and error.exit_code == 1:
                raise failure(error.message) from None
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            failure = self._failure_error(ctx)
            if failure is None or os.environ.get(DEBUG_ENV):
                raise
            raise failure(
                _one_line(
                    f"unexpected {type(error).__name__}: {error} "
                    f"(set {DEBUG_ENV}=1 for a traceback)"
                )
            ) from None

    def _failure_error(self, ctx: click.Context) -> type[click.ClickException] | None:
        """The error class of the command that ran, if its exit code 1 means a finding."""
        command = self.commands.get(ctx.invoked_subcommand or "")
        failure: type[click.ClickException] | None = getattr(command, FAILURE_ERROR, None)
        return failure

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click handles these (a closed pipe, as in `export - | head`, is quiet)
        except TableNotFoundError as error:
            raise click.ClickException(
                f"table {error.table_name!r} does not exist: create it with "
                f"`shopify-sessions create-table` (or pass --table / set SHOPIFY_SESSIONS_TABLE)"
            ) from None
        except UnknownKeyError as error:
            raise click.ClickException(
                _one_line(f"{error}: set {TOKEN_KEYS_ENV} with that key")
            ) from None
        except StorageUnavailableError as error:
            message = str(error)
            settings = ctx.find_object(Settings)
            host = settings.host if settings is not None else None
            if "EndpointConnectionError" in message and is_local_endpoint(host):
                message += " (is `shopify-sessions serve-local` running there?)"
            raise click.ClickException(_one_line(message)) from None
        except (SessionStorageError, ValueError, OSError, MissingExtraError) as error:
            message = _one_line(error).replace("pass region= or set", "pass --region or set")
            raise click.ClickException(message) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="DynamoDB endpoint. Default: $AWS_ENDPOINT_URL_DYNAMODB, $AWS_ENDPOINT_URL, else AWS.",
)
@click.option(
    "--region", help="AWS region. Default: $AWS_REGION, $AWS_DEFAULT_REGION, the AWS profile."
)
@click.option(
    "--table", help="Sessions table. Default: $SHOPIFY_SESSIONS_TABLE, else shopify_sessions."
)
@click.option("--index", help="Shop index. Default: $SHOPIFY_SESSIONS_SHOP_INDEX, else shop_index.")
@click.version_option(__version__, prog_name="shopify-sessions")
@click.pass_context
def cli(
    ctx: click.Context,
    endpoint_url: str | None,
    region: str | None,
    table: str | None,
    index: str | None,
) -> None:
    """Shopify OAuth sessions in DynamoDB, in the Node adapter's table format.

    Tokens are never printed, except by `show --reveal` and `export`. A local endpoint
    (127.0.0.1 or localhost) needs no AWS credentials; to run one: serve-local.
    """
    ctx.obj = Settings(endpoint_url=endpoint_url, region=region, table=table, index=index)


def _configure_logging() -> None:
    """The library's warnings (skipped corrupt items, refused batch actions) as one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("Warning: %(message)s"))
    logger = logging.getLogger("shopify_sessions")
    logger.addHandler(handler)
    logger.propagate = False


def main(argv: list[str] | None = None) -> None:
    """Console script entry point."""
    _configure_logging()
    try:
        cli.main(args=argv, prog_name="shopify-sessions", standalone_mode=True)
    except Exception as error:  # a bug: still one line, unless debugging
        if os.environ.get(DEBUG_ENV):
            raise
        click.echo(
            f"Error: unexpected {type(error).__name__}: {_one_line(error)} "
            f"(set {DEBUG_ENV}=1 for a traceback)",
            err=True,
        )
        sys.exit(1)
