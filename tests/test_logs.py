"""Log lines as operators read them: console lines for people, JSON lines for collectors."""

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from conftest import _free_port
from interop.config import Settings
from interop.logs import configure_logging

# What configure_logging turns off in the logging module, process-wide.
FLAGS = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """configure_logging owns the root logger; give the rest of the run its own back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    flags = {name: getattr(logging, name) for name in FLAGS}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, value in flags.items():
            setattr(logging, name, value)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def _raise_and_log() -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("interop").exception("request %s failed", "GET /v2/interop/tenants")


def test_json_lines_carry_level_logger_time_and_message(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_json=True))
    logging.getLogger("interop.access").info("%s %s %s %.1fms", "GET", "/healthz", 200, 1.25)
    [line] = _lines(capsys)
    record = json.loads(line)
    assert record.keys() == {"event", "level", "logger", "timestamp"}
    assert record["event"] == "GET /healthz 200 1.2ms"
    assert (record["level"], record["logger"]) == ("info", "interop.access")
    assert record["timestamp"].endswith("Z")
    assert datetime.fromisoformat(record["timestamp"]).utcoffset().total_seconds() == 0


def test_a_json_line_holds_the_whole_traceback_as_text(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_json=True))
    _raise_and_log()
    [line] = _lines(capsys)
    record = json.loads(line)
    assert record["event"] == "request GET /v2/interop/tenants failed"
    assert record["level"] == "error"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert "in _raise_and_log" in record["exception"]
    assert record["exception"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert "exc_info" not in record


def test_console_lines_read_time_level_message_logger(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_json=False))
    logging.getLogger("interop.access").info("%s %s %s %.1fms", "GET", "/healthz", 200, 1.25)
    [line] = _lines(capsys)
    stamp, rest = line.split(" ", 1)
    assert datetime.fromisoformat(stamp).utcoffset().total_seconds() == 0
    assert rest.split() == ["[info", "]", "GET", "/healthz", "200", "1.2ms", "[interop.access]"]


def test_a_console_line_is_followed_by_its_traceback(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_json=False))
    _raise_and_log()
    text = capsys.readouterr().err
    assert "request GET /v2/interop/tenants failed" in text.splitlines()[0]
    assert "[error" in text.splitlines()[0]
    assert "Traceback (most recent call last)" in text
    assert "ZeroDivisionError: division by zero" in text


def test_the_level_setting_filters_lines(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_json=True, log_level="WARNING"))
    logging.getLogger("interop.access").info("not shown")
    logging.getLogger("interop").warning("shown")
    assert [json.loads(line)["event"] for line in _lines(capsys)] == ["shown"]


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "interop serve exited"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "interop serve did not start"
        time.sleep(0.1)


def test_every_serve_process_writes_the_configured_lines(
    postgres_database: str, tmp_path: Path
) -> None:
    """`interop serve --workers 2` (PostgreSQL): uvicorn starts each worker process afresh,
    and those processes log as the settings say, access lines included."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("INTEROP_")}
    env = {
        **inherited,
        "INTEROP_DATA_DIR": str(tmp_path),
        "INTEROP_DATABASE_URL": postgres_database,
        "INTEROP_LOG_JSON": "true",
        "INTEROP_LOG_LEVEL": "INFO",
    }
    interop = str(Path(sys.executable).parent / "interop")
    subprocess.run([interop, "migrate"], env=env, check=True, capture_output=True)
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [interop, "serve", "--workers", "2", "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(base_url, process)
            for _ in range(3):
                assert httpx.get(f"{base_url}/v2/interop/clouds").status_code == 401
        finally:
            process.terminate()
            process.wait(timeout=30)
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    events = [(r["logger"], r["event"]) for r in records]
    started = [e for logger, e in events if e.startswith("Started server process")]
    assert len(started) == 2, events
    access = [e for logger, e in events if logger == "interop.access"]
    assert [e.split()[:3] for e in access if "/clouds" in e] == [
        ["GET", "/v2/interop/clouds", "401"]
    ] * 3, access
