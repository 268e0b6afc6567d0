"""Log lines as operators read them: console lines for people, JSON lines for collectors."""

import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

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


def _fail_holding(secret: str) -> None:
    authorization = f"Basic {secret}"  # as a request handler's locals hold its headers
    try:
        raise RuntimeError(f"bad header of {len(authorization)} characters")
    except RuntimeError:
        logging.getLogger("interop").exception("unhandled error")


@pytest.mark.parametrize("log_json", [False, True], ids=["console", "json"])
def test_a_traceback_never_shows_local_variables(
    configured: None, capsys: pytest.CaptureFixture[str], log_json: bool
) -> None:
    # structlog's console renderer, with rich installed, prints every frame's locals by
    # default: a 500 would have written the request's credentials into the log.
    configure_logging(Settings(log_json=log_json))
    _fail_holding("c2VjcmV0LWtleTpzZWNyZXQtdmFsdWU")
    text = capsys.readouterr().err
    assert "RuntimeError: bad header of 37 characters" in text
    assert "in _fail_holding" in text
    assert "c2VjcmV0LWtleTpzZWNyZXQtdmFsdWU" not in text


def test_the_level_setting_filters_lines(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_json=True, log_level="warning"))  # any case
    logging.getLogger("interop.access").info("not shown")
    logging.getLogger("interop").warning("shown")
    assert [json.loads(line)["event"] for line in _lines(capsys)] == ["shown"]
