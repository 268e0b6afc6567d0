"""The `interop` command, two ways: `run` starts the installed executable, as users run it;
`invoke` runs the same app in this process, as that process would see it, without the 2-3 s
each process spends importing FastAPI, SQLAlchemy and the models.

Tests of what only a process shows (exit codes and stderr of the console script itself,
`interop serve`, signals, arguments that are not UTF-8) `run`; the rest `invoke`."""

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from interop.cli import app

INTEROP = str(Path(sys.executable).parent / "interop")


def environment(data_dir: Path, **env: str) -> dict[str, str]:
    """A command's environment: this one without its INTEROP_ settings, then `env`'s."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("INTEROP_")}
    return {**inherited, "INTEROP_DATA_DIR": str(data_dir), **env}


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`interop ARGS` in a process of its own."""
    return subprocess.run(
        [INTEROP, *args],
        capture_output=True,
        text=True,
        env=environment(data_dir, **env),
        timeout=120,
    )


@dataclass
class Invoked:
    """What `run`'s CompletedProcess says, for a command run in this process."""

    returncode: int
    stdout: str
    stderr: str


def invoke(args: list[str], data_dir: Path, **env: str) -> Invoked:
    """`interop ARGS` in this process, with the environment, sys.argv and logging `run`'s
    process would start with; a command that raises (a traceback, in a process) raises here,
    failing the test."""
    with _process_state(["interop", *args], environment(data_dir, **env)), _engines_disposed():
        # catch_exceptions=False: an exception other than an exit propagates with its traceback.
        result = CliRunner().invoke(app, args, prog_name="interop", catch_exceptions=False)
    return Invoked(result.exit_code, result.stdout, result.stderr)


@contextmanager
def _process_state(argv: list[str], env: dict[str, str]) -> Iterator[None]:
    """sys.argv (the app's first check reads it), os.environ (Settings read it; `serve
    --no-worker` writes it) and logging (a new process has no handler: warnings reach stderr)
    as a new process has them, and this process's back afterwards."""
    saved_argv, saved_env = sys.argv, dict(os.environ)
    saved_logging = _logging_state()
    root = logging.getLogger()
    sys.argv = argv
    os.environ.clear()
    os.environ.update(env)
    root.handlers = []
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        _restore_logging(saved_logging)


def _logging_state() -> dict[str, Any]:
    loggers = [logging.getLogger(), *_named_loggers()]
    return {
        "loggers": {
            logger: (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
            for logger in loggers
        },
        "flags": {
            name: getattr(logging, name)
            for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
        },
    }


def _restore_logging(state: dict[str, Any]) -> None:
    for logger, (level, handlers, propagate, disabled) in state["loggers"].items():
        logger.setLevel(level)  # setLevel, not .level: it clears the loggers' level caches
        logger.handlers = handlers
        logger.propagate = propagate
        logger.disabled = disabled
    for name, value in state["flags"].items():
        setattr(logging, name, value)


def _named_loggers() -> list[logging.Logger]:
    return [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]


@contextmanager
def _engines_disposed() -> Iterator[None]:
    """Close the connections the command's engines opened: a process ending closes them, this
    one would keep them open until garbage collection (on PostgreSQL, a connection slot each)."""
    opened: list[Engine] = []
    this_thread = threading.get_ident()

    # The test servers' threads connect too: their engines stay theirs.
    def note(connection: Connection) -> None:
        if threading.get_ident() == this_thread and connection.engine not in opened:
            opened.append(connection.engine)

    event.listen(Engine, "engine_connect", note)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", note)
        for engine in opened:
            engine.dispose()


def run_or_invoke(
    args: list[str], data_dir: Path, **env: str
) -> Invoked | subprocess.CompletedProcess[str]:
    """`run` for `interop serve` and `interop worker`, `invoke` for the rest. In this process,
    a start they failed to refuse would serve (or work) until the test run is killed, and
    `worker` takes over this process's signals."""
    runner = run if args[0] in ("serve", "worker") else invoke
    return runner(args, data_dir, **env)
