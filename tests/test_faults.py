"""Faults: the database going away and coming back, a client hanging up mid-write, and a
SIGTERM while requests are in flight. Real sockets and real processes throughout."""

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from conftest import _free_port, _start, serving_without_engine, wait_until_answering
from factories import (
    ONEROSTER_MINIMAL,
    engine_settings,
    ingestion,
    new_account,
    new_collecting_tenant,
    new_tenant,
    queue_collection,
    source_that,
)
from interop.config import Settings
from interop.db import Database
from interop.engine.worker import Worker
from interop.migrations_runner import upgrade

SCHOOLS = "/v2/interop/tenant/scoping/schools"


def test_database_outage_is_503_fast_and_the_server_recovers_by_itself(proxied_postgres, tmp_path):
    proxy, through_proxy = proxied_postgres
    settings = Settings(data_dir=tmp_path, database_url=through_proxy, engine_enabled=False)
    uv, thread, base_url = _start(settings)
    try:
        with httpx.Client(base_url=base_url, timeout=30) as api:
            caller = new_account(
                SimpleNamespace(settings=settings, database_url=through_proxy), api
            )
            assert api.get("/v2/interop/clouds", headers=caller.headers).status_code == 200

            proxy.stop()
            for path in ("/v2/interop/clouds", "/readyz"):
                started = time.monotonic()
                response = api.get(path, headers=caller.headers)
                assert time.monotonic() - started < 10, f"{path} hung"
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "database_unavailable"
                assert "Traceback" not in response.text
            post = api.post("/v2/interop/clouds", json={"name": "x"}, headers=caller.headers)
            assert post.status_code == 503

            proxy.start()
            deadline = time.monotonic() + 20
            status = 0
            while time.monotonic() < deadline and status != 200:
                status = api.get("/v2/interop/clouds", headers=caller.headers).status_code
                time.sleep(0.2)
            assert status == 200
            assert api.get("/readyz").status_code == 200
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def sqlite_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(the base URL, the database file) of a server of the test's own on a SQLite file."""
    database = tmp_path / "interop.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url, engine_enabled=False)
    uv, thread, base_url = _start(settings)
    try:
        yield base_url, database
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def _readyz(base_url: str) -> httpx.Response:
    return httpx.get(f"{base_url}/readyz", timeout=10)


def test_readyz_is_503_while_the_sqlite_file_is_gone_and_ready_when_it_returns(
    tmp_path: Path,
) -> None:
    """Pooled connections hold the moved file open and answer on: /readyz said ready."""
    with sqlite_server(tmp_path) as (base_url, database):
        assert _readyz(base_url).status_code == 200
        moved = tmp_path / "moved-away.db"
        database.rename(moved)
        gone = _readyz(base_url)
        assert gone.status_code == 503, gone.text
        assert gone.json()["error"]["code"] == "database_unavailable"
        assert "gone" in gone.json()["error"]["message"]
        assert not database.exists()  # /readyz opened no new, empty database in its place
        moved.rename(database)
        assert _readyz(base_url).status_code == 200


def test_readyz_is_503_while_another_file_stands_in_for_the_sqlite_database(
    tmp_path: Path,
) -> None:
    """The pool's connections still reach the file they opened: another one at the path
    (a restored copy, a new empty file) is served only once the server restarts."""
    with sqlite_server(tmp_path) as (base_url, database):
        assert _readyz(base_url).status_code == 200
        moved = tmp_path / "moved-away.db"
        database.rename(moved)
        database.write_bytes(moved.read_bytes())
        replaced = _readyz(base_url)
        assert replaced.status_code == 503, replaced.text
        assert replaced.json()["error"]["code"] == "database_unavailable"
        assert "replaced" in replaced.json()["error"]["message"]
        moved.replace(database)
        assert _readyz(base_url).status_code == 200


def _raw_post(base_url: str, path: str, token: str, body: bytes, send_bytes: int) -> None:
    """Send a POST whose body stops after `send_bytes` bytes, then hang up unanswered."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:send_bytes])


def _school_ids(api: httpx.Client, actor) -> list[str]:
    response = api.get(SCHOOLS, params={"page_size": 1000}, headers=actor.headers)
    return [entry["school_ref_id"] for entry in response.json()["data"]]


def test_a_request_cancelled_mid_write_leaves_nothing_half_written(server, api):
    _, actor = new_tenant(server, api)
    old = [{"school_ref_id": f"old-{n}"} for n in range(10)]
    assert api.post(SCHOOLS, json={"data": old}, headers=actor.headers).status_code == 200
    new = json.dumps({"data": [{"school_ref_id": f"new-{n}"} for n in range(1000)]}).encode()

    # Hung up halfway through the body: the replace never happens.
    _raw_post(server.base_url, SCHOOLS, actor.token, new, len(new) // 2)
    time.sleep(0.5)
    assert _school_ids(api, actor) == [f"old-{n}" for n in range(10)]

    # Hung up right after the whole body, before the answer: all of it or none of it.
    finished_before = _finished_school_posts(api)
    for _ in range(5):
        _raw_post(server.base_url, SCHOOLS, actor.token, new, len(new))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = _school_ids(api, actor)
        assert ids in ([f"old-{n}" for n in range(10)], [f"new-{n}" for n in range(1000)])
        time.sleep(0.1)
        # Wait for all five: one still running would collide with the next test's cleanup.
        if len(ids) == 1000 and _finished_school_posts(api) >= finished_before + 5:
            break
    else:
        raise AssertionError("the hung-up writes did not all finish within 10 s")


def _finished_school_posts(api: httpx.Client) -> float:
    """Scoping replaces the server has answered (whatever the status), from /metrics."""
    prefix = f'interop_http_requests_total{{method="POST",route="{SCHOOLS}"'
    lines = api.get("/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))


@pytest.mark.parametrize("processes", [1, 2], ids=["sqlite", "postgresql-2-processes"])
def test_sigterm_drains_in_flight_requests_before_exit(
    processes: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "INTEROP_DATA_DIR": str(tmp_path),
        "INTEROP_ENGINE_ENABLED": "false",
        "INTEROP_LOG_LEVEL": "WARNING",
    }
    interop = str(Path(sys.executable).parent / "interop")
    if processes > 1:
        # The deployment that runs several processes: uvicorn's parent passes SIGTERM on.
        env["INTEROP_DATABASE_URL"] = request.getfixturevalue("own_postgres_database")
        subprocess.run([interop, "migrate"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [interop, "serve", "--port", str(port), "--workers", str(processes)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base_url}/healthz", process, seconds=30)

        # A request in flight: its headers and half its body are sent when SIGTERM arrives.
        body = b'{"grant_type": "client_credentials"}'
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /v2/interop/clouds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert process.poll() is None, "the server exited with a request in flight"

        sock.sendall(body[10:])
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, "the connection closed without an answer"
            answer += chunk
        sock.close()
        # The request was answered (401: it carried no credentials), not dropped.
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        # uvicorn re-raises the signal once drained, so the exit status says "SIGTERM".
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)
        assert b"Traceback" not in process.stderr.read()  # type: ignore[union-attr]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_ingestion_whose_database_connection_drops_goes_back_to_the_queue(
    own_postgres_database, proxied_postgres, tmp_path
):
    # A dropped connection (a PostgreSQL restart, a failover) failed the running ingestion
    # internal_error when the database was back at once, and lost it.
    proxy, through_proxy = proxied_postgres
    database = None
    try:
        with serving_without_engine(own_postgres_database, tmp_path) as (target, api):
            _, actor = new_collecting_tenant(target, api, ONEROSTER_MINIMAL)
            ingestion_id = queue_collection(api, actor)
            worker_settings = engine_settings(target, database_url=through_proxy)
            database = Database(worker_settings.resolved_database_url)
            worker = Worker(database, worker_settings)
            claim = worker.claim()  # its pooled connection goes through the proxy
            assert claim is not None
            proxy.stop()  # every open connection is cut; new ones are taken again at once
            proxy.start()
            worker.run(claim.lease)
            assert ingestion(api, actor, ingestion_id)["state"] == "scheduled"
            assert worker.run_once()  # the next claim runs it to the end
            assert ingestion(api, actor, ingestion_id)["state"] == "success"
    finally:
        if database is not None:
            database.dispose()


def test_a_run_whose_end_cannot_be_recorded_is_not_logged_as_a_failed_claim(
    own_postgres_database, proxied_postgres, tmp_path, caplog
):
    # The database went away while the worker downloaded the bundle: recording the run's end
    # failed, and the log said "claiming failed; retrying" of a claim that had succeeded.
    proxy, through_proxy = proxied_postgres
    database = None
    stop = threading.Event()

    def errors() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.name == "interop.engine" and record.levelno >= logging.ERROR
        ]

    try:
        with (
            serving_without_engine(own_postgres_database, tmp_path) as (target, api),
            source_that(proxy.stop) as location,  # the database goes away mid-run
            caplog.at_level(logging.INFO),
        ):
            _, actor = new_collecting_tenant(target, api, location)
            ingestion_id = queue_collection(api, actor)
            worker_settings = engine_settings(
                target,
                database_url=through_proxy,
                worker_poll_seconds=0.05,
                worker_stale_seconds=0.5,  # how long it retries recording the end
                worker_heartbeat_seconds=0.4,
            )
            database = Database(worker_settings.resolved_database_url)
            worker = Worker(database, worker_settings, name="first", stop=stop)
            runner = threading.Thread(target=worker.run_forever, daemon=True)
            runner.start()
            deadline = time.monotonic() + 30
            while not errors() and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            runner.join(timeout=30)
    finally:
        stop.set()
        if database is not None:
            database.dispose()
    assert errors()[0] == (
        f"worker first: ingestion {ingestion_id} ran, but recording how it ended failed; "
        "it is taken over once its heartbeat is stale"
    )
    # The database is still away when the worker looks for work again: that is a claim.
    assert set(errors()[1:]) <= {"worker first: claiming failed; retrying"}
