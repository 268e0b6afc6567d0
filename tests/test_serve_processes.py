"""`interop serve --workers 2` on PostgreSQL, as operators run it: uvicorn starts each worker
process afresh, and the processes must still log as configured, and report metrics and limit
a principal's rate as one server, not each on its own."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cli_runner import INTEROP, environment
from conftest import _free_port, wait_until_answering

PROCESSES = 2
BURST = 5
MAX_HEADER_BYTES = 2048
HEADER_TIMEOUT = 2
# How long uvicorn's supervisor waits, by default, for a process to answer a health check.
UVICORN_HEALTHCHECK_SECONDS = 5


@dataclass
class Served:
    base_url: str
    log: Path
    tmp: Path  # the server's TMPDIR
    env: dict[str, str]
    supervisor: int = 0  # the pid of `interop serve`, whose children serve


@pytest.fixture
def served(own_postgres_database: str, tmp_path: Path) -> Iterator[Served]:
    root = tmp_path
    (root / "tmp").mkdir()
    env = environment(
        root,
        INTEROP_DATABASE_URL=own_postgres_database,
        INTEROP_LOG_JSON="true",
        INTEROP_LOG_LEVEL="INFO",
        INTEROP_RATE_LIMIT_PER_MINUTE="6",
        INTEROP_RATE_LIMIT_BURST=str(BURST),
        INTEROP_MAX_HEADER_BYTES=str(MAX_HEADER_BYTES),
        INTEROP_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        TMPDIR=str(root / "tmp"),
    )
    subprocess.run([INTEROP, "migrate"], env=env, check=True, capture_output=True)
    port = _free_port()
    served = Served(f"http://127.0.0.1:{port}", root / "serve.log", root / "tmp", env)
    with served.log.open("wb") as log_file:
        process = subprocess.Popen(
            [INTEROP, "serve", "--workers", str(PROCESSES), "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        served.supervisor = process.pid
        try:
            wait_until_answering(f"{served.base_url}/healthz", process)
            _wait_for_every_process(served.log)
            yield served
        finally:
            process.terminate()
            process.wait(timeout=30)
    # The processes' shared metrics directory goes with the server.
    assert list(served.tmp.iterdir()) == []


def _wait_for_every_process(log: Path) -> None:
    """The first process can answer while the second is still starting."""
    deadline = time.monotonic() + 60
    while True:
        started = [r for r in _records(log) if r["event"] == "Application startup complete."]
        if len(started) == PROCESSES:
            return
        assert time.monotonic() < deadline, f"{len(started)} of {PROCESSES} processes started"
        time.sleep(0.1)


def test_a_process_answering_no_health_check_for_a_while_is_kept(served: Served) -> None:
    """A server process that cannot answer the supervisor's health check for longer than
    uvicorn's default allows (5 s), as a busy process on a loaded host could not, is not
    killed and replaced, its requests in flight cut off: here it is stopped for 8 s."""
    before = _server_processes(served)
    assert len(before) == PROCESSES
    os.kill(before[0], signal.SIGSTOP)
    try:
        time.sleep(UVICORN_HEALTHCHECK_SECONDS + 3)
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed by the supervisor
            os.kill(before[0], signal.SIGCONT)
    assert httpx.get(f"{served.base_url}/healthz").status_code == 200
    assert _server_processes(served) == before
    assert "died" not in served.log.read_text()


def _server_processes(served: Served) -> list[int]:
    """The pids of the supervisor's server processes (multiprocessing's spawned children,
    not its resource tracker), in order."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == served.supervisor and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _access_lines(log: Path, path: str, expected: int) -> list[str]:
    """The access lines for `path`, once `expected` are there (a process writes its line
    right after the response, so the client can be a moment ahead)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [
            r["event"]
            for r in _records(log)
            if r["logger"] == "interop.access" and r["event"].split()[1] == path
        ]
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_the_processes_log_count_and_limit_as_one_server(served: Served) -> None:
    """One server for the five checks: it takes seconds to start."""
    _check_every_process_writes_the_configured_lines(served)
    _check_any_process_reports_every_process_s_requests(served)
    _check_the_processes_limit_the_request_head_as_configured(served)
    _check_the_processes_time_the_request_head_as_configured(served)
    _check_a_principal_has_one_bucket_across_the_processes(served)


def _check_every_process_writes_the_configured_lines(served: Served) -> None:
    for _ in range(3):
        assert httpx.get(f"{served.base_url}/v2/interop/clouds").status_code == 401
    lines = _access_lines(served.log, "/v2/interop/clouds", 3)
    assert [line.split()[:3] for line in lines] == [["GET", "/v2/interop/clouds", "401"]] * 3
    started = [r for r in _records(served.log) if r["event"].startswith("Started server process")]
    assert len(started) == PROCESSES
    assert {r["level"] for r in started} == {"info"}


def _readyz_counts(text: str) -> tuple[float, float]:
    """(requests counted, latencies observed) for GET /readyz in one scrape."""
    counted = observed = 0.0
    for line in text.splitlines():
        if 'route="/readyz"' not in line or 'method="GET"' not in line:
            continue
        name, value = line.split("{", 1)[0], float(line.rsplit(" ", 1)[1])
        if name == "interop_http_requests_total":
            counted += value
        elif name == "interop_http_request_duration_seconds_count":
            observed += value
    return counted, observed


def _check_any_process_reports_every_process_s_requests(served: Served) -> None:
    requests = 20
    # A connection each: the kernel hands them to both processes.
    for _ in range(requests):
        assert httpx.get(f"{served.base_url}/readyz").status_code == 200
    # A process counts a request just after answering it: give the last one a moment.
    deadline = time.monotonic() + 5
    while _readyz_counts(_scrape(served)) != (requests, requests):
        assert time.monotonic() < deadline, _readyz_counts(_scrape(served))
        time.sleep(0.05)
    for _ in range(2 * PROCESSES):
        text = _scrape(served)
        assert _readyz_counts(text) == (requests, requests)
        # The engine's gauges, read from the database, are still there once.
        assert text.count("# TYPE interop_ingestion_queue_depth gauge") == 1
    [shared] = served.tmp.iterdir()  # where the processes keep their counts while they run
    assert shared.name.startswith("interop-metrics-")


def _scrape(served: Served) -> str:
    """/metrics, on a connection of its own (so either process may answer)."""
    scrape = httpx.get(f"{served.base_url}/metrics")
    assert scrape.status_code == 200
    return scrape.text


def _check_a_principal_has_one_bucket_across_the_processes(served: Served) -> None:
    created = subprocess.run(
        [INTEROP, "accounts", "create", "--name", "busy", "--json"],
        env=served.env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = json.loads(created.stdout)
    token = httpx.post(
        f"{served.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(key["client_id"], key["client_secret"]),
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    # A connection each, so both processes serve some; at 6 a minute, a second refills
    # a tenth of a request: the burst is all there is, less the token request's draw.
    statuses = [
        httpx.get(f"{served.base_url}/v2/interop/clouds", headers=headers).status_code
        for _ in range(2 * BURST)
    ]
    assert statuses == [200] * (BURST - 1) + [429] * (BURST + 1)


def _check_the_processes_limit_the_request_head_as_configured(served: Served) -> None:
    """INTEROP_MAX_HEADER_BYTES reaches the worker processes uvicorn starts, which serve
    every request here; a connection each, so both processes answer some."""
    for _ in range(PROCESSES):
        assert _healthz_with_head_of(served, MAX_HEADER_BYTES).status_code == 200
        refused = _healthz_with_head_of(served, MAX_HEADER_BYTES + 1)
        assert refused.status_code == 431
        assert refused.json()["error"]["code"] == "request_header_fields_too_large"


def _check_the_processes_time_the_request_head_as_configured(served: Served) -> None:
    """INTEROP_HEADER_TIMEOUT_SECONDS reaches the worker processes: heads begun on a
    connection each, at once, are answered 408 once it has passed (not after 30 s)."""
    url = httpx.URL(served.base_url)
    started = time.monotonic()
    connections = [socket.create_connection((url.host, url.port)) for _ in range(2 * PROCESSES)]
    for sock in connections:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    for sock in connections:
        with sock:
            sock.settimeout(HEADER_TIMEOUT + 5)
            assert sock.recv(64).startswith(b"HTTP/1.1 408 ")
    assert HEADER_TIMEOUT - 0.5 < time.monotonic() - started < HEADER_TIMEOUT + 3


def _healthz_with_head_of(served: Served, counted: int) -> httpx.Response:
    """GET /healthz, padded so that its head counts `counted` bytes against the limit: its
    URL and header lines (name, value and 4 bytes of ": " and CRLF)."""
    with httpx.Client() as client:
        request = client.build_request("GET", f"{served.base_url}/healthz", headers={"X-Pad": ""})
        lines = sum(len(name) + len(value) + 4 for name, value in request.headers.raw)
        request.headers["X-Pad"] = "p" * (counted - len(request.url.raw_path) - lines)
        return client.send(request)
