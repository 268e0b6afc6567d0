"""How `interop serve` runs uvicorn: TCP_NODELAY on every connection, the event loop per
backend, and the start-up objects left out of garbage collection."""

import gc
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from interop.config import Settings
from interop.serving import HTTP_PROTOCOL, event_loop


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _listener_as_uvicorn_binds_it() -> socket.socket:
    """For several worker processes uvicorn binds the socket itself: protocol number 0."""
    sock = socket.socket(family=socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    assert sock.proto == 0
    return sock


@pytest.fixture
def serve_on_shared_socket() -> Iterator[Any]:
    """Serve `_ok` as a worker process of `interop serve --workers N` does (Server.run on the
    parent's socket), on asyncio; yield a function giving the server-side TCP_NODELAY of a
    live client connection."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(http: str) -> int:
        sock = _listener_as_uvicorn_binds_it()
        config = uvicorn.Config(_ok, loop="asyncio", http=http, log_config=None, lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        port = sock.getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/").text == "ok"  # the connection stays open (keep-alive)
            (connection,) = server.server_state.connections
            server_side = connection.transport.get_extra_info("socket")
            return int(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_our_protocol_turns_nagle_off_on_a_shared_socket(serve_on_shared_socket: Any) -> None:
    assert serve_on_shared_socket(HTTP_PROTOCOL) != 0


def test_uvicorn_alone_leaves_nagle_on_there(serve_on_shared_socket: Any) -> None:
    # The reason for HttpProtocol: should uvicorn or asyncio fix this, the class can go.
    assert serve_on_shared_socket("httptools") == 0


@pytest.mark.parametrize(
    ("url", "setting", "loop"),
    [
        ("sqlite:///x.db", "auto", "asyncio"),
        ("postgresql+psycopg://postgres@127.0.0.1/x", "auto", "uvloop"),
        ("sqlite:///x.db", "uvloop", "uvloop"),
        ("postgresql+psycopg://postgres@127.0.0.1/x", "asyncio", "asyncio"),
    ],
)
def test_the_event_loop_follows_the_backend_unless_set(url: str, setting: str, loop: str) -> None:
    settings = Settings(database_url=url, event_loop=setting)  # type: ignore[arg-type]
    assert event_loop(settings) == loop


def test_an_unknown_event_loop_is_refused() -> None:
    with pytest.raises(ValueError, match="event_loop"):
        Settings(event_loop="tokio")  # type: ignore[arg-type]


def test_start_up_leaves_its_objects_out_of_collections(extra_server: Any) -> None:
    gc.unfreeze()
    base_url = extra_server()
    assert httpx.get(f"{base_url}/healthz").status_code == 200
    assert gc.get_freeze_count() > 0
