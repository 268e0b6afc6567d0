"""The operator CLI, run as users run it: the installed `interop` executable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

INTEROP = str(Path(sys.executable).parent / "interop")
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
    ["keys"],
    ["keys", "rotate"],
    ["clients"],
    ["clients", "keys"],
    ["clients", "keys", "add"],
    ["clients", "keys", "list"],
    ["lti"],
    ["lti", "platforms"],
    ["lti", "platforms", "add"],
    ["lti", "platforms", "list"],
]


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("INTEROP_")}
    environment = {**inherited, "INTEROP_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [INTEROP, *args], capture_output=True, text=True, env=environment, timeout=120
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "interop")
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_accounts_create_json_prints_exactly_one_object(tmp_path: Path) -> None:
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
        run(
            ["accounts", "create", "--name", "State", "--type", "state_education_agency", "--json"],
            tmp_path,
        ).stdout
    )
    child = json.loads(
        run(
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
    listed = json.loads(run(["accounts", "list", "--json"], tmp_path).stdout)
    assert [(a["name"], a["parent_id"], a["active_keys"]) for a in listed] == [
        ("State", None, 1),
        ("District", parent["id"], 1),
    ]


def test_bad_type_and_unknown_parent_fail_clearly(tmp_path: Path) -> None:
    bad_type = run(["accounts", "create", "--name", "X", "--type", "wizard"], tmp_path)
    assert bad_type.returncode == 1
    assert "account type must be one of" in bad_type.stderr
    orphan = run(
        ["accounts", "create", "--name", "X", "--parent", "00000000-0000-4000-8000-000000000000"],
        tmp_path,
    )
    assert orphan.returncode == 1
    assert "parent account not found" in orphan.stderr
    assert "Traceback" not in orphan.stderr + bad_type.stderr


def test_keys_create_and_revoke(tmp_path: Path) -> None:
    account = json.loads(run(["accounts", "create", "--name", "A", "--json"], tmp_path).stdout)
    key = json.loads(run(["accounts", "keys", "create", account["id"], "--json"], tmp_path).stdout)
    assert key["client_id"] != account["client_id"]
    assert run(["accounts", "keys", "revoke", key["client_id"]], tmp_path).returncode == 0
    again = run(["accounts", "keys", "revoke", key["client_id"]], tmp_path)
    assert again.returncode == 1
    listed = json.loads(run(["accounts", "list", "--json"], tmp_path).stdout)
    assert listed[0]["active_keys"] == 1


def test_migrate_applies_to_postgresql(postgres_database: str, tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, INTEROP_DATABASE_URL=postgres_database)
    assert result.returncode == 0, result.stderr
    assert "***" in result.stdout or "postgres" in result.stdout


def _serve_until_listening(data_dir: Path, **env: str) -> str:
    """Start `interop serve`, stop it once it says where it listens; return what it printed
    on stderr before that."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("INTEROP_")}
    environment = {**inherited, "INTEROP_DATA_DIR": str(data_dir), **env}
    process = subprocess.Popen(
        [INTEROP, "serve", "--port", "0", "--no-worker"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Interop API listening")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    return stderr


@pytest.mark.parametrize(("pool_size", "warned"), [(100, True), (8, False)])
def test_serve_warns_when_its_pools_can_exceed_postgresql_max_connections(
    postgres_database: str, tmp_path: Path, pool_size: int, warned: bool
) -> None:
    # The test PostgreSQL allows 100 connections; a pool of 100 may open 125.
    stderr = _serve_until_listening(
        tmp_path,
        INTEROP_DATABASE_URL=postgres_database,
        INTEROP_DATABASE_POOL_SIZE=str(pool_size),
    )
    warning = "may open 125 database connections under load and PostgreSQL allows 100"
    assert (warning in stderr) is warned, stderr


def test_an_unknown_log_level_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, INTEROP_LOG_LEVEL="verbose")
    assert result.returncode != 0
    assert "INTEROP_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_pool_size_out_of_range_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, INTEROP_DATABASE_POOL_SIZE="0")
    assert result.returncode != 0
    assert "INTEROP_DATABASE_POOL_SIZE: Input should be greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr
