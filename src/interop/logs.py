"""Logging set-up: console lines for people, JSON lines for production (INTEROP_LOG_JSON)."""

import logging

import structlog

from interop.config import Settings


def configure_logging(settings: Settings) -> None:
    # The console renderer prints a traceback itself; JSON needs it as text first, or the
    # line would hold only the repr of a traceback object.
    renderers: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if settings.log_json
        else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *renderers,
            ],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    # Alembic narrates every migration context it opens (readiness checks open one).
    logging.getLogger("alembic").setLevel(logging.WARNING)
