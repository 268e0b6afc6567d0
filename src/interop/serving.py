"""How a server process runs: the event loop and HTTP protocol `interop serve` gives uvicorn."""

import asyncio
import socket

from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from interop.app import create_app
from interop.config import Settings
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
    """uvicorn's httptools protocol with Nagle's algorithm off on every connection.

    asyncio turns TCP_NODELAY on only for sockets whose `proto` is IPPROTO_TCP, and the
    listening socket uvicorn binds itself for several worker processes has proto 0: their
    connections kept Nagle's algorithm, and each response then waited for the client's delayed
    acknowledgement (40 ms on Linux)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
