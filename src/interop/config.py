"""Settings: the one place configuration is read from (environment, prefix `INTEROP_`)."""

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTEROP_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./.interop"),
        description="Where the embedded database, the server secret and logs live.",
    )
    database_url: str | None = Field(
        default=None,
        description="Any SQLAlchemy URL; default: a SQLite file `interop.db` in the data dir.",
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Master secret (urlsafe base64, 32 bytes) that encrypts actor secrets and signing "
            "keys and keys the API-key hash. Default: `secret.key` in the data dir, created "
            "on first start. Set it (identically) on every process that shares a PostgreSQL."
        ),
    )
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    issuer: str = Field(default="interop", description="`iss` of the access tokens we sign.")
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_page_size: int = Field(default=1000, ge=1)
    max_blueprint_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_json: bool = Field(default=False, description="JSON log lines (production) vs console.")
    log_level: str = Field(default="INFO")

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'interop.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir
