"""What the benchmark scripts share: a throwaway database per backend, a free port, the
machine's speed at the time, and rewriting a script's own section of BENCHMARKS.md."""

import os
import platform
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "BENCHMARKS.md"
POSTGRES = os.environ.get("INTEROP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def database(backend: str, data_dir: Path) -> tuple[str, Callable[[], None]]:
    """(SQLAlchemy URL of a new empty database, a function that drops it)."""
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'bench.db'}", lambda: None
    name = f"interop_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]

    def drop() -> None:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    base = POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", drop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def interop_server(
    database_url: str, data_dir: Path, **environment: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """A real `interop serve --no-worker` on the database, migrated first, until the block
    ends: (its base URL, the environment its processes run with, `environment` added)."""
    env = {
        **os.environ,
        "INTEROP_DATABASE_URL": database_url,
        "INTEROP_DATA_DIR": str(data_dir),
        "INTEROP_LOG_LEVEL": "WARNING",
        **environment,
    }
    interop = str(Path(sys.executable).parent / "interop")
    subprocess.run([interop, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    log = data_dir / "server.log"
    with log.open("ab") as out:
        server = subprocess.Popen(
            [interop, "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(f"{base_url}/readyz", server, log)
        yield base_url, env
    finally:
        server.terminate()
        server.wait(timeout=20)


def wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    """Until `url` answers 200 (at most a minute); an error with the tail of the process's
    log when it exits first or never answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{tail(log)}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready:\n{tail(log)}")


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_model() -> str:
    """The host's CPU as Linux names it: the benchmark VM moves between hosts."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def python_speed() -> float:
    """Millions of iterations a second of a fixed pure-Python loop (best of 5 rounds). The
    benchmark VM's speed drifts: on 2026-11-27 the bare Starlette app measured 33,807 req/s in
    the morning and 24,657 in the afternoon, same code. Runs compare by this figure."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i % 7
        rounds.append(time.perf_counter() - started)
    return 1.0 / min(rounds)


def speed_note(at_start: float) -> str:
    """The machine's speed at the start of a run (given) and now, for the report."""
    return (
        f"Pure-Python speed {at_start:.1f} M loop iterations/s at the start, "
        f"{python_speed():.1f} at the end (benchkit.python_speed: compare runs by it)."
    )


def markers(script: str) -> tuple[str, str]:
    """The comments that delimit the section `script` owns in BENCHMARKS.md."""
    name = Path(script).name
    return f"<!-- bench/{name} begin -->", f"<!-- bench/{name} end -->"


def write_section(script: str, lines: list[str]) -> None:
    """Replace the section `script` owns in BENCHMARKS.md with `lines` (added at the end the
    first time); the prose around the sections stays. Prints the section."""
    begin, end = markers(script)
    section = "\n".join([begin, *lines, end])
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    if begin in text:
        pattern = re.escape(begin) + ".*?" + re.escape(end)
        # A function as the replacement: the section is inserted verbatim, backslashes too.
        text = re.sub(pattern, lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    REPORT.write_text(text)
    print(section, flush=True)
