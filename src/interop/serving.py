"""How a server process runs: the event loop and HTTP protocol `interop serve` gives uvicorn."""

import asyncio
import socket
import sys

import orjson
from fastapi import FastAPI
from httptools import HttpParserCallbackError, HttpParserError
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from interop.app import create_app
from interop.config import Settings
from interop.errors import error_body
from interop.logs import configure_logging

# uvicorn's import strings for the app factory and the protocol below.
APP_FACTORY = "interop.serving:create_served_app"
HTTP_PROTOCOL = "interop.serving:HttpProtocol"


def create_served_app() -> FastAPI:
    """The app of one `interop serve` process, its logging set up first. uvicorn starts each
    of `--workers N` processes afresh, which the CLI's own set-up does not reach: they wrote
    no access line and nothing at INFO, and their warnings and errors came out bare, never
    as JSON lines."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)


def event_loop(settings: Settings) -> str:
    """The loop `interop serve` runs on. On SQLite every read runs on the loop, and uvloop
    serves a saturated loop's requests unevenly: an actor's GET at 32 connections had a p99 of
    830-900 ms on uvloop against 95-114 ms on asyncio, at the same requests/s (a bare Starlette
    endpoint burning the same 1.8 ms of CPU behaves alike). On PostgreSQL, where each request
    hands its queries to worker threads, uvloop's cheaper wake-ups win: 356-425 requests/s
    against 238-356 on asyncio, with similar p99s."""
    if settings.event_loop != "auto":
        return settings.event_loop
    return "asyncio" if settings.is_sqlite else "uvloop"


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Nagle's algorithm off on every connection, and the
    requests its parser rejects answered in the API's error envelope.

    asyncio turns TCP_NODELAY on only for sockets whose `proto` is IPPROTO_TCP, and the
    listening socket uvicorn binds itself for several worker processes has proto 0: their
    connections kept Nagle's algorithm, and each response then waited for the client's delayed
    acknowledgement (40 ms on Linux)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def send_400_response(self, msg: str) -> None:
        """A request the parser rejects (a malformed request line, header or chunk size) gets
        `400 invalid_request` in the envelope, naming the parser's reason, where uvicorn wrote
        plain text ("Invalid HTTP request received."). The parser's place in the stream is
        lost, so the connection still closes. uvicorn calls this from the `except` clause that
        caught the parser's error, which is where the reason comes from."""
        reason = _parser_reason(sys.exception())
        message = "the request is not valid HTTP" + (f": {reason}" if reason else "")
        body = orjson.dumps(error_body(400, "invalid_request", message))
        head = [STATUS_LINE[400]]
        head.extend(
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        )
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: %d\r\n" % len(body))
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def _parser_reason(error: BaseException | None) -> str | None:
    """What httptools says is wrong with a request. A URL that only uvicorn's own callback
    fails to parse (`GET http://[::1 HTTP/1.1`) arrives wrapped as "User callback error"."""
    if isinstance(error, HttpParserCallbackError):
        error = error.__context__
    return str(error) if isinstance(error, HttpParserError) else None
