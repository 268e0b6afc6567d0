"""Prometheus metrics and the access log of the HTTP layer (a registry per app instance)."""

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from interop.limits import ASGIApp, Message, Receive, Scope, Send

# prometheus_client's own switch, read when a process imports it: the directory where the
# processes of one server keep their counts (memory-mapped files), so that any process can
# report them all.
SHARED_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def counted_across_processes(processes: int) -> Iterator[None]:
    """While `processes` (more than one) serve the same port, each process's counts go to a
    fresh shared directory, removed afterwards; a scrape, answered by whichever process the
    connection reached, then reports the server's totals rather than one process's."""
    if processes <= 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="interop-metrics-")
    os.environ[SHARED_METRICS_DIR] = directory
    try:
        yield
    finally:
        del os.environ[SHARED_METRICS_DIR]
        shutil.rmtree(directory, ignore_errors=True)


class HttpMetrics:
    def __init__(self) -> None:
        # The metrics live in `registry`; a scrape reads `_scraped`, which in a server of
        # several processes sums every process's files instead.
        self.registry = CollectorRegistry()
        self._scraped = self.registry
        if SHARED_METRICS_DIR in os.environ:
            self._scraped = CollectorRegistry()
            MultiProcessCollector(self._scraped)  # type: ignore[no-untyped-call]
        self.requests = Counter(
            "interop_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "interop_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )

    def add_collector(self, collector: Collector) -> None:
        """A collector of its own (one that reads the database, say) for every scrape."""
        self._scraped.register(collector)

    def render(self) -> bytes:
        return generate_latest(self._scraped)


log = logging.getLogger("interop.access")


class RequestObserver:
    """Per request: metrics by route *template* (raw paths hold ids) and one access-log line
    with method, path, status and time — never the query string or headers, which can
    carry credentials."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, api_prefix: str) -> None:
        self.app = app
        self.metrics = metrics
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = time.perf_counter() - started
            route = self._template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            # The path as sent, still percent-encoded: decoded, a %0A in it wrote a line of
            # the caller's own making into the log (and %1B terminal escapes).
            path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            log.info("%s %s %s %.1fms", method, path, status, elapsed * 1000)

    def _template(self, scope: Scope) -> str:
        # The router records the matched route in the scope; its path is the template,
        # relative to the prefix its router was included under.
        template = getattr(scope.get("route"), "path", None)
        if template is None:
            return "unmatched"
        if scope["path"].startswith(self.api_prefix) and not template.startswith(self.api_prefix):
            return f"{self.api_prefix}{template}"
        return str(template)
