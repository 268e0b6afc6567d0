"""The `interop` command: serve, migrate, and manage accounts and their API keys."""

import json
import logging
import uuid
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from interop.accounts import service as accounts
from interop.accounts.models import ACCOUNT_TYPES
from interop.auth.secrets import SecretBox, load_master_secret
from interop.config import Settings
from interop.db import Database
from interop.engine import commands as engine_commands
from interop.errors import InteropError
from interop.logs import configure_logging
from interop.migrations_runner import upgrade

# No local variables in tracebacks: they could hold secrets.
app = typer.Typer(
    help="Operate an Interop server.", no_args_is_help=True, pretty_exceptions_show_locals=False
)
accounts_app = typer.Typer(help="Accounts and their API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="An account's API keys.", no_args_is_help=True)
accounts_app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")
app.add_typer(engine_commands.ingestions_app, name="ingestions")
app.command("worker")(engine_commands.worker)
console = Console()
err_console = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only).")] = 1,
    worker: Annotated[
        bool,
        typer.Option(help="Run the scheduler and an ingestion worker in the server process."),
    ] = True,
) -> None:
    """Serve the API (and, unless --no-worker, the scheduler and one ingestion worker).
    On the embedded SQLite database, migrations are applied first."""
    import os

    import uvicorn

    if not worker:
        # The app factory reads its settings from the environment, in every process.
        os.environ["INTEROP_ENGINE_ENABLED"] = "false"

    settings = Settings()
    settings.ensure_data_dir()
    configure_logging(settings)
    if settings.is_sqlite:
        upgrade(settings.resolved_database_url)
        if workers != 1:
            err_console.print("SQLite serves from one process; ignoring --workers.")
            workers = 1
    # Plain echo: Rich would wrap these lines at the terminal width.
    typer.echo(f"Interop API listening on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    typer.echo(f"Database: {_redacted(settings.resolved_database_url)}")
    typer.echo("Create credentials with: .venv/bin/interop accounts create --name NAME --json")
    uvicorn.run(
        "interop.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations to the configured database."""
    settings = Settings()
    settings.ensure_data_dir()
    upgrade(settings.resolved_database_url)
    console.print(f"Migrated {_redacted(settings.resolved_database_url)} to the latest revision.")


@accounts_app.command("create")
def create_account(
    name: Annotated[str, typer.Option(help="The account's name.")],
    type: Annotated[str, typer.Option(help=f"One of: {', '.join(ACCOUNT_TYPES)}.")] = "developer",
    parent: Annotated[
        str | None, typer.Option(help="Parent account id: the new account sits under it.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the credentials.")
    ] = False,
) -> None:
    """Create an account and its first API key (the secret is shown once)."""
    _, database, box = _open()
    parent_id = _uuid_or_exit(parent, "--parent") if parent else None
    try:
        with database.transaction() as session:
            account, key = accounts.create_account(session, box, name, type, parent_id)
            record = {
                "id": str(account.id),
                "name": account.name,
                "type": account.type,
                "parent_id": str(account.parent_id) if account.parent_id else None,
                "client_id": key.client_id,
                "client_secret": key.client_secret,
            }
    except InteropError as error:
        _fail(error.message)
    if as_json:
        typer.echo(json.dumps(record))
        return
    console.print(f"Created account [bold]{record['name']}[/] ({record['type']}) {record['id']}")
    console.print(f"client_id:     {record['client_id']}")
    console.print(f"client_secret: {record['client_secret']}  (shown once; store it now)")


@accounts_app.command("list")
def list_accounts(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List every account with its number of active API keys."""
    _, database, _ = _open()
    with database.transaction(write=False) as session:
        rows = [
            {
                "id": str(account.id),
                "name": account.name,
                "type": account.type,
                "parent_id": str(account.parent_id) if account.parent_id else None,
                "active_keys": active_keys,
            }
            for account, active_keys in accounts.list_accounts(session)
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "name", "type", "parent_id", "active keys")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["name"]),
            str(row["type"]),
            str(row["parent_id"] or ""),
            str(row["active_keys"]),
        )
    console.print(table)


@keys_app.command("create")
def create_key(
    account_id: Annotated[str, typer.Argument(help="The account that gets the key.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create another API key for an account (the secret is shown once)."""
    _, database, box = _open()
    parsed = _uuid_or_exit(account_id, "ACCOUNT_ID")
    try:
        with database.transaction() as session:
            key = accounts.create_api_key(session, box, parsed)
    except InteropError as error:
        _fail(error.message)
    if as_json:
        typer.echo(json.dumps({"client_id": key.client_id, "client_secret": key.client_secret}))
        return
    console.print(f"client_id:     {key.client_id}")
    console.print(f"client_secret: {key.client_secret}  (shown once; store it now)")


@keys_app.command("revoke")
def revoke_key(
    client_id: Annotated[str, typer.Argument(help="The client_id of the key to revoke.")],
) -> None:
    """Revoke an API key; tokens issued for it stop working at once."""
    _, database, _ = _open()
    try:
        with database.transaction() as session:
            accounts.revoke_api_key(session, client_id)
    except InteropError as error:
        _fail(error.message)
    console.print(f"Revoked {client_id}.")


def _open() -> tuple[Settings, Database, SecretBox]:
    settings = Settings()
    settings.ensure_data_dir()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if settings.is_sqlite:
        upgrade(settings.resolved_database_url)
    return (
        settings,
        Database(settings.resolved_database_url),
        SecretBox(load_master_secret(settings)),
    )


def _uuid_or_exit(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        _fail(f"{name} must be a UUID, got {value!r}")


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code=1)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
