"""Table commands: create-table, verify, enable-ttl, re-encrypt."""

from __future__ import annotations

import json

import click

from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.table_definition import FORMATS, definition
from shopify_sessions.dynamodb.ttl import TTL_ATTRIBUTE
from shopify_sessions.errors import SchemaMismatchError, TableNotFoundError

from ._app import Settings, cli, env_cipher, progress


def _names(storage: DynamoDBSessionStorage) -> str:
    return f"table {storage.table_name!r} (index {storage.shop_index_name!r})"


@cli.command("create-table", short_help="Create the sessions table and shop index.")
@click.option(
    "--provisioned",
    nargs=2,
    type=click.IntRange(min=1),
    metavar="RCU WCU",
    help="Provisioned capacity for the table and the index (the Node README uses 1 1). "
    "Default: on-demand.",
)
@click.option(
    "--ttl/--no-ttl",
    default=False,
    show_default=True,
    help=f"Turn on DynamoDB's TTL on the {TTL_ATTRIBUTE!r} attribute.",
)
@click.option("--wait/--no-wait", default=True, help="Wait until the table is ACTIVE.")
@click.option(
    "--print",
    "print_form",
    type=click.Choice(FORMATS),
    help="Only print the table definition for infrastructure code (AWS CLI JSON, "
    "CloudFormation, Terraform); nothing is sent.",
)
@click.pass_obj
def create_table(
    settings: Settings,
    provisioned: tuple[int, int] | None,
    ttl: bool,
    wait: bool,
    print_form: str | None,
) -> None:
    """Create the sessions table and its shop index (the Node adapter's schema).

    An existing table is left as it is (exit code 0 when it matches the schema). With
    --print, only print the definition (`aws dynamodb create-table --cli-input-json
    file://table.json`, a CloudFormation resource, a Terraform resource).
    """
    storage = settings.storage()
    if print_form is not None:
        click.echo(definition(print_form, storage.model, provisioned, ttl=ttl))
        if ttl and print_form == "json":
            click.echo(
                f"TTL is a separate call: aws dynamodb update-time-to-live --table-name "
                f"{storage.table_name} --time-to-live-specification "
                f"Enabled=true,AttributeName={TTL_ATTRIBUTE}",
                err=True,
            )
        return
    names = _names(storage)
    try:
        storage.verify_table()
    except TableNotFoundError:
        pass
    except SchemaMismatchError as error:
        click.echo(f"{names} already exists but differs from the sessions schema:")
        for difference in error.differences:
            click.echo(f"  - {difference}")
        raise click.exceptions.Exit(1) from None
    else:
        click.echo(f"{names} already exists and matches the sessions schema; nothing to do")
        if ttl:
            click.echo("to turn on TTL for it: shopify-sessions enable-ttl")
        return
    capacity = provisioned or (None, None)
    storage.create_table(
        wait=wait, read_capacity_units=capacity[0], write_capacity_units=capacity[1], ttl=ttl
    )
    billing = f"provisioned {capacity[0]}/{capacity[1]}" if provisioned else "on-demand"
    state = "created" if wait or ttl else "creation started (not waiting for ACTIVE)"
    click.echo(f"{names} {state}: {billing}, TTL {'on' if ttl else 'off'}")


@cli.command(short_help="Check the table against the Node schema.")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
@click.pass_obj
def verify(settings: Settings, as_json: bool) -> None:
    """Check the table against the Node adapter's schema (exit code 1 on any difference)."""
    storage = settings.storage()
    names = _names(storage)
    differences: list[str] = []
    try:
        storage.verify_table()
    except SchemaMismatchError as error:
        differences = error.differences
    if as_json:
        click.echo(
            json.dumps(
                {
                    "table": storage.table_name,
                    "matches": not differences,
                    "differences": differences,
                }
            )
        )
    elif differences:
        click.echo(f"{names} differs from the sessions schema:")
        for difference in differences:
            click.echo(f"  - {difference}")
    else:
        click.echo(f"OK: {names} matches the sessions schema")
    if differences:
        raise click.exceptions.Exit(1)


@cli.command("enable-ttl", short_help="Turn on TTL and backfill the ttl attribute.")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
@click.pass_obj
def enable_ttl(settings: Settings, as_json: bool) -> None:
    """Turn on DynamoDB's TTL for an existing table and give every item its ttl.

    A session's ttl is its natural end (refresh token expiry, else access token expiry) plus
    7 days; sessions that never expire get none.
    """
    storage = settings.storage()
    with progress(f"backfilling {TTL_ATTRIBUTE!r} on {storage.table_name!r}") as scanned:
        updated = storage.enable_ttl(progress=scanned)
    if as_json:
        click.echo(
            json.dumps({"table": storage.table_name, "scanned": scanned.done, "updated": updated})
        )
        return
    click.echo(
        f"TTL is on for table {storage.table_name!r} (attribute {TTL_ATTRIBUTE!r}); "
        f"{updated} of {scanned.done} items given a new ttl"
    )


@cli.command("re-encrypt", short_help="Rewrite tokens under the active key.")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
@click.pass_obj
def re_encrypt(settings: Settings, as_json: bool) -> None:
    """Rewrite every item whose tokens are plaintext or under an older key, with the active
    key of $SHOPIFY_SESSIONS_TOKEN_KEYS.

    Each rewrite is conditional: a token refreshed meanwhile is never overwritten.
    """
    cipher = env_cipher(required="re-encrypt")
    assert cipher is not None
    storage = settings.storage(cipher=cipher)
    with progress(f"re-encrypting {storage.table_name!r}") as scanned:
        rewritten = storage.re_encrypt(progress=scanned)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "table": storage.table_name,
                    "scanned": scanned.done,
                    "rewritten": rewritten,
                    "key": cipher.active_key_id,
                }
            )
        )
        return
    click.echo(
        f"re-encrypted {rewritten} of {scanned.done} items under key {cipher.active_key_id!r} "
        f"in table {storage.table_name!r}"
    )
