"""What every CLI command shares: the consoles, how it fails, and how it reads its settings."""

from typing import NoReturn

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from rich.console import Console

from interop.config import Settings
from interop.migrations_runner import upgrade

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print one error line and exit 1: a mistake the user can fix gets no traceback."""
    err_console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def load_settings(migrate_sqlite: bool = True) -> Settings:
    """The settings from the environment, with the data dir made and, on the embedded SQLite
    database, the migrations applied; an invalid setting ends the command naming it."""
    try:
        settings = Settings()
    except ValidationError as exc:
        fail("; ".join(_setting_error(error) for error in exc.errors()))
    try:
        settings.ensure_data_dir()
    except OSError as exc:
        fail(f"cannot create the data dir {settings.data_dir}: {exc.strerror}")
    if migrate_sqlite and settings.is_sqlite:
        upgrade(settings.resolved_database_url)
    return settings


def _setting_error(error: ErrorDetails) -> str:
    # loc's first part is the field; a list setting adds the index of the bad item.
    name, *position = error["loc"]
    where = f" (item {position[0]})" if position else ""
    return f"INTEROP_{str(name).upper()}{where}: {error['msg']}"
