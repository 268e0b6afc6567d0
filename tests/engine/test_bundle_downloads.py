"""Bundles fetched over http(s) from a real server on loopback that answers badly: the
ingestion's time limit holds from the connection to the last byte, and credentials in the
location stay out of the ingestion's error and the logs."""

import gzip
import http.server
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from factories import ingestion, new_collecting_tenant, queue_collection, run_worker
from interop.config import Settings
from interop.logs import configure_logging
from local_http import serving_http

# Credentials a district may put in a location: user info, and a presigned URL's query.
SECRETS = ("pa55w0rd", "s3cr3t-signature")


ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/missing": (404, {}, b"not here"),
    "/moved": (302, {"Location": "/elsewhere.zip"}, b""),
    "/gzip": (200, {"Content-Encoding": "gzip"}, gzip.compress(b"PK" * 100)),
    "/big": (200, {}, b"\0" * 4096),
    "/short": (200, {"Content-Length": "100000"}, b"PK" * 100),
}


@dataclass
class Source:
    """A bundle server on loopback answering each path badly: `/missing` 404, `/moved` a
    redirect, `/gzip` a gzip-encoded body, `/big` 4 KiB, `/short` fewer bytes than it
    promises; `/drip-head` sends its response head a byte every 0.2 s (about 15 s in all),
    and notes when the client hangs up before it is all sent."""

    base: str
    hung_up_early: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def source() -> Iterator[Source]:
    state: list[Source] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            if path == "/drip-head":
                head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: " + b"a" * 60
                try:
                    for byte in head + b"\r\n\r\n":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:
                    state[0].hung_up_early.set()
                    return
                self.wfile.write(b"{}")
                return
            status, headers, body = ANSWERS[path]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", headers.get("Content-Length", str(len(body))))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Handler) as base:
        state.append(Source(base))
        yield state[0]


def collect_from(server, api, location: str, **settings) -> dict:
    """The ingestion of a collection from `location`, for a new tenant, run to its end."""
    _, actor = new_collecting_tenant(server, api, location)
    ingestion_id = queue_collection(api, actor)
    run_worker(server, **settings)
    return ingestion(api, actor, ingestion_id)


def test_a_response_head_that_drips_ends_at_the_ingestion_time_limit(server, api, source):
    # httpx's timeout applies to each read, and the time limit covered only the body: a head
    # sent a byte every 2 s held the worker, `interop serve`'s only one, for hours, its
    # heartbeat beating so that no other worker took over.
    result = collect_from(server, api, f"{source.base}/drip-head", ingestion_timeout=2)
    assert result["state"] == "timeout", result
    assert result["error"]["code"] == "timeout"
    assert source.hung_up_early.wait(5)


@pytest.fixture
def logged() -> Iterator[None]:
    """The project's logging set-up for the test (caplog's handler joins it when the test
    starts), and the logging module as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quieted = {name: logging.getLogger(name).level for name in ("alembic", "httpx", "httpcore")}
    configure_logging(Settings())
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level
        for name, was in quieted.items():
            logging.getLogger(name).setLevel(was)


def with_credentials(base: str, path: str) -> str:
    return (
        base.replace("http://", "http://district:pa55w0rd@")
        + path
        + ("?X-Amz-Signature=s3cr3t-signature&X-Amz-Expires=600")
    )


@pytest.mark.parametrize(
    ("path", "code", "words"),
    [
        ("/missing", "source_unavailable", "answered 404"),
        ("/moved", "source_unavailable", "answered 302"),
        ("/gzip", "source_unavailable", "gzip-encoded"),
        ("/big", "bundle_too_large", "exceeds 1024 bytes"),
        ("/short", "source_unavailable", "failed"),
    ],
)
def test_an_ingestion_error_names_the_location_without_its_credentials(
    server, api, source, path, code, words
):
    # The tenant's integration reads its ingestions: every message naming the URL gave it
    # the district's password and the presigned URL's signature.
    result = collect_from(server, api, with_credentials(source.base, path), max_bundle_bytes=1024)
    assert result["state"] == "failed", result
    assert result["error"]["code"] == code
    message = result["error"]["message"]
    assert message.startswith(f"GET {source.base}{path}?…")
    assert words in message
    assert not any(secret in message for secret in (*SECRETS, "district"))


def test_a_fetch_logs_no_credentials(server, api, source, logged, caplog):
    # httpx wrote "HTTP Request: GET http://district:pa55w0rd@…" at INFO for every fetch.
    caplog.set_level(logging.DEBUG)
    result = collect_from(server, api, with_credentials(source.base, "/missing"))
    assert result["state"] == "failed", result
    assert "ended failed (source_unavailable)" in caplog.text  # the run's lines were caught
    assert not any(secret in caplog.text for secret in SECRETS)
