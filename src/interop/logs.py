"""Logging set-up: console lines for people, JSON lines for production (INTEROP_LOG_JSON)."""

import logging
from collections.abc import Sequence
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

from interop.config import Settings


class LineFormatter(logging.Formatter):
    """Renders a standard-library record through structlog's processors.

    structlog's own ProcessorFormatter copies each record first, so that other handlers
    see it untouched, and runs a longer chain; we have one handler, and the access log
    pays for every step on every request (about a third of its cost was that copy)."""

    def __init__(self, processors: Sequence[Processor]) -> None:
        super().__init__()
        self.processors = processors

    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        event: EventDict = {"event": record.getMessage(), "level": level, "logger": record.name}
        if record.exc_info:
            event["exc_info"] = record.exc_info
        if record.stack_info:
            event["stack_info"] = record.stack_info
        # Each processor returns the next one's event; the last, the renderer, the line.
        rendered: Any = event
        for processor in self.processors:
            rendered = processor(None, level, rendered)
        return str(rendered)


def configure_logging(settings: Settings) -> None:
    # The console renderer prints a traceback itself; JSON needs it as text first, or the
    # line would hold only the repr of a traceback object.
    renderers: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if settings.log_json
        else [
            # Python's own traceback text. With rich installed (the CLI uses it) the default
            # formatter prints every frame's local variables: a request's headers, a client's
            # secret. Rendering them also held the event loop for seconds per error.
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        LineFormatter([structlog.processors.TimeStamper(fmt="iso", utc=True), *renderers])
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # No line shows the calling function, thread or process, which the logging module
    # would otherwise look up for every record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Alembic narrates every migration context it opens (readiness checks open one).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx writes every request's URL at INFO ("HTTP Request: GET https://user:password@…")
    # and httpcore its traffic at DEBUG: a connector's location or a JWKS URL may carry
    # credentials in its user info or query, and secrets are never logged.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
