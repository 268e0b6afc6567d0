"""How a server process runs: the event loop and HTTP protocol `interop serve` gives uvicorn."""

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from interop.config import Settings

# uvicorn's import string for the protocol below.
HTTP_PROTOCOL = "interop.serving:HttpProtocol"


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
