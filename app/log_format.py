"""Log lines: plain text for people (the default), one JSON object per line for machines.

Every line written while a request runs carries its request id, its user id
(once a token was verified), and its route or GraphQL operation; the access
line written when the request ends adds method, status and duration.

What never reaches a line: tokens, secrets and message text. Our own code
logs none of them (the access line names the route template, never the raw
path or query string, which may hold a search text); third-party libraries do
at DEBUG (PyMongo logs whole commands, websockets logs frames, uvicorn logs
paths with their query string), so at ``LOG_LEVEL=debug`` only the gateway's
own loggers go down to DEBUG and other libraries' DEBUG records are dropped.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from app import request_context
from app.jsonutil import dumps

ACCESS_LOGGER = "convos_gateway.access"
# The gateway's own loggers: the only ones allowed below INFO.
OWN_LOGGERS = ("convos_gateway", "app", "resolvers", "storage")
# Attributes every LogRecord has; anything else came in through `extra=`.
# (uvicorn adds `color_message`, the same text with terminal colours.)
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestFields(logging.Filter):
    """Adds the current request's fields to a record; drops other libraries' DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and not record.name.startswith(OWN_LOGGERS):
            return False
        info = request_context.current()
        if info is not None:
            record.request_id = info.request_id
            if info.user_id is not None:
                record.user_id = info.user_id
            if not hasattr(record, "route") and info.route is not None:
                record.route = info.route
            if not hasattr(record, "operation") and info.operation is not None:
                record.operation = info.operation
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return dumps(line).decode()


class TextFormatter(logging.Formatter):
    """The plain format, with ``[request id]`` when a request is current."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{text} [{request_id}]" if request_id else text


def configure_logging(log_format: str, level: str) -> None:
    """Install one stderr handler on the root logger in ``log_format`` at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestFields())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    # Others' DEBUG stays off at the source (PyMongo would format every command).
    root.setLevel(max(numeric, logging.INFO))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(numeric)
    # One access line per request: in JSON (collectors want it) or when debugging.
    access = log_format == "json" or numeric <= logging.DEBUG
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO if access else logging.WARNING)
