"""A real HTTP server on loopback, in a thread, for the tests that fetch from one (bundle
sources, JWKS documents)."""

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def serving_http(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` (a request handler class, or a factory of one) until the block ends;
    yields the base URL. Each request gets a daemon thread, so a handler still dripping an
    answer does not hold the test's end."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # type: ignore[arg-type]
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
