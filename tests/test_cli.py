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
