"""Alembic, driven from code: `interop migrate`, `interop serve` on SQLite, and readiness."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrations_are_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def is_known_revision(revision: str) -> bool:
    """Whether this version's migrations include `revision` (one a newer release made is
    not: alembic can neither upgrade from it nor tell how far ahead it is)."""
    return revision in {
        script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()
    }
