"""The operator CLI: in this process (`invoke`), and as users run it, the installed `interop`
executable (`run`) where a process is what is tested: the console script's exit codes and
stderr for a command of each group, `interop serve` and `interop worker`, and arguments that
are not UTF-8."""

import base64
import inspect
import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli_runner import INTEROP, environment, invoke, run, run_or_invoke
from conftest import _free_port, _libpq_url, postgres_admin_url
from interop.accounts.models import MAX_ACCOUNT_DEPTH
from interop.cli import app
from interop.config import Settings

COMMANDS = [
    [],
    ["serve"],
    ["migrate"],
    ["accounts"],
    ["accounts", "create"],
    ["accounts", "list"],
    ["accounts", "keys"],
    ["accounts", "keys", "create"],
    ["accounts", "keys", "revoke"],
    ["worker"],
    ["ingestions"],
    ["ingestions", "run"],
    ["ingestions", "prune"],
    ["keys"],
    ["keys", "rotate"],
    ["clients"],
    ["clients", "keys"],
    ["clients", "keys", "add"],
    ["clients", "keys", "list"],
    ["clients", "keys", "remove"],
    ["lti"],
    ["lti", "platforms"],
    ["lti", "platforms", "add"],
    ["lti", "platforms", "list"],
    ["lti", "platforms", "remove"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "interop")
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    # `interop --help` as the installed executable prints it; the commands', in this process.
    result = (invoke if command else run)([*command, "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def _commands(command: Any) -> Iterator[Any]:
    """`command` and every command under it (Typer's own Click classes: it vendors Click)."""
    yield command
    for child in getattr(command, "commands", {}).values():
        yield from _commands(child)


def test_every_command_summary_is_one_line() -> None:
    # A group's listing shows each command's first paragraph with its line breaks kept: a
    # docstring wrapped mid-sentence there printed as ragged lines.
    for command in _commands(typer.main.get_command(app)):
        summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert summary, f"{command.name} has no help"
        assert "\n" not in summary, f"{command.name}'s summary spans lines: {summary!r}"


def test_text_that_looks_like_markup_is_printed_as_typed(tmp_path: Path) -> None:
    # Rich read "[/bold]" as a closing tag: the create raised after storing the account and
    # its key, losing the secret that is shown only once.
    created = invoke(["accounts", "create", "--name", "[/bold] [red]x"], tmp_path)
    assert created.returncode == 0, created.stderr
    assert "Created account [/bold] [red]x (developer)" in created.stdout
    assert "client_secret: " in created.stdout
    listed = invoke(["accounts", "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "[/bold] [red]x" in listed.stdout
    refused = invoke(["accounts", "keys", "create", "[/x]"], tmp_path)
    assert refused.returncode == 1
    assert "error: ACCOUNT_ID must be a UUID, got '[/x]'" in refused.stderr.replace("\n", "")
    assert "Traceback" not in refused.stderr


def test_an_argument_that_is_not_utf8_is_one_error_line(tmp_path: Path) -> None:
    # Undecodable bytes reach Python as lone surrogates: a UnicodeEncodeError at the insert.
    # A process of its own: the bytes go through its decoding of argv (os.fsdecode's).
    result = run(["accounts", "create", "--name", "a\udcffb"], tmp_path)
    assert result.returncode == 1
    assert "error: argument 4 is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_negative_wait_timeout_is_a_usage_error(tmp_path: Path) -> None:
    # It gave up at once and left the ingestion queued, as if it had waited.
    args = ["ingestions", "run", str(uuid.uuid4()), "--wait", "--timeout", "-1"]
    result = invoke(args, tmp_path)
    assert result.returncode == 2
    assert "greater than or equal to 0" in result.stderr


def test_an_infinite_duration_setting_is_refused(tmp_path: Path) -> None:
    result = invoke(["accounts", "list"], tmp_path, INTEROP_WORKER_POLL_SECONDS="1e999")
    assert result.returncode == 1
    assert "INTEROP_WORKER_POLL_SECONDS: Input should be a finite number" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "bound"),
    [
        ("INTEROP_WORKER_POLL_SECONDS", "86401", 86400),
        ("INTEROP_WORKER_HEARTBEAT_SECONDS", "1e11", 86400),
        ("INTEROP_WORKER_STALE_SECONDS", "1e11", 86400),
        ("INTEROP_SCHEDULER_INTERVAL_SECONDS", "3600", 1800),
        ("INTEROP_INGESTION_TIMEOUT", "99999999999", 2592000),
        ("INTEROP_JWKS_CACHE_SECONDS", "1e10", 86400),
        ("INTEROP_JWKS_TIMEOUT_SECONDS", "61", 60),
        ("INTEROP_HEADER_TIMEOUT_SECONDS", "1e10", 3600),
        ("INTEROP_PROCESS_HEALTHCHECK_SECONDS", "99999999999", 3600),
    ],
)
def test_a_duration_setting_past_its_bound_is_refused(
    variable: str, value: str, bound: int, tmp_path: Path
) -> None:
    # Past some billions of seconds a wait overflowed time_t and a date datetime's range:
    # the worker's thread died, or every claim failed, logged each poll, forever.
    result = invoke(["accounts", "list"], tmp_path, **{variable: value})
    assert result.returncode == 1
    assert result.stderr == f"error: {variable}: Input should be less than or equal to {bound}\n"


def test_a_page_size_setting_past_the_contract_s_largest_page_is_refused(tmp_path: Path) -> None:
    # It was accepted, and every list served 1000 at most all the same.
    result = invoke(["accounts", "list"], tmp_path, INTEROP_MAX_PAGE_SIZE="5000")
    assert result.returncode == 1
    assert result.stderr == (
        "error: INTEROP_MAX_PAGE_SIZE: Input should be less than or equal to 1000\n"
    )


@pytest.mark.parametrize(
    ("variable", "value"), [("INTEROP_DATA_DIR", ""), ("INTEROP_SOURCE_ROOTS", '["/srv", " "]')]
)
def test_an_empty_directory_setting_is_refused(variable: str, value: str, tmp_path: Path) -> None:
    # An empty path is the working directory: INTEROP_DATA_DIR= wrote the database and the
    # master secret there, and an empty source root let connectors read anything under it.
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [INTEROP, "accounts", "list"],
        capture_output=True,
        text=True,
        env=environment(tmp_path / "data", **{variable: value}),
        cwd=work,
        timeout=120,
    )
    assert result.returncode == 1
    assert f"error: {variable}" in result.stderr
    assert "must not be empty (write . for the working directory)" in result.stderr
    assert list(work.iterdir()) == []


def test_a_worker_with_a_poll_interval_past_its_bound_does_not_start(tmp_path: Path) -> None:
    # Its thread died on its first wait (OverflowError in stop.wait) and the process exited 0,
    # having run nothing.
    result = run(["worker"], tmp_path, INTEROP_WORKER_POLL_SECONDS="1e10")
    assert result.returncode == 1
    assert "error: INTEROP_WORKER_POLL_SECONDS: Input should be less than or equal to 86400" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("heartbeat", "stale"), [("60", "60"), ("90", "60"), ("5", "4")])
def test_a_heartbeat_not_below_the_stale_time_is_refused(
    heartbeat: str, stale: str, tmp_path: Path
) -> None:
    # Runs whose heartbeat went stale between two beats were taken over while they ran.
    result = invoke(
        ["accounts", "list"],
        tmp_path,
        INTEROP_WORKER_HEARTBEAT_SECONDS=heartbeat,
        INTEROP_WORKER_STALE_SECONDS=stale,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: INTEROP_WORKER_HEARTBEAT_SECONDS must be less than INTEROP_WORKER_STALE_SECONDS"
    )
    assert result.stderr.count("\n") == 1  # one line


def test_a_sqlite_file_that_cannot_be_opened_is_one_error_line(tmp_path: Path) -> None:
    # Every command migrates the embedded database first; that step was unguarded.
    url = f"sqlite:///{tmp_path / 'missing' / 'dir' / 'interop.db'}"
    result = invoke(["accounts", "list"], tmp_path, INTEROP_DATABASE_URL=url)
    assert result.returncode == 1
    assert "error: cannot reach the database: unable to open database file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_key_file_larger_than_any_key_is_refused_unread(tmp_path: Path) -> None:
    created = invoke(["accounts", "create", "--name", "Acme", "--json"], tmp_path)
    client_id = json.loads(created.stdout)["client_id"]
    huge = tmp_path / "huge.pem"
    huge.write_bytes(b"A" * (65 * 1024))
    # The installed executable: its exit code and stderr for a `clients` command.
    result = run(["clients", "keys", "add", client_id, "--pem-file", str(huge)], tmp_path)
    assert result.returncode == 1
    assert "is larger than 64 KiB" in result.stderr.replace("\n", "")


def test_accounts_create_json_prints_exactly_one_object(tmp_path: Path) -> None:
    # The installed executable: what a script reading its stdout gets.
    result = run(["accounts", "create", "--name", "Acme", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) == {"id", "name", "type", "parent_id", "client_id", "client_secret"}
    assert record["name"] == "Acme"
    assert record["type"] == "developer"
    assert record["parent_id"] is None
    assert (tmp_path / "interop.db").exists()


def test_accounts_create_under_a_parent_and_list(tmp_path: Path) -> None:
    parent = json.loads(
        invoke(
            ["accounts", "create", "--name", "State", "--type", "state_education_agency", "--json"],
            tmp_path,
        ).stdout
    )
    child = json.loads(
        invoke(
            [
                "accounts",
                "create",
                "--name",
                "District",
                "--type",
                "education_agency",
                "--parent",
                parent["id"],
                "--json",
            ],
            tmp_path,
        ).stdout
    )
    assert child["parent_id"] == parent["id"]
    listed = json.loads(invoke(["accounts", "list", "--json"], tmp_path).stdout)
    assert [(a["name"], a["parent_id"], a["active_keys"]) for a in listed] == [
        ("State", None, 1),
        ("District", parent["id"], 1),
    ]


def test_bad_type_and_unknown_parent_fail_clearly(tmp_path: Path) -> None:
    bad_type = invoke(["accounts", "create", "--name", "X", "--type", "wizard"], tmp_path)
    assert bad_type.returncode == 1
    assert "account type must be one of" in bad_type.stderr
    orphan = invoke(
        ["accounts", "create", "--name", "X", "--parent", "00000000-0000-4000-8000-000000000000"],
        tmp_path,
    )
    assert orphan.returncode == 1
    assert "parent account not found" in orphan.stderr
    assert "Traceback" not in orphan.stderr + bad_type.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The settings of a migrated database of the test's own, on each backend."""
    env = {}
    if request.param == "postgresql":
        env["INTEROP_DATABASE_URL"] = request.getfixturevalue("own_postgres_database")
    assert invoke(["migrate"], tmp_path, **env).returncode == 0
    return env


def test_accounts_nest_at_most_max_depth_levels(
    database_env: dict[str, str], tmp_path: Path
) -> None:
    """One level deeper was a traceback on PostgreSQL (`value too long for type character
    varying(2048)`: the account's path) and was stored on SQLite."""
    parent: str | None = None
    for level in range(1, MAX_ACCOUNT_DEPTH + 1):
        under = ["--parent", parent] if parent else []
        command = ["accounts", "create", "--name", f"L{level}", "--type", "partner", "--json"]
        created = invoke([*command, *under], tmp_path, **database_env)
        assert created.returncode == 0, (level, created.stderr)
        parent = json.loads(created.stdout)["id"]
    assert parent is not None
    too_deep = invoke(
        ["accounts", "create", "--name", "deeper", "--parent", parent], tmp_path, **database_env
    )
    assert too_deep.returncode == 1
    assert too_deep.stderr.startswith(f"error: accounts nest at most {MAX_ACCOUNT_DEPTH} levels")
    assert "Traceback" not in too_deep.stderr
    listed = json.loads(invoke(["accounts", "list", "--json"], tmp_path, **database_env).stdout)
    assert len(listed) == MAX_ACCOUNT_DEPTH


def test_keys_create_and_revoke(tmp_path: Path) -> None:
    account = json.loads(invoke(["accounts", "create", "--name", "A", "--json"], tmp_path).stdout)
    key = json.loads(
        invoke(["accounts", "keys", "create", account["id"], "--json"], tmp_path).stdout
    )
    assert key["client_id"] != account["client_id"]
    assert invoke(["accounts", "keys", "revoke", key["client_id"]], tmp_path).returncode == 0
    again = invoke(["accounts", "keys", "revoke", key["client_id"]], tmp_path)
    assert again.returncode == 1
    listed = json.loads(invoke(["accounts", "list", "--json"], tmp_path).stdout)
    assert listed[0]["active_keys"] == 1


def test_migrate_applies_to_postgresql(postgres_database: str, tmp_path: Path) -> None:
    result = invoke(["migrate"], tmp_path, INTEROP_DATABASE_URL=postgres_database)
    assert result.returncode == 0, result.stderr
    assert "***" in result.stdout or "postgres" in result.stdout


def test_commands_run_in_this_process_leave_no_database_connection_open(
    own_postgres_database: str, tmp_path: Path
) -> None:
    # A process's exit closes its connections; this one's commands would each keep theirs
    # (PostgreSQL connection slots) until garbage collection, had `invoke` not closed them.
    url = {"INTEROP_DATABASE_URL": own_postgres_database}
    assert invoke(["migrate"], tmp_path, **url).returncode == 0
    for name in ("A", "B", "C"):
        assert invoke(["accounts", "create", "--name", name], tmp_path, **url).returncode == 0
        assert invoke(["accounts", "list"], tmp_path, **url).returncode == 0
    database = make_url(own_postgres_database).database
    with psycopg.connect(_libpq_url(postgres_admin_url())) as admin:
        count = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        assert admin.execute(count, (database,)).fetchone() == (0,)


@contextmanager
def _serving(data_dir: Path, **env: str) -> Iterator[list[str]]:
    """`interop serve`, once it says where it will listen; stopped when the block ends. The
    list yielded then holds what it printed on stderr (read whole, so no pipe fills)."""
    process = subprocess.Popen(
        [INTEROP, "serve", "--port", "0", "--no-worker"],
        env=environment(data_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr: list[str] = []
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Interop API starting")
        yield stderr
    finally:
        process.terminate()
        stderr[:] = [process.communicate(timeout=30)[1]]


def _serve_until_starting(data_dir: Path, **env: str) -> str:
    """Start `interop serve`, stop it once it says where it will listen; return what it printed
    on stderr before that."""
    with _serving(data_dir, **env) as stderr:
        pass
    return stderr[0]


def test_a_second_server_on_one_sqlite_database_is_refused(tmp_path: Path) -> None:
    # It started, and with its own in-memory rate-limit buckets granted every principal its
    # rate a second time.
    with _serving(tmp_path):
        second = run(["serve", "--port", "0", "--no-worker"], tmp_path)
        assert second.returncode == 1
        assert "error: another `interop serve` serves " in second.stderr
        assert "SQLite is served by one process" in second.stderr
    # Its lock goes with it.
    assert _serve_until_starting(tmp_path) is not None


@pytest.mark.parametrize(("pool_size", "warned"), [(100, True), (8, False)])
def test_serve_warns_when_its_pools_can_exceed_postgresql_max_connections(
    own_postgres_database: str, tmp_path: Path, pool_size: int, warned: bool
) -> None:
    assert invoke(["migrate"], tmp_path, INTEROP_DATABASE_URL=own_postgres_database).returncode == 0
    # The test PostgreSQL allows 100 connections; a pool of 100 may open 125.
    stderr = _serve_until_starting(
        tmp_path,
        INTEROP_DATABASE_URL=own_postgres_database,
        INTEROP_DATABASE_POOL_SIZE=str(pool_size),
    )
    warning = "may open 125 database connections under load and PostgreSQL allows 100"
    assert (warning in stderr) is warned, stderr


def test_an_unknown_log_level_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, INTEROP_LOG_LEVEL="verbose")
    assert result.returncode != 0
    assert "INTEROP_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_list_setting_that_is_not_json_is_refused_with_the_setting_named(
    tmp_path: Path,
) -> None:
    result = invoke(["accounts", "list"], tmp_path, INTEROP_SOURCE_ROOTS="/srv/exports")
    assert result.returncode == 1
    assert "INTEROP_SOURCE_ROOTS: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            ["--port", "99999"],
            "Invalid value for '--port': Input should be less than or equal to 65535",
        ),
        (
            ["--workers", "0"],
            "Invalid value for '--workers': Input should be greater than or equal to 1",
        ),
        (
            ["--workers", "1025"],
            "Invalid value for '--workers': Input should be less than or equal to 1024",
        ),
    ],
)
def test_serve_refuses_an_option_out_of_range(
    option: list[str], message: str, tmp_path: Path
) -> None:
    result = run(["serve", *option], tmp_path)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("command", "message"),
    [
        # Past these a prune overflowed its date or the database's integer, and a worker
        # started threads until the process could start no more: tracebacks, or a hang.
        pytest.param(
            ["ingestions", "prune", "--older-than-days", "1000000"],
            "Invalid value for '--older-than-days': Input should be less than or equal to 36500",
            id="days",
        ),
        pytest.param(
            ["ingestions", "prune", "--older-than-days", "99999999999"],
            "Invalid value for '--older-than-days': Input should be less than or equal to 36500",
            id="days past a C int",
        ),
        pytest.param(
            ["ingestions", "prune", "--older-than-days", "1", "--keep", "9223372036854775808"],
            "Invalid value for '--keep': Input should be less than or equal to 2147483647",
            id="keep",
        ),
        pytest.param(
            ["worker", "--concurrency", "99999999999"],
            "Invalid value for '--concurrency': Input should be less than or equal to 1024",
            id="concurrency",
        ),
    ],
)
def test_a_count_past_its_bound_is_a_usage_error(
    command: list[str], message: str, tmp_path: Path
) -> None:
    result = run_or_invoke(command, tmp_path)
    assert result.returncode == 2
    assert message in _unboxed(result.stderr)
    assert "Traceback" not in result.stderr


def _unboxed(text: str) -> str:
    """Text Rich printed in a box, wrapped at the terminal's width, as one line."""
    return " ".join(text.replace("│", " ").split())


def test_a_pool_size_out_of_range_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, INTEROP_DATABASE_POOL_SIZE="0")
    assert result.returncode != 0
    assert "INTEROP_DATABASE_POOL_SIZE: Input should be greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL; expected sqlite:///PATH or postgresql://"),
        ("mysql://admin:hunter2@db/interop", "mysql is not supported; use sqlite:///PATH"),
        ("postgresql+asyncpg://admin:hunter2@db/interop", "postgresql+asyncpg is not supported"),
        # The host left out: the password read as a port was quoted in the message.
        ("postgresql://admin:hunter2/interop", "not a database URL; expected sqlite:///PATH"),
        # Each connection a database of its own: every command was a traceback.
        ("sqlite://", "an in-memory SQLite database cannot serve"),
        ("sqlite:///:memory:", "an in-memory SQLite database cannot serve"),
    ],
)
def test_an_unsupported_database_url_is_refused_without_repeating_it(
    url: str, message: str, tmp_path: Path
) -> None:
    result = run(["serve"], tmp_path, INTEROP_DATABASE_URL=url)
    assert result.returncode == 1
    assert f"INTEROP_DATABASE_URL: Value error, {message}" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db:5433/interop", "postgresql+psycopg://u:p@db:5433/interop"),
        ("postgres://u:p@db/interop", "postgresql+psycopg://u:p@db/interop"),
        ("postgresql+psycopg://u@db/interop", "postgresql+psycopg://u@db/interop"),
        ("sqlite:////srv/interop.db", "sqlite:////srv/interop.db"),
    ],
)
def test_a_plain_postgresql_url_means_the_driver_we_ship(given: str, used: str) -> None:
    assert Settings(database_url=given).resolved_database_url == used


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("hunter2-is-not-base64!", "INTEROP_SECRET_KEY: Value error, must"),
        ("aHVudGVyMg==", "INTEROP_SECRET_KEY: Value error, must decode to at least 32 bytes"),
    ],
)
def test_a_malformed_secret_key_is_refused_without_repeating_it(
    key: str, message: str, tmp_path: Path
) -> None:
    result = invoke(["accounts", "list"], tmp_path, INTEROP_SECRET_KEY=key)
    assert result.returncode == 1
    assert message in result.stderr
    assert key not in result.stderr and "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hunter2-not-a-key\n", "must be urlsafe base64 of 32 bytes"),
        (None, "cannot read the master secret: [Errno 21] Is a directory"),
    ],
)
@pytest.mark.parametrize("command", [["serve", "--no-worker"], ["accounts", "list"]])
def test_an_unusable_master_secret_file_ends_the_command_saying_so(
    command: list[str], content: str | None, message: str, tmp_path: Path
) -> None:
    assert invoke(["migrate"], tmp_path).returncode == 0
    secret_file = tmp_path / "secret.key"
    if content is None:
        secret_file.mkdir()
    else:
        secret_file.write_text(content)
    result = run_or_invoke(command, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and "─" not in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    "command", [["serve", "--no-worker"], ["worker"], ["accounts", "list"], ["migrate"]]
)
def test_an_unreachable_database_ends_the_command_saying_so(
    command: list[str], tmp_path: Path
) -> None:
    closed = f"postgresql://admin:hunter2@127.0.0.1:{_free_port()}/interop"
    result = run_or_invoke(command, tmp_path, INTEROP_DATABASE_URL=closed)
    assert result.returncode == 1
    assert "error: cannot reach the database: connection failed:" in result.stderr
    assert "Connection refused" in result.stderr
    assert "postgresql+psycopg://admin:***@127.0.0.1" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_password_in_the_database_url_s_query_is_masked(tmp_path: Path) -> None:
    # libpq takes `?password=`; the messages masked only the user info's.
    closed = f"postgresql://admin@127.0.0.1:{_free_port()}/interop?password=hunter2"
    result = invoke(["accounts", "list"], tmp_path, INTEROP_DATABASE_URL=closed)
    assert result.returncode == 1
    assert "error: cannot reach the database" in result.stderr
    assert "password=***" in result.stderr and "hunter2" not in result.stderr


def _stamp_a_newer_revision(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_a_newer_release_migrated_is_refused_saying_so(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # alembic cannot upgrade from a revision it does not know: each command was a page of
    # traceback on SQLite, and PostgreSQL's advice (`interop migrate`) led to the same one.
    env = {}
    if backend == "postgresql":
        env["INTEROP_DATABASE_URL"] = request.getfixturevalue("own_postgres_database")
    assert invoke(["migrate"], tmp_path, **env).returncode == 0
    _stamp_a_newer_revision(env.get("INTEROP_DATABASE_URL", f"sqlite:///{tmp_path / 'interop.db'}"))
    for command in (["accounts", "list"], ["migrate"], ["serve", "--no-worker"]):
        result = run_or_invoke(command, tmp_path, **env)
        assert result.returncode == 1, (command, result.stderr)
        assert "at revision 9999_future, which this version of interop does not know" in (
            result.stderr
        ), command
        assert "Traceback" not in result.stderr and "─" not in result.stderr


def test_a_database_without_the_schema_asks_for_migrate(
    own_postgres_database: str, tmp_path: Path
) -> None:
    for command in (["serve", "--no-worker"], ["worker"], ["accounts", "list"]):
        result = run_or_invoke(command, tmp_path, INTEROP_DATABASE_URL=own_postgres_database)
        assert result.returncode == 1, command
        assert "the database's schema is not this version's: run `interop migrate`" in (
            result.stderr
        )
        assert "Traceback" not in result.stderr
    assert invoke(["migrate"], tmp_path, INTEROP_DATABASE_URL=own_postgres_database).returncode == 0
    listed = invoke(["accounts", "list"], tmp_path, INTEROP_DATABASE_URL=own_postgres_database)
    assert listed.returncode == 0, listed.stderr


def test_the_first_command_on_a_new_database_fixes_its_master_secret(tmp_path: Path) -> None:
    # Before, nothing was checked until the server had created its signing keys: a second
    # secret created accounts too, and the first to sign locked the other's accounts out.
    url = {"INTEROP_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}"}
    first_key, other_key = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    created = invoke(
        ["accounts", "create", "--name", "Acme"], tmp_path, **url, INTEROP_SECRET_KEY=first_key
    )
    assert created.returncode == 0, created.stderr
    for command in (
        ["accounts", "list"],
        ["keys", "rotate"],
        ["accounts", "create", "--name", "B"],
    ):
        refused = invoke(command, tmp_path, **url, INTEROP_SECRET_KEY=other_key)
        assert refused.returncode == 1, (command, refused.stdout)
        assert "encrypted with another master secret" in refused.stderr
    listed = invoke(["accounts", "list", "--json"], tmp_path, **url, INTEROP_SECRET_KEY=first_key)
    assert listed.returncode == 0, listed.stderr
    assert [account["name"] for account in json.loads(listed.stdout)] == ["Acme"]


def test_a_master_secret_other_than_the_database_s_is_refused(
    own_postgres_database: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    url = {"INTEROP_DATABASE_URL": own_postgres_database}
    assert invoke(["migrate"], first, **url).returncode == 0
    rotated = invoke(["keys", "rotate"], first, **url)  # the database now holds a signing key
    assert rotated.returncode == 0, rotated.stderr
    expected = "the database's keys were encrypted with another master secret"

    # A second machine that forgot INTEROP_SECRET_KEY made a secret file of its own.
    for command in (["serve", "--no-worker"], ["accounts", "list"]):
        result = run_or_invoke(command, second, **url)
        assert result.returncode == 1, command
        assert expected in result.stderr
        assert f"(unset here: {second / 'secret.key'})" in result.stderr.replace("\n", "")
        assert "Traceback" not in result.stderr

    other_key = base64.urlsafe_b64encode(bytes(32)).decode()
    result = invoke(["accounts", "list"], second, **url, INTEROP_SECRET_KEY=other_key)
    assert result.returncode == 1
    assert expected in result.stderr and "unset here" not in result.stderr

    # The same secret, given as the setting, opens them.
    same_key = (first / "secret.key").read_text().strip()
    result = invoke(["accounts", "list"], second, **url, INTEROP_SECRET_KEY=same_key)
    assert result.returncode == 0, result.stderr
