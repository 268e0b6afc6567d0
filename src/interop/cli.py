"""The `interop` command: serve, migrate, and manage accounts, keys and LTI platforms."""

# Commands import what they work with (SQLAlchemy, the services, FastAPI, the engine) in their
# bodies, not here: imported here, they cost every invocation, `--help` and usage errors
# included, 1.7-2.2 s (`interop --help` took 2.2-3.1 s, now 0.3-0.4 s, on a 2-core machine).
# tests/test_cli_imports.py keeps them out.

import json
import logging
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from interop.accounts.types import ACCOUNT_TYPES
from interop.engine import commands as engine_commands
from interop.errors import InteropError
from interop.storable import storable_text
from interop.terminal import console, err_console, fail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from interop.auth.secrets import SecretBox
    from interop.clientkeys.schemas import KeySource
    from interop.config import Settings
    from interop.db import Database

# More would be a typo: uvicorn would start processes until the machine could start no more.
MAX_PROCESSES = 1024

# No local variables in tracebacks: they could hold secrets.
app = typer.Typer(
    help="Operate an Interop server.", no_args_is_help=True, pretty_exceptions_show_locals=False
)


@app.callback()
def _arguments_are_text() -> None:
    # Bytes that are not UTF-8 reach Python as lone surrogates, which no database stores:
    # a name or a client id made of them was a UnicodeEncodeError traceback.
    for position, argument in enumerate(sys.argv[1:], 1):
        if not storable_text(argument):
            fail(f"argument {position} is not UTF-8 text without NUL characters")


accounts_app = typer.Typer(help="Accounts and their API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="An account's API keys.", no_args_is_help=True)
accounts_app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")
signing_app = typer.Typer(help="The server's own token-signing keys.", no_args_is_help=True)
app.add_typer(signing_app, name="keys")
clients_app = typer.Typer(help="API keys and actors as OAuth clients.", no_args_is_help=True)
client_keys_app = typer.Typer(
    help="Public keys a client signs its token requests with (private_key_jwt).",
    no_args_is_help=True,
)
clients_app.add_typer(client_keys_app, name="keys")
app.add_typer(clients_app, name="clients")
lti_app = typer.Typer(help="LTI 1.3 Advantage.", no_args_is_help=True)
platforms_app = typer.Typer(
    help="LTI platforms whose JWTs act as an account.", no_args_is_help=True
)
lti_app.add_typer(platforms_app, name="platforms")
app.add_typer(lti_app, name="lti")
app.add_typer(engine_commands.ingestions_app, name="ingestions")
app.command("worker")(engine_commands.worker)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8080,
    workers: Annotated[
        int,
        typer.Option(min=1, max=MAX_PROCESSES, help="Worker processes (PostgreSQL only)."),
    ] = 1,
    worker: Annotated[
        bool,
        typer.Option(help="Run the scheduler and an ingestion worker in the server process."),
    ] = True,
) -> None:
    """Serve the API (and, unless --no-worker, the scheduler and one ingestion worker).

    On the embedded SQLite database, migrations are applied first."""
    import os

    import uvicorn

    from interop.logs import configure_logging
    from interop.metrics import counted_across_processes
    from interop.preflight import load_settings, open_database, redacted
    from interop.serving import APP_FACTORY, event_loop, protocol_options

    if not worker:
        # The app factory reads its settings from the environment, in every process.
        os.environ["INTEROP_ENGINE_ENABLED"] = "false"

    settings = load_settings()
    configure_logging(settings)
    if settings.is_sqlite and workers != 1:
        err_console.print("SQLite serves from one process; ignoring --workers.")
        workers = 1
    database = open_database(settings)
    try:
        _warn_if_connections_may_run_out(database, processes=workers)
    finally:
        database.dispose()
    if settings.is_sqlite:
        _hold_the_sqlite_server_lock(settings.resolved_database_url)
    # Plain echo: Rich would wrap these lines at the terminal width.
    # Said before uvicorn binds the port: a port in use is reported by uvicorn right after.
    typer.echo(f"Interop API starting on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    typer.echo(f"Database: {redacted(settings.resolved_database_url)}")
    typer.echo("Create credentials with: .venv/bin/interop accounts create --name NAME --json")
    with counted_across_processes(workers):
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=10,
            # uvicorn's 5 s killed processes that were only busy on a loaded host (a machine
            # running the test suite four times over), cutting off their requests in flight.
            timeout_worker_healthcheck=settings.process_healthcheck_seconds,
            loop=event_loop(settings),
            **protocol_options(settings),
        )


def _hold_the_sqlite_server_lock(url: str) -> None:
    """Refuse to serve a SQLite database another `interop serve` serves. SQLite is served by
    one process, whose rate-limit buckets live in its memory: a second server on the same
    file started and granted every principal its rate again. The lock (a file beside the
    database) is held until the process ends, however it ends."""
    import fcntl

    from sqlalchemy.engine import make_url

    database_file = make_url(url).database
    handle = open(f"{database_file}.serve-lock", "a")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        fail(f"another `interop serve` serves {database_file}: SQLite is served by one process")
    _HELD.append(handle)


# Open files whose locks this process holds until it ends.
_HELD: list[IO[str]] = []


def _warn_if_connections_may_run_out(database: "Database", processes: int) -> None:
    """Say so up front when the processes' pools together can exceed PostgreSQL's limit:
    otherwise it shows only under load, as requests refused with 'too many clients'."""
    allowed = database.server_max_connections()
    wanted = processes * database.max_connections
    if allowed is not None and wanted > allowed:
        err_console.print(
            f"Warning: {processes} process(es) may open {wanted} database connections under "
            f"load and PostgreSQL allows {allowed} (max_connections). Lower "
            "INTEROP_DATABASE_POOL_SIZE or raise max_connections.",
            soft_wrap=True,
        )


@app.command()
def migrate() -> None:
    """Apply the database migrations to the configured database."""
    from interop.preflight import apply_migrations, load_settings, redacted

    settings = load_settings(migrate_sqlite=False)
    apply_migrations(settings)
    console.print(
        f"Migrated {escape(redacted(settings.resolved_database_url))} to the latest revision."
    )


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
    from interop.accounts import service as accounts

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
        fail(error.message)
    if as_json:
        typer.echo(json.dumps(record))
        return
    # The name as typed, never as markup: "[/bold]" made this line raise after the account and
    # its key were stored, so the secret, shown only here, was lost.
    name = escape(str(record["name"]))
    console.print(f"Created account [bold]{name}[/] ({record['type']}) {record['id']}")
    console.print(f"client_id:     {record['client_id']}")
    console.print(f"client_secret: {record['client_secret']}  (shown once; store it now)")


@accounts_app.command("list")
def list_accounts(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List every account with its number of active API keys."""
    from interop.accounts import service as accounts

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
        # Text cells: a cell given as a string is read as Rich markup.
        cells = (row["id"], row["name"], row["type"], row["parent_id"] or "", row["active_keys"])
        table.add_row(*(Text(str(cell)) for cell in cells))
    console.print(table)


@keys_app.command("create")
def create_key(
    account_id: Annotated[str, typer.Argument(help="The account that gets the key.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create another API key for an account (the secret is shown once)."""
    from interop.accounts import service as accounts

    _, database, box = _open()
    parsed = _uuid_or_exit(account_id, "ACCOUNT_ID")
    try:
        with database.transaction() as session:
            key = accounts.create_api_key(session, box, parsed)
    except InteropError as error:
        fail(error.message)
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
    from interop.accounts import service as accounts

    _in_one_write(lambda session: accounts.revoke_api_key(session, client_id))
    console.print(f"Revoked {escape(client_id)}.")


@signing_app.command("rotate")
def rotate_signing_key() -> None:
    """Sign new access tokens with a new key.

    Tokens signed by the previous key stay valid until they expire: the JWKS lists both (keys
    retired longer ago than a token lives are dropped). Running servers pick the new key up
    at their next token."""
    from interop.auth.keys import KeyRing

    settings, database, box = _open()
    keys = KeyRing(database, box)
    keys.load()
    new_kid, published = keys.rotate(retention_seconds=settings.token_ttl_seconds + 60)
    console.print(f"Signing with {new_kid}; the JWKS publishes {', '.join(published)}.")


@client_keys_app.command("add")
def add_client_key(
    client_id: Annotated[str, typer.Argument(help="client_id of an API key or an actor.")],
    jwk_file: Annotated[
        Path | None, typer.Option(help="A file holding the public key as a JWK (JSON).")
    ] = None,
    pem_file: Annotated[Path | None, typer.Option(help="A file holding a PEM public key.")] = None,
    jwks_url: Annotated[str | None, typer.Option(help="The client's JWKS URL.")] = None,
) -> None:
    """Register a public key the client signs its /oauth/token assertions with."""
    from interop.clientkeys import service as client_keys
    from interop.clientkeys.schemas import ClientKeyIn, ClientKeyOut

    source = _key_source(ClientKeyIn, jwk_file, pem_file, jwks_url, {})
    _, database, _ = _open()
    try:
        with database.transaction() as session:
            account_id = client_keys.client_owner(session, client_id, None)
            key = client_keys.add_key(session, account_id, client_id, source)
            shown = ClientKeyOut.model_validate(key).model_dump(mode="json")
    except InteropError as error:
        fail(error.message)
    typer.echo(json.dumps(shown))


@client_keys_app.command("list")
def list_client_keys(
    client_id: Annotated[str, typer.Argument(help="client_id of an API key or an actor.")],
) -> None:
    """List the public keys registered for a client, one JSON object per line.

    A client with no key prints no line; a client_id that is neither an API key nor an actor
    is an error."""
    from interop.clientkeys import service as client_keys
    from interop.clientkeys.schemas import ClientKeyOut

    _, database, _ = _open()
    with database.transaction(write=False) as session:
        try:
            client_keys.client_owner(session, client_id, None)
        except InteropError as error:
            fail(error.message)
        for key in session.scalars(client_keys.keys_of(client_id)):
            typer.echo(json.dumps(ClientKeyOut.model_validate(key).model_dump(mode="json")))


@client_keys_app.command("remove")
def remove_client_key(
    client_id: Annotated[str, typer.Argument(help="client_id of an API key or an actor.")],
    key_id: Annotated[str, typer.Argument(help="The key's id, as `clients keys list` shows.")],
) -> None:
    """Remove a client's public key: assertions it signs are refused from now on."""
    from interop.clientkeys import service as client_keys

    key = _uuid_or_exit(key_id, "KEY_ID")
    _in_one_write(lambda session: client_keys.delete_key(session, client_id, key))
    console.print(f"Removed key {key} of {escape(client_id)}.")


@platforms_app.command("add")
def add_lti_platform(
    account_id: Annotated[str, typer.Option(help="The account the platform's JWTs act as.")],
    issuer: Annotated[str, typer.Option(help="The platform's issuer (iss).")],
    client_id: Annotated[str, typer.Option(help="The client id the platform gave the tool.")],
    deployment_id: Annotated[
        list[str] | None,
        typer.Option(help="An accepted deployment id (repeat for several; none: any)."),
    ] = None,
    jwks_url: Annotated[str | None, typer.Option(help="The platform's JWKS URL.")] = None,
    jwk_file: Annotated[
        Path | None, typer.Option(help="A file holding the platform's public JWK.")
    ] = None,
    pem_file: Annotated[Path | None, typer.Option(help="A file holding a PEM public key.")] = None,
) -> None:
    """Register an LTI 1.3 platform for an account."""
    from interop.accounts.models import Account
    from interop.lti import service as lti
    from interop.lti.schemas import LtiPlatformIn, LtiPlatformOut

    registration = {"issuer": issuer, "client_id": client_id, "deployment_ids": deployment_id or []}
    body = _key_source(LtiPlatformIn, jwk_file, pem_file, jwks_url, registration)
    settings, database, _ = _open()
    owner = _uuid_or_exit(account_id, "--account-id")
    try:
        with database.transaction() as session:
            if session.get(Account, owner) is None:
                fail(f"no account {owner}")
            platform = lti.register_platform(session, owner, body, settings.issuer)
            shown = LtiPlatformOut.model_validate(platform).model_dump(mode="json")
    except InteropError as error:
        fail(error.message)
    typer.echo(json.dumps(shown))


@platforms_app.command("list")
def list_lti_platforms() -> None:
    """List every LTI platform registration, one JSON object per line."""
    from interop.lti import service as lti
    from interop.lti.schemas import LtiPlatformOut

    _, database, _ = _open()
    with database.transaction(write=False) as session:
        for platform in session.scalars(lti.platforms_of(None)):
            typer.echo(json.dumps(LtiPlatformOut.model_validate(platform).model_dump(mode="json")))


SourceModel = TypeVar("SourceModel", bound="KeySource")


# A public key file is a few kilobytes (the API takes a PEM of up to 16 KiB): reading more
# would let /dev/zero, or a wrong path to a large file, take the machine's memory.
MAX_KEY_FILE_BYTES = 64 * 1024


def _small_text_file(path: Path) -> str:
    with path.open("rb") as file:
        content = file.read(MAX_KEY_FILE_BYTES + 1)
    if len(content) > MAX_KEY_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_KEY_FILE_BYTES // 1024} KiB")
    return content.decode("utf-8")


def _key_source(
    model: type[SourceModel],
    jwk_file: Path | None,
    pem_file: Path | None,
    jwks_url: str | None,
    fields: dict[str, Any],
) -> SourceModel:
    """The request body the API would take, from the CLI's options (same checks)."""
    from pydantic import ValidationError

    try:
        if jwk_file is not None:
            fields["jwk"] = json.loads(_small_text_file(jwk_file))
        if pem_file is not None:
            fields["pem"] = _small_text_file(pem_file)
    except (OSError, ValueError) as exc:
        fail(f"cannot read the key: {exc}")
    if jwks_url is not None:
        fields["jwks_url"] = jwks_url
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        fail("; ".join(error["msg"] for error in exc.errors()))


def _open() -> tuple["Settings", "Database", "SecretBox"]:
    from interop.preflight import load_settings, open_database_and_secrets

    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load_settings()
    database, box = open_database_and_secrets(settings)
    return settings, database, box


def _uuid_or_exit(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{name} must be a UUID, got {value!r}")


@platforms_app.command("remove")
def remove_lti_platform(
    platform_id: Annotated[str, typer.Argument(help="The registration's id, as `list` shows.")],
) -> None:
    """Remove an LTI platform registration: its JWTs are refused from now on."""
    from interop.lti import service as lti

    platform = _uuid_or_exit(platform_id, "PLATFORM_ID")
    _in_one_write(lambda session: lti.delete_platform(session, None, platform))
    console.print(f"Removed LTI platform {platform}.")


def _in_one_write(change: Callable[["Session"], object]) -> None:
    """`change` in one write transaction; a refusal (an unknown id) ends the command with
    its message, and nothing is written."""
    _, database, _ = _open()
    try:
        with database.transaction() as session:
            change(session)
    except InteropError as error:
        fail(error.message)
