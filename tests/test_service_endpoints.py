"""Service endpoints, the framework's and the HTTP server's own errors in the envelope, and
the OpenAPI document."""

import asyncio
import contextlib
import http.client
import io
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import httpx
import pytest
import uvicorn

import interop.app
from conftest import running
from factories import new_account, new_cloud
from interop.errors import ERROR_CODES, error_body
from interop.serving import HTTP_PROTOCOL

SEED_OPERATIONS = {
    ("get", "/actors"),
    ("get", "/clouds"),
    ("post", "/clouds"),
    ("get", "/clouds/search"),
    ("get", "/clouds/{id}"),
    ("delete", "/clouds/{id}"),
    ("get", "/clouds/{id}/actors"),
    ("get", "/integrations"),
    ("post", "/integrations"),
    ("get", "/integrations/{id}/versions"),
    ("post", "/integrations/{id}/versions"),
    ("patch", "/integrations/{id}/versions/{version}"),
    ("delete", "/integrations/{id}/versions/{version}"),
    ("put", "/integrations/{id}/versions/{version}/blueprint"),
    ("get", "/integrations/{id}"),
    ("patch", "/integrations/{id}"),
    ("delete", "/integrations/{id}"),
    ("get", "/tenants"),
    ("get", "/tenants/{id}"),
    ("get", "/tenant"),
    ("get", "/tenant/state"),
    ("get", "/tenant/scoping/schools"),
    ("post", "/tenant/scoping/schools"),
    ("delete", "/tenant/scoping/schools"),
    ("get", "/tenant/scoping/schools/{id}"),
    ("put", "/tenant/scoping/schools/{id}"),
    ("delete", "/tenant/scoping/schools/{id}"),
    ("get", "/tenant/scoping/courses"),
    ("post", "/tenant/scoping/courses"),
    ("delete", "/tenant/scoping/courses"),
    ("get", "/tenant/scoping/courses/{id}"),
    ("put", "/tenant/scoping/courses/{id}"),
    ("delete", "/tenant/scoping/courses/{id}"),
    ("get", "/tenant/application"),
    ("patch", "/tenant/application"),
    ("get", "/tenant/rollovers"),
    ("post", "/tenant/rollovers"),
    ("get", "/tenant/rollovers/count"),
    ("get", "/tenant/rollovers/{id}"),
    ("put", "/tenant/rollovers/{id}"),
    ("delete", "/tenant/rollovers/{id}"),
    ("get", "/tenant/schedules"),
    ("post", "/tenant/schedules"),
    ("post", "/tenant/schedules/{id}/run"),
    ("get", "/tenant/schedules/count"),
    ("get", "/tenant/schedules/{id}"),
    ("patch", "/tenant/schedules/{id}"),
    ("delete", "/tenant/schedules/{id}"),
    ("get", "/ingestions"),
    ("get", "/ingestions/count"),
    ("get", "/ingestions/{id}"),
}


def test_healthz(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_database_and_migrations(api: httpx.Client) -> None:
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_metrics_count_requests_by_route_template(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    api.get(f"/v2/interop/clouds/{cloud['id']}", headers=caller.headers)
    text = api.get("/metrics").text
    assert 'route="/v2/interop/clouds/{id}"' in text
    assert cloud["id"] not in text
    assert "interop_http_request_duration_seconds_bucket" in text


def test_docs_page_is_served(api: httpx.Client) -> None:
    response = api.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_unknown_path_is_404_in_the_envelope(api: httpx.Client) -> None:
    response = api.get("/v2/interop/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["status"] == 404


def test_wrong_method_is_405_in_the_envelope(api: httpx.Client) -> None:
    response = api.put("/v2/interop/clouds", json={})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_head_answers_as_get_without_a_body(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    url = f"/v2/interop/clouds/{cloud['id']}"
    got = api.get(url, headers=caller.headers)
    head = api.head(url, headers=caller.headers)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag"):
        assert head.headers[name] == got.headers[name], name
    assert api.head("/healthz").status_code == 200
    refused = api.head(url)  # the GET's 401, headers and all
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.content == b""
    assert api.head("/oauth/token").status_code == 405  # no GET there either


def test_an_unexpected_error_is_one_500_envelope_on_a_connection_left_open(
    server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fails(_engine: object) -> bool:
        raise RuntimeError("a detail for the server log only")

    monkeypatch.setattr(interop.app, "migrations_are_current", fails)  # /readyz now raises
    url = httpx.URL(server.base_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    with caplog.at_level(logging.INFO):
        connection.request("GET", "/readyz")
        failed = connection.getresponse()
        body = failed.read()
        opened = connection.sock
        connection.request("GET", "/healthz")  # uvicorn had closed the connection
        after = connection.getresponse()
        after.read()
    same_connection = opened is not None and connection.sock is opened
    connection.close()
    assert failed.status == 500
    message = "unexpected error; the server log has the details"
    assert json.loads(body) == error_body(500, "internal_error", message)
    assert after.status == 200 and same_connection
    tracebacks = [record.getMessage() for record in caplog.records if record.exc_info]
    assert tracebacks == ["unhandled error"]  # uvicorn logged it again


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (b"FETCH /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "Invalid method encountered"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", "Invalid header token"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", "Invalid header value char"),
        (
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "Invalid character in chunk size",
        ),
        (b"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n", "invalid url b'http://[::1'"),
    ],
)
def test_a_request_the_http_parser_rejects_is_400_in_the_envelope(
    server, request_bytes: bytes, reason: str
) -> None:
    with _raw_connection(server.base_url) as sock:
        sock.sendall(request_bytes)
        response, body = _read_response(sock)
        assert sock.recv(1) == b""  # the parser cannot go on: the connection is closed
    assert response.status == 400
    assert response.getheader("content-type") == "application/json"
    message = f"the request is not valid HTTP: {reason}"
    assert json.loads(body) == error_body(400, "invalid_request", message)


# What the server counts of a head: its URL and header lines, without the request line's
# method and version (`GET `, ` HTTP/1.1\r\n`) and the blank line that ends it.
UNCOUNTED = len(b"GET  HTTP/1.1\r\n\r\n")
DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # as README.md says


def _head(counted: int, *, close: bool = False) -> bytes:
    """A GET /healthz whose head counts exactly `counted` bytes against the limit."""
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + (b"Connection: close\r\n" if close else b"")
    padding = counted + UNCOUNTED - len(start) - len(b"X-Pad: \r\n\r\n")
    return start + b"X-Pad: " + b"p" * padding + b"\r\n\r\n"


def _raw_connection(base_url: str) -> socket.socket:
    url = httpx.URL(base_url)
    sock = socket.create_connection((url.host, url.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each sendall a segment
    return sock


class _Unbuffered:
    """A socket to http.client that reads no further than the response it parses: the next
    response on the connection stays for the next read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def makefile(self, mode: str) -> BinaryIO:
        return self.sock.makefile(mode, buffering=0)  # type: ignore[return-value]


def _read_response(sock: socket.socket) -> tuple[http.client.HTTPResponse, bytes]:
    response = http.client.HTTPResponse(cast(socket.socket, _Unbuffered(sock)))
    response.begin()
    return response, response.read()


def _send_in_pieces(sock: socket.socket, data: bytes, piece: int) -> None:
    for start in range(0, len(data), piece):
        sock.sendall(data[start : start + piece])


def _assert_head_refused(response: http.client.HTTPResponse, body: bytes, limit: int) -> None:
    assert response.status == 431
    assert response.getheader("connection") == "close"
    message = f"the request's URL and headers exceed {limit} bytes"
    assert json.loads(body) == error_body(431, "request_header_fields_too_large", message)


@contextlib.contextmanager
def _serving_with(server, **settings: object) -> Iterator[str]:
    """Another server of the same database with these settings changed, for a module."""
    with running(server.settings.model_copy(update=settings)) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def small_head_server(server) -> Iterator[str]:
    """A server of the same database whose INTEROP_MAX_HEADER_BYTES is 2048."""
    with _serving_with(server, max_header_bytes=2048) as base_url:
        yield base_url


@pytest.mark.parametrize("piece", [1 << 20, 100], ids=["whole", "in-100-byte-segments"])
@pytest.mark.parametrize("configured", [False, True], ids=["default-limit", "configured-limit"])
def test_a_head_at_the_limit_is_served_and_one_byte_more_is_431(
    request: pytest.FixtureRequest, server, configured: bool, piece: int
) -> None:
    base_url = request.getfixturevalue("small_head_server") if configured else server.base_url
    limit = 2048 if configured else DEFAULT_MAX_HEADER_BYTES
    with _raw_connection(base_url) as sock:
        _send_in_pieces(sock, _head(limit, close=True), piece)
        response, _ = _read_response(sock)
        assert response.status == 200
    with _raw_connection(base_url) as sock:
        _send_in_pieces(sock, _head(limit + 1), piece)
        response, body = _read_response(sock)
        assert sock.recv(1) == b""  # closed, though the request asked to keep it open
    _assert_head_refused(response, body, limit)


TRAILER = (
    b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\n1\r\na\r\n0\r\n"
)


@pytest.mark.parametrize(
    "start",
    [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ", TRAILER + b"X-Pad: "],
    ids=["header", "trailer-field"],
)
def test_a_huge_header_is_cut_off_before_it_has_all_been_sent(server, start: bytes) -> None:
    """The server stops reading a header, or a chunked body's trailer field, once it passes
    the limit, rather than holding what it is sent (50 MB here; uvicorn held 200 MB of one
    header whole and answered it)."""
    total, chunk = 50 * 1024 * 1024, b"p" * 65536
    sent = 0
    with _raw_connection(server.base_url) as sock:
        sock.sendall(start)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
    # The server read the limit and a read or two; the two ends' socket buffers took the rest.
    assert sent < total // 5, f"{sent} bytes were taken"


def test_a_body_and_pipelined_requests_do_not_count_towards_the_next_head(server) -> None:
    """A POST's 200 KB body and the GET sent behind it in the same segments, whose head is
    at the limit: each head is counted from its own start, on a connection kept open."""
    limit = DEFAULT_MAX_HEADER_BYTES
    body = b"b" * 200_000
    post = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    post += b"Content-Length: %d\r\n\r\n" % len(body)
    with _raw_connection(server.base_url) as sock:
        sock.sendall(post + body + _head(limit))
        assert _read_response(sock)[0].status == 405
        assert _read_response(sock)[0].status == 200
        sock.sendall(_head(limit + 1))
        _assert_head_refused(*_read_response(sock), limit)


@pytest.mark.parametrize(
    ("refused", "code"),
    [
        (_head(DEFAULT_MAX_HEADER_BYTES + 512 * 1024), "request_header_fields_too_large"),
        (b"GET / HTTP/1.1\r\nBad Name: v\r\nX-Pad: " + b"p" * 512 * 1024, "invalid_request"),
        (
            TRAILER + b"X-Pad: " + b"p" * (DEFAULT_MAX_HEADER_BYTES + 512 * 1024),
            "request_header_fields_too_large",
        ),
    ],
    ids=["head-over-the-limit", "unparsable", "trailer-fields-over-the-limit"],
)
def test_a_client_still_sending_when_refused_reads_the_answer(
    server, refused: bytes, code: str
) -> None:
    """The server refuses the request while the client is still sending the 512 KiB that
    follow; it reads on and discards them, so the client's sending ends and it reads the
    answer, where the kernel had reset the connection under it and the answer was lost."""
    for _ in range(5):
        with _raw_connection(server.base_url) as sock:
            _send_in_pieces(sock, refused, 16 * 1024)
            response, body = _read_response(sock)
            assert sock.recv(1) == b""  # the server has said all it will
        assert json.loads(body)["error"]["code"] == code
        assert response.status == ERROR_CODES[code][0]


class _Received(io.BytesIO):
    """What a connection carried, for http.client to read one response after another."""

    def makefile(self, mode: str) -> BinaryIO:
        return self

    def close(self) -> None:
        pass  # http.client closes its file after each response


def _received_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _answers_until_closed(sock: socket.socket) -> list[tuple[int, bytes]]:
    """Every response the server writes on the connection, in order, until it closes it."""
    return _answers(_received_until_closed(sock))


def _answers(received: bytes) -> list[tuple[int, bytes]]:
    stream = _Received(received)
    answers = []
    while stream.tell() < len(received):
        response = http.client.HTTPResponse(cast(socket.socket, stream))
        response.begin()
        answers.append((response.status, response.read()))
    return answers


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
UNPARSABLE = b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n"


@pytest.mark.parametrize(
    ("served", "refused", "code"),
    [
        (1, UNPARSABLE, "invalid_request"),
        (2, UNPARSABLE, "invalid_request"),
        (1, _head(2048 + 1), "request_header_fields_too_large"),
        (1, TRAILER.replace(b"1\r\na\r\n0\r\n", b"zz\r\n"), "invalid_request"),
    ],
    ids=[
        "unparsable",
        "unparsable-behind-a-queued-request",
        "head-over-the-limit",
        "unparsable-body",
    ],
)
def test_a_refused_request_pipelined_behind_others_is_answered_after_them(
    small_head_server: str, served: int, refused: bytes, code: str
) -> None:
    """HTTP/1.1 answers a connection's requests in their order (RFC 9112 §9.3.2). The
    refused request comes in the same segment as the /healthz before it, so the server parses
    it before /healthz is answered; it wrote the refusal at once, which the client read as
    /healthz's answer, and dropped /healthz's own. The last case's POST is refused for its
    chunked body, after its head was complete and it was queued behind /healthz."""
    with _raw_connection(small_head_server) as sock:
        sock.sendall(HEALTHZ * served + refused)
        answers = _answers_until_closed(sock)
    assert [status for status, _ in answers] == [200] * served + [ERROR_CODES[code][0]]
    assert all(json.loads(body) == {"status": "ok"} for _, body in answers[:-1])
    assert json.loads(answers[-1][1])["error"]["code"] == code


def test_trailer_fields_over_the_limit_are_431_after_the_answers_before_them(
    small_head_server: str,
) -> None:
    """A chunked POST's trailer fields, whole, pass the limit behind a /healthz in the same
    segment: the server closed the connection unanswered, dropping /healthz's answer too.
    (Trailer fields still arriving: test_a_client_still_sending_when_refused_reads_the_answer.)"""
    with _raw_connection(small_head_server) as sock:
        sock.sendall(HEALTHZ + TRAILER + b"X-Pad: " + b"p" * 2048 + b"\r\n\r\n")
        answers = _answers_until_closed(sock)
    assert [status for status, _ in answers] == [200, 431]
    assert json.loads(answers[0][1]) == {"status": "ok"}
    message = "the request's trailer fields exceed 2048 bytes"
    assert json.loads(answers[1][1]) == error_body(431, "request_header_fields_too_large", message)


class _HeldResponse:
    """A bare ASGI app whose response starts at once and ends when the test releases it:
    a request still being answered when the next one arrives."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"10")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        self.started.set()
        await asyncio.to_thread(self.release.wait, 30)
        await send({"type": "http.response.body", "body": b"-last"})


@contextlib.contextmanager
def _serving_app(app: Any, loop: str) -> Iterator[str]:
    """`app` served by our protocol (its default limits) on `loop`; its base URL."""
    config = uvicorn.Config(
        app, port=0, loop=loop, http=HTTP_PROTOCOL, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_refusal_arriving_during_a_response_is_written_after_it(loop: str) -> None:
    """The refused request arrives while the response before it is half written: the
    server wrote the refusal into that response, and never finished it."""
    app = _HeldResponse()
    with _serving_app(app, loop) as base_url, _raw_connection(base_url) as sock:
        try:
            sock.sendall(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
            assert app.started.wait(30)
            sock.sendall(UNPARSABLE)
            # Time for the server to read it while the response is held; on a slower
            # server the test could pass on the old code, never fail on the right one.
            time.sleep(0.2)
        finally:
            app.release.set()
        answers = _answers_until_closed(sock)
    assert [status for status, _ in answers] == [200, 400]
    assert answers[0][1] == b"first-last"
    assert json.loads(answers[1][1])["error"]["code"] == "invalid_request"


HEALTHZ_CLOSE = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
CHUNKED_POST = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "failure",
    [b"zz\r\n", b"0\r\nX-Pad: " + b"p" * DEFAULT_MAX_HEADER_BYTES + b"\r\n\r\n"],
    ids=["unparsable-chunk-size", "trailer-fields-over-the-limit"],
)
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_body_failing_during_its_own_response_lets_that_response_finish(
    loop: str, failure: bytes
) -> None:
    """The app answers a chunked POST without reading its body, which fails while the answer
    is half written: the server wrote its 400 into that answer, or closed the connection on
    it for trailer fields over the limit. The answer is now finished whole, and nothing
    follows it before the connection closes."""
    app = _HeldResponse()
    with _serving_app(app, loop) as base_url:
        with _raw_connection(base_url) as sock:
            try:
                sock.sendall(CHUNKED_POST)
                assert app.started.wait(30)
                sock.sendall(failure)
                time.sleep(0.2)  # for the server to read it while the response is held
            finally:
                app.release.set()
            received = _received_until_closed(sock)
        with _raw_connection(base_url) as sock:  # the server serves on
            sock.sendall(HEALTHZ_CLOSE)
            assert _answers_until_closed(sock) == [(200, b"first-last")]
    assert _answers(received) == [(200, b"first-last")]


class _BodyReader:
    """A bare ASGI app that starts its response, then reads the request's body to its end
    and finishes the response."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.finished = threading.Event()
        self.received: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            self.started.set()
            while True:
                self.received.append(await receive())
                if self.received[-1]["type"] == "http.disconnect":
                    break
                if not self.received[-1]["more_body"]:
                    break
            await send({"type": "http.response.body", "body": b"-last"})
        finally:
            self.finished.set()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_an_app_waiting_for_a_failed_body_is_disconnected_and_its_response_cut(
    loop: str,
) -> None:
    """The body fails while the app, its response begun, waits for the rest of it: the
    server wrote its 400 into the response. The app now gets the body that came, then
    `http.disconnect`, rather than waiting for ever; the response stops where it was (no
    last chunk, which tells the client it is cut) and the connection closes."""
    app = _BodyReader()
    with _serving_app(app, loop) as base_url:
        with _raw_connection(base_url) as sock:
            sock.sendall(CHUNKED_POST + b"1\r\na\r\n")
            assert app.started.wait(30)
            sock.sendall(b"zz\r\n")
            assert app.finished.wait(30)
            received = _received_until_closed(sock)
        body = b"".join(message.get("body", b"") for message in app.received)
        last = app.received[-1]
        app.received.clear()
        with _raw_connection(base_url) as sock:  # the server serves on
            sock.sendall(HEALTHZ_CLOSE)
            assert _answers_until_closed(sock) == [(200, b"first-last")]
    assert (body, last) == (b"a", {"type": "http.disconnect"})
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\n5\r\nfirst\r\n")
    assert received.count(b"HTTP/1.1") == 1


def test_a_body_failing_after_its_request_was_answered_gets_no_second_answer(server) -> None:
    """The 415 comes before the chunked body is read, and the body then fails: the server
    wrote a 400 after the 415, which the client read as the answer to the request it sent
    next, never parsed. The connection now closes without it, leaving that request
    unanswered for the client to retry (RFC 9112 §9.3.2)."""
    post = (
        b"POST /v2/interop/clouds HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with _raw_connection(server.base_url) as sock:
        sock.sendall(post)
        assert _read_response(sock)[0].status == 415
        sock.sendall(b"1\r\na\r\nzz\r\n" + HEALTHZ)
        assert _received_until_closed(sock) == b""
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200  # the server serves on


HEAD_TIMEOUT = 1.0  # the timed server's INTEROP_HEADER_TIMEOUT_SECONDS


@pytest.fixture(scope="module")
def timed_server(server) -> Iterator[str]:
    with _serving_with(server, header_timeout_seconds=HEAD_TIMEOUT) as base_url:
        yield base_url


def _trickle_until_answered(sock: socket.socket, line: bytes) -> float:
    """Send `line` every 0.2 s until the server answers (at most 5 s); the time it took."""
    started = time.monotonic()
    while not select.select([sock], [], [], 0.2)[0]:
        assert time.monotonic() - started < 5, "the server waited on"
        sock.sendall(line)
    return time.monotonic() - started


def _assert_timed_out(response: http.client.HTTPResponse, body: bytes) -> None:
    assert response.status == 408
    assert response.getheader("connection") == "close"
    message = f"the request's head did not arrive within {HEAD_TIMEOUT:g} seconds"
    assert json.loads(body) == error_body(408, "request_timeout", message)


def test_a_head_sent_a_line_at_a_time_past_the_timeout_is_408(timed_server: str) -> None:
    """A slowloris: each line arrives well within any idle timeout, the head never ends."""
    with _raw_connection(timed_server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        waited = _trickle_until_answered(sock, b"X-Slow: 1\r\n")
        _assert_timed_out(*_read_response(sock))
        assert sock.recv(1) == b""
    assert HEAD_TIMEOUT - 0.2 <= waited < HEAD_TIMEOUT + 1


def test_a_kept_alive_connection_s_next_head_is_timed_from_the_previous_response(
    timed_server: str,
) -> None:
    """The first head is timed from the connection's start and arrives in time; the second
    from the first response's end, whose start arrived later than the timeout after the
    connection's."""
    with _raw_connection(timed_server) as sock:
        time.sleep(HEAD_TIMEOUT * 0.6)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock)[0].status == 200
        time.sleep(HEAD_TIMEOUT * 0.6)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        waited = _trickle_until_answered(sock, b"X-Slow: 1\r\n")
        _assert_timed_out(*_read_response(sock))
    assert HEAD_TIMEOUT * 0.4 - 0.2 <= waited < HEAD_TIMEOUT * 0.4 + 1


@pytest.mark.parametrize("kept_alive", [False, True], ids=["fresh", "after-a-response"])
def test_a_connection_without_a_request_is_closed_silently_after_the_timeout(
    timed_server: str, kept_alive: bool
) -> None:
    """No 408 where no request was begun (a browser's preconnected socket, or one kept alive),
    as uvicorn closes an idle kept-alive connection; a fresh one it had left open for ever."""
    with _raw_connection(timed_server) as sock:
        if kept_alive:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_response(sock)[0].status == 200
        started = time.monotonic()
        sock.settimeout(HEAD_TIMEOUT + 2)
        assert sock.recv(1) == b""
    assert time.monotonic() - started >= HEAD_TIMEOUT - 0.2


def test_a_refused_connection_is_closed_within_the_lingering_bound(server) -> None:
    """After its 431 the server only reads to discard (requests sent then go unanswered),
    for at most 2 s though the client neither closes nor stops sending."""
    with _raw_connection(server.base_url) as sock:
        sock.sendall(_head(DEFAULT_MAX_HEADER_BYTES + 1))
        _assert_head_refused(*_read_response(sock), DEFAULT_MAX_HEADER_BYTES)
        answered = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while time.monotonic() - answered < 5:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                time.sleep(0.1)
                assert sock.recv(1) == b""  # the server's write side stays shut
        closed = time.monotonic() - answered
    assert 1.5 < closed < 3


@pytest.fixture(scope="module")
def openapi(server) -> dict:
    return httpx.get(f"{server.base_url}/openapi.json").json()


def test_openapi_lists_every_seed_operation(openapi: dict) -> None:
    listed = {
        (method, path.removeprefix("/v2/interop"))
        for path, operations in openapi["paths"].items()
        for method in operations
    }
    assert SEED_OPERATIONS - listed == set()


def test_openapi_declares_both_security_schemes(openapi: dict) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["OAuth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    # As the published API shows it: an Authorization header carrying an LTI JWT.
    assert schemes["LTI JWT"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "LTI JWT Authorization header using the Bearer scheme",
    }
    clouds = openapi["paths"]["/v2/interop/clouds"]["get"]["security"]
    assert {"OAuth2": []} in clouds
    assert {"LTI JWT": []} in clouds


def test_each_operation_lists_the_schemes_its_callers_may_use(openapi: dict) -> None:
    """The schemes are declared by the principal dependencies, not solved per request."""
    paths = openapi["paths"]
    bearer = [{"OAuth2": []}, {"LTI JWT": []}]
    assert paths["/v2/interop/clouds"]["get"]["security"] == [*bearer, {"AccountKeyBasic": []}]
    assert paths["/v2/interop/tenant/schedules"]["get"]["security"] == bearer  # actors only
    # Either kind; an account's key also works as Basic there.
    assert paths["/v2/interop/ingestions"]["get"]["security"] == [*bearer, {"AccountKeyBasic": []}]
    assert "security" not in paths["/healthz"]["get"]
    assert "security" not in paths["/oauth/token"]["post"]
    assert set(openapi["components"]["securitySchemes"]) == {"OAuth2", "LTI JWT", "AccountKeyBasic"}


def test_query_integers_publish_their_bounds_as_json_schema(openapi: dict) -> None:
    def schema(path: str, name: str) -> dict:
        parameters = openapi["paths"][path]["get"]["parameters"]
        return next(p["schema"] for p in parameters if p["name"] == name)

    assert schema("/v2/interop/clouds", "page")["minimum"] == 0
    assert schema("/v2/interop/clouds", "page_size")["minimum"] == 1
    generation = schema("/v2/interop/clouds/search", "generation")["anyOf"][0]
    assert (generation["minimum"], generation["maximum"]) == (-(2**31), 2**31 - 1)
    assert '"ge"' not in str(openapi).replace("'", '"')


def test_openapi_lists_every_error_code_once(openapi: dict) -> None:
    codes = openapi["components"]["schemas"]["ErrorCode"]
    assert codes["enum"] == list(ERROR_CODES)
    assert "- `method_not_allowed` (405): " in codes["description"]


def test_openapi_lists_error_codes_per_operation(openapi: dict) -> None:
    create = openapi["paths"]["/v2/interop/clouds"]["post"]["responses"]
    conflict_codes = create["409"]["content"]["application/json"]["schema"]["properties"]["error"][
        "properties"
    ]["code"]["enum"]
    assert conflict_codes == ["cloud_name_taken"]
    assert "422" not in create
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
            if path.startswith("/v2/interop"):
                assert "401" in operation["responses"], (method, path)
                assert operation.get("security"), (method, path)


def test_an_unsupported_upgrade_is_answered_and_the_connection_closed(server) -> None:
    # What `curl --http2` sends over plain HTTP. Once the parser has seen an upgrade it reads
    # nothing more on the connection: kept open, the client's next request waited for ever.
    request = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
    )
    with _raw_connection(server.base_url) as sock:
        sock.sendall(request)
        response, body = _read_response(sock)
        assert (response.status, json.loads(body)) == (200, {"status": "ok"})
        assert response.getheader("connection") == "close"
        sock.settimeout(5)
        assert sock.recv(1) == b""


def test_the_access_line_shows_the_path_as_sent_so_no_caller_writes_a_line_of_its_own(
    server, api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # The decoded path was logged: %0A began a forged line (a time, a level, any request) and
    # %1B put terminal escapes into the console log.
    forged = "/x%0A2026-11-28T21:00:00Z%20[info]%20POST%20/v2/interop/accounts%20200%1B%5B31m"

    def access_lines() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.name == "interop.access" and "/x" in record.getMessage()
        ]

    with caplog.at_level(logging.INFO, logger="interop.access"):
        assert api.get(forged).status_code == 404
        # The line is written once the response has gone: the client can be a moment ahead.
        deadline = time.monotonic() + 5
        while not access_lines() and time.monotonic() < deadline:
            time.sleep(0.02)
    [line] = access_lines()
    assert line.startswith(f"GET {forged} 404 ")
    assert "\n" not in line and "\x1b" not in line
