"""Settings: the one place configuration is read from (environment, prefix `INTEROP_`)."""

import base64
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from interop.db import DEFAULT_POOL_SIZE, supported_database_url

# The request head's limit: h11 allows 16 KiB, Node 16 KiB, nginx 8 KiB a line. A bearer JWT
# with its header is about 1 KiB and an LTI platform's token a few: 64 KiB refuses no client
# that means well, and keeps what one connection can make the server hold small.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024

# How long a request head may take to arrive: nginx allows 60 s (client_header_timeout),
# Apache 20-40 s (RequestReadTimeout). A client that means well sends its head at once.
DEFAULT_HEADER_TIMEOUT_SECONDS = 30.0

# Durations' upper bounds. Past some billions of seconds a wait (a worker's poll, a
# heartbeat, a JWKS fetch's socket) overflows the platform's time_t and a date (a claim's
# stale time, a run's deadline) datetime's range: the worker thread died, or each claim
# failed, logged every poll. Well below that, each bound is past any use of its setting.
DAY_SECONDS = 24 * 3600
# The scheduler skips a slot missed by more than an hour (scheduler.LATE_GRACE): a longer
# interval would skip some.
MAX_SCHEDULER_INTERVAL_SECONDS = 1800
MAX_INGESTION_TIMEOUT = 30 * DAY_SECONDS

# The logging module's level names, in any case ("info" too); another name is refused at
# start, where logging itself would raise once the server had begun to start.
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]


# The contract's largest page (SPEC §1: a larger page_size is served at 1000); a larger
# setting was accepted and then served 1000 all the same.
MAX_PAGE_SIZE = 1000


def _not_empty(value: object) -> object:
    # An empty path is the working directory: INTEROP_DATA_DIR= (a compose file's unset
    # ${DATA_DIR}, say) wrote the database and the master secret there without a word.
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty (write . for the working directory)")
    return value


# A directory setting: given, never empty.
DirectoryPath = Annotated[Path, BeforeValidator(_not_empty)]


def master_secret_bytes(encoded: str) -> bytes:
    """The master secret's bytes: urlsafe base64 of at least 32."""
    try:
        raw = base64.urlsafe_b64decode(encoded.encode())
    except ValueError:
        raise ValueError("must be urlsafe base64 of 32 bytes") from None
    if len(raw) < 32:
        raise ValueError("must decode to at least 32 bytes")
    return raw


def _is_master_secret(encoded: str | None) -> str | None:
    if encoded is not None:
        master_secret_bytes(encoded)
    return encoded


def _supported_database(url: str | None) -> str | None:
    return None if url is None else supported_database_url(url)


class Settings(BaseSettings):
    # Errors name the setting, never its value: a secret key or a password may be in it.
    # No infinite durations: a poll interval of 1e999 passed its `gt=0` and then overflowed
    # the worker's clock arithmetic on every turn.
    model_config = SettingsConfigDict(
        env_prefix="INTEROP_", extra="ignore", hide_input_in_errors=True, allow_inf_nan=False
    )

    data_dir: DirectoryPath = Field(
        default=Path("./.interop"),
        description="Where the embedded database, the server secret and logs live.",
    )
    database_url: Annotated[str | None, AfterValidator(_supported_database)] = Field(
        default=None,
        description=(
            "sqlite:///PATH or postgresql://USER@HOST/NAME (through psycopg); default: a "
            "SQLite file `interop.db` in the data dir."
        ),
    )
    database_pool_size: int = Field(
        default=DEFAULT_POOL_SIZE,
        ge=1,
        le=1000,
        description=(
            "Database connections each process keeps open (one per request thread); under load "
            "it opens up to a quarter more. Requests beyond it wait their turn. On PostgreSQL, "
            "keep processes x 1.25 x this under `max_connections`."
        ),
    )
    secret_key: Annotated[str | None, AfterValidator(_is_master_secret)] = Field(
        default=None,
        description=(
            "Master secret (urlsafe base64, 32 bytes) that encrypts actor secrets and signing "
            "keys and keys the API-key hash. Default: `secret.key` in the data dir, created "
            "on first start. Set it (identically) on every process that shares a PostgreSQL."
        ),
    )
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    issuer: str = Field(default="interop", description="`iss` of the access tokens we sign.")
    jwks_cache_seconds: float = Field(
        default=300,
        ge=0,
        le=DAY_SECONDS,
        description="How long a fetched client or platform JWKS is reused.",
    )
    jwks_timeout_seconds: float = Field(
        default=5,
        gt=0,
        le=60,
        description="Timeout of one JWKS fetch; past it the JWT is refused.",
    )
    jwks_allow_private_networks: bool = Field(
        default=False, description="Let JWKS URLs reach loopback and private addresses."
    )
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_header_bytes: int = Field(
        default=DEFAULT_MAX_HEADER_BYTES,
        ge=1024,
        description=(
            "Largest request head (its URL and header lines); a larger one gets 431 "
            "`request_header_fields_too_large` and the connection closes."
        ),
    )
    header_timeout_seconds: float = Field(
        default=DEFAULT_HEADER_TIMEOUT_SECONDS,
        gt=0,
        le=3600,
        description=(
            "Seconds a request head may take to arrive, from the connection's start or the "
            "previous response's end; past it 408 `request_timeout` and the connection closes."
        ),
    )
    process_healthcheck_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        description=(
            "Seconds `interop serve --workers N` waits for a server process to answer its "
            "health check before killing and replacing it."
        ),
    )
    max_page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    max_blueprint_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        description=(
            "Requests a minute each principal (API key or actor) may make, counted across all "
            "the processes that share the database; 0 turns rate limiting off. Over the "
            "limit: 429 `rate_limited` with Retry-After."
        ),
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, description="Requests allowed at once; default the per-minute rate."
    )
    max_bundle_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        description="Largest OneRoster bundle (download, zip, or expanded zip) a collection reads.",
    )
    source_roots: list[DirectoryPath] = Field(
        default_factory=lambda: [Path(".")],
        description=(
            "Directories a connector's local `location` (path or file:// URL) may lie under "
            '(JSON list, e.g. `["/srv/sis-exports"]`); default the working directory.'
        ),
    )
    source_allow_private_networks: bool = Field(
        default=False,
        description="Let http(s) sources reach loopback and private addresses.",
    )
    engine_enabled: bool = Field(
        default=True,
        description="Run the scheduler and one ingestion worker inside `interop serve`.",
    )
    ingestion_timeout: int = Field(
        default=3600,
        ge=1,
        le=MAX_INGESTION_TIMEOUT,
        description="Seconds an ingestion may run before it ends `timeout`.",
    )
    ingestion_batch_rows: int = Field(
        default=5000, ge=1, description="Rows written per repository transaction."
    )
    ingestion_max_attempts: int = Field(
        default=3, ge=1, description="Workers that may die on one ingestion before it fails."
    )
    worker_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        le=DAY_SECONDS,
        description="How often an idle worker looks for queued ingestions.",
    )
    worker_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        le=DAY_SECONDS,
        description="How often a running ingestion's worker proves itself alive.",
    )
    worker_stale_seconds: float = Field(
        default=60.0,
        gt=0,
        le=DAY_SECONDS,
        description="A running ingestion whose heartbeat is older is taken over by a worker.",
    )
    scheduler_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        le=MAX_SCHEDULER_INTERVAL_SECONDS,
        description="How often the scheduler looks for due schedules.",
    )
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        default="auto",
        description="The event loop `interop serve` runs on; auto: asyncio on SQLite, uvloop "
        "on PostgreSQL (BENCHMARKS.md has the measurements).",
    )
    log_json: bool = Field(default=False, description="JSON log lines (production) vs console.")
    log_level: LogLevel = Field(default="INFO", description="The lowest level logged.")

    @model_validator(mode="after")
    def _heartbeat_within_stale_time(self) -> "Settings":
        # A heartbeat as old as the stale time makes every run look abandoned between two
        # beats: other workers took live runs over.
        if self.worker_heartbeat_seconds >= self.worker_stale_seconds:
            raise PydanticCustomError(
                "heartbeat_not_below_stale",
                "INTEROP_WORKER_HEARTBEAT_SECONDS must be less than "
                "INTEROP_WORKER_STALE_SECONDS: a running ingestion whose heartbeat is older "
                "than the stale time is taken over by another worker",
            )
        return self

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
