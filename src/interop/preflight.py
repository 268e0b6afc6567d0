"""What a CLI command does before its work: read the settings, make the data dir, migrate
the embedded SQLite database, and check that the database is reachable, current and
encrypted with this master secret; each failure ends the command with one line saying
which."""

import re
from typing import NoReturn

from alembic.util import CommandError
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import interop.models  # noqa: F401 - every table, so that a flush finds its foreign keys' tables
from interop.auth.keys import keys_open_with
from interop.auth.secrets import SecretBox, load_master_secret, master_secret_file
from interop.config import Settings
from interop.db import Database
from interop.migrations_runner import (
    current_revision,
    is_known_revision,
    migrations_are_current,
    upgrade,
)
from interop.terminal import fail


def load_settings(migrate_sqlite: bool = True) -> Settings:
    """The settings from the environment, with the data dir made and, on the embedded SQLite
    database, the migrations applied; an invalid setting ends the command naming it."""
    try:
        settings = Settings()
    except ValidationError as exc:
        fail("; ".join(_setting_error(error) for error in exc.errors()))
    except SettingsError as exc:
        fail(_unparsable_setting(exc))
    try:
        settings.ensure_data_dir()
    except OSError as exc:
        fail(f"cannot create the data dir {settings.data_dir}: {exc.strerror}")
    if migrate_sqlite and settings.is_sqlite:
        apply_migrations(settings)
    return settings


def apply_migrations(settings: Settings) -> None:
    """Migrate the configured database, or end the command saying why it cannot be opened
    (a SQLite file in a missing or read-only directory was a page of traceback)."""
    try:
        upgrade(settings.resolved_database_url)
    except DBAPIError as exc:
        fail_with_database(settings, unreachable(exc))
    except CommandError:
        # The only one upgrading to head raises on a reachable database: it is at a
        # revision these migrations do not hold.
        database = Database(settings.resolved_database_url)
        try:
            revision = current_revision(database.read_engine)
        finally:
            database.dispose()
        fail_with_database(settings, _schema_mismatch(revision))


def _schema_mismatch(revision: str | None) -> str:
    if revision is not None and not is_known_revision(revision):
        return (
            f"the database's schema is at revision {revision}, which this version of interop "
            "does not know: a newer release migrated it; run that release (or a newer one)"
        )
    return "the database's schema is not this version's: run `interop migrate`"


def open_database(settings: Settings) -> Database:
    """The configured database, reachable, at this version's schema and encrypted with this
    master secret; otherwise the command ends saying which, where the first query (or the
    server's start) would have raised a traceback."""
    database, _ = open_database_and_secrets(settings)
    return database


def open_database_and_secrets(settings: Settings) -> tuple[Database, SecretBox]:
    """`open_database`, and the master secret's box its check opened the keys with, for a
    command that stores secrets: built once."""
    database = Database.from_settings(settings)
    try:
        box = _checked_secrets(database, settings)
    except _Unusable as problem:
        database.dispose()
        fail_with_database(settings, str(problem))
    return database, box


class _Unusable(Exception):
    """Why a command cannot use the configured database."""


def _checked_secrets(database: Database, settings: Settings) -> SecretBox:
    """The master secret's box, once the database is reachable, at this version's schema
    and its keys open with that secret; otherwise `_Unusable` saying which."""
    try:
        database.ping()
        if not migrations_are_current(database.read_engine):
            raise _Unusable(_schema_mismatch(current_revision(database.read_engine)))
        box = SecretBox(_master_secret(settings))
        if not keys_open_with(database, box):
            raise _Unusable(
                "the database's keys were encrypted with another master secret: give every "
                "process that shares a database the same INTEROP_SECRET_KEY"
                + ("" if settings.secret_key else f" (unset here: {master_secret_file(settings)})")
            )
    except DBAPIError as exc:
        raise _Unusable(unreachable(exc)) from exc
    return box


def _master_secret(settings: Settings) -> bytes:
    """The master secret, or `_Unusable` saying why its file cannot give one (not base64 of
    32 bytes, unreadable, a directory)."""
    try:
        return load_master_secret(settings)
    except ValueError as exc:
        raise _Unusable(str(exc)) from exc
    except OSError as exc:
        raise _Unusable(f"cannot read the master secret: {exc}") from exc


def unreachable(exc: DBAPIError) -> str:
    """What the driver said, its first line (psycopg: which host and port, and why)."""
    lines = str(exc.orig).strip().splitlines()
    return f"cannot reach the database: {lines[0] if lines else type(exc.orig).__name__}"


def fail_with_database(settings: Settings, problem: str) -> NoReturn:
    fail(f"{problem} ({redacted(settings.resolved_database_url)})")


# libpq parameters a URL's query may carry that are secrets (README: the query goes to libpq).
SECRET_URL_PARAMETERS = frozenset({"password", "sslpassword"})


def redacted(url: str) -> str:
    """A database URL fit to print: its password masked, in the user info or the query."""
    parsed = make_url(url)
    query = {
        name: "***" if name.lower() in SECRET_URL_PARAMETERS else value
        for name, value in parsed.query.items()
    }
    # Rendered, the query's *** is percent-encoded: shown as the user info's is.
    return parsed.set(query=query).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def _unparsable_setting(exc: SettingsError) -> str:
    """A list setting whose value is not JSON: pydantic-settings names the field only in
    its message."""
    field = re.search(r'field "(\w+)"', str(exc))
    name = f"INTEROP_{field.group(1).upper()}" if field else "a setting"
    return f'{name}: not valid JSON (a list is written as JSON, e.g. ["/srv/sis-exports"])'


def _setting_error(error: ErrorDetails) -> str:
    # loc's first part is the field; a list setting adds the index of the bad item. A rule
    # between settings has no loc: its message names them.
    if not error["loc"]:
        return error["msg"]
    name, *position = error["loc"]
    where = f" (item {position[0]})" if position else ""
    return f"INTEROP_{str(name).upper()}{where}: {error['msg']}"
