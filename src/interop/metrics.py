"""Prometheus metrics and the access log of the HTTP layer (a registry per app instance)."""

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from interop.limits import ASGIApp, Message, Receive, Scope, Send


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def render(self) -> bytes:
        return generate_latest(self.registry)


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
            log.info("%s %s %s %.1fms", method, scope["path"], status, elapsed * 1000)

    def _template(self, scope: Scope) -> str:
        # The router records the matched route in the scope; its path is the template,
        # relative to the prefix its router was included under.
        template = getattr(scope.get("route"), "path", None)
        if template is None:
            return "unmatched"
        if scope["path"].startswith(self.api_prefix) and not template.startswith(self.api_prefix):
            return f"{self.api_prefix}{template}"
        return str(template)
