"""The `interop` command starts without importing what only its commands' work needs: every
invocation, `--help` and a mistyped option included, paid 2-3 s for it (see `interop.cli`)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import environment

# What no command's help or usage error needs: the web stack, the database layer and the
# engine. Typer itself loads pydantic, Rich its markdown and syntax highlighting.
HEAVY = [
    "alembic",
    "cryptography",
    "fastapi",
    "httpx",
    "interop.app",
    "interop.config",
    "interop.db",
    "interop.engine.runner",
    "jwt",
    "psycopg",
    "sqlalchemy",
    "sqlalchemy.orm",
    "starlette",
    "structlog",
    "uvicorn",
]

# What no command that works on the database needs: the web stack. Only `serve` loads it.
WEB = ["fastapi", "interop.app", "starlette", "uvicorn"]

# Imports interop.cli, runs the command line given after `-c CODE` (if any) as the console
# script would, and prints, last, which of HEAVY it loaded.
CHECK = """
import json, sys
from interop.cli import app
if sys.argv[1:]:
    try:
        app(prog_name="interop")
    except SystemExit:
        pass
print(json.dumps([name for name in json.loads({heavy!r}) if name in sys.modules]))
"""


def _heavy_modules_loaded(args: list[str], data_dir: Path, heavy: list[str] = HEAVY) -> list[str]:
    process = subprocess.run(
        [sys.executable, "-c", CHECK.format(heavy=json.dumps(heavy)), *args],
        capture_output=True,
        text=True,
        env=environment(data_dir),
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    loaded: list[str] = json.loads(process.stdout.splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    loaded = _heavy_modules_loaded([], tmp_path)
    assert loaded == [], f"importing interop.cli loaded {', '.join(loaded)}"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["accounts", "--help"],
        ["accounts", "keys", "--help"],
        ["accounts", "create", "--help"],
        ["keys", "--help"],
        ["clients", "keys", "add", "--help"],
        ["lti", "platforms", "--help"],
        ["ingestions", "--help"],
        ["worker", "--help"],
        ["serve", "--help"],
        ["accounts", "create"],  # a usage error: --name is missing
        ["accounts", "create", "--name", "x", "--no-such-option"],
        ["no-such-command"],
    ],
    ids=" ".join,
)
def test_help_and_usage_errors_load_no_heavy_module(args: list[str], tmp_path: Path) -> None:
    loaded = _heavy_modules_loaded(args, tmp_path)
    assert loaded == [], f"interop {' '.join(args)} loaded {', '.join(loaded)}"


def test_a_command_on_the_database_loads_no_web_stack(tmp_path: Path) -> None:
    # The services import their schemas (interop.schemas), which once imported the list
    # envelope's Paging from interop.paging, and with it FastAPI: 0.2-0.3 s a command.
    loaded = _heavy_modules_loaded(["accounts", "list"], tmp_path, WEB)
    assert loaded == [], f"interop accounts list loaded {', '.join(loaded)}"
