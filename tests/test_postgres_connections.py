"""The server's PostgreSQL connections notice a server that vanished without closing them (a
network partition, a host powered off): read off the sockets of real connections, since
the loss itself cannot be staged on a test machine without changing its firewall."""

import socket
from typing import Any

from sqlalchemy.engine import make_url

from interop.db import POSTGRES_CONNECTION_DEFAULTS, Database


def _socket_options(database: Database) -> dict[str, int]:
    """The TCP options of a pooled connection's socket, as the kernel holds them."""
    with database.read_engine.connect() as connection:
        driver: Any = connection.connection.driver_connection
        sock = socket.socket(fileno=driver.fileno())
        try:
            return {
                "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                "interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                "count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                "user_timeout_ms": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
            }
        finally:
            sock.detach()  # the connection's own socket: not to be closed here


def _over_tcp(url: str) -> str:
    """The test database reached over TCP (libpq would take a Unix socket for no host)."""
    parsed = make_url(url)
    return parsed.set(host=parsed.host or "127.0.0.1").render_as_string(hide_password=False)


def test_a_connection_to_a_vanished_server_fails_within_seconds(postgres_database: str) -> None:
    database = Database(_over_tcp(postgres_database))
    try:
        options = _socket_options(database)
    finally:
        database.dispose()
    assert options == {
        "keepalive": 1,
        "idle": POSTGRES_CONNECTION_DEFAULTS["keepalives_idle"],
        "interval": POSTGRES_CONNECTION_DEFAULTS["keepalives_interval"],
        "count": POSTGRES_CONNECTION_DEFAULTS["keepalives_count"],
        "user_timeout_ms": POSTGRES_CONNECTION_DEFAULTS["tcp_user_timeout"],
    }
    # Without them, Linux keeps an idle connection for two hours before its first probe and
    # retransmits unanswered data for about 15 minutes.
    assert options["user_timeout_ms"] <= 10_000


def test_the_database_url_s_own_tcp_options_win(postgres_database: str) -> None:
    url = make_url(_over_tcp(postgres_database)).update_query_dict(
        {"keepalives_idle": "120", "tcp_user_timeout": "30000"}
    )
    database = Database(url.render_as_string(hide_password=False))
    try:
        options = _socket_options(database)
    finally:
        database.dispose()
    assert (options["idle"], options["user_timeout_ms"]) == (120, 30000)
    assert options["interval"] == POSTGRES_CONNECTION_DEFAULTS["keepalives_interval"]
