"""Bundles fetched over http(s) from a real server on loopback that answers badly: the
ingestion's time limit holds from the connection to the last byte."""

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from factories import ingestion, new_collecting_tenant, queue_collection, run_worker


@dataclass
class Source:
    """A bundle server on loopback: `/drip-head` sends its response head a byte every 0.2 s
    (about 15 s in all), and notes when the client hangs up before it is all sent."""

    base: str
    hung_up_early: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def source() -> Iterator[Source]:
    state: list[Source] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/drip-head":
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

        def log_message(self, *_args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.append(Source(f"http://127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        httpd.shutdown()
        httpd.server_close()


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
