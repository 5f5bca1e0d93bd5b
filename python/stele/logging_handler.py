"""A handler that feeds Python's standard ``logging`` into the audit log."""

from __future__ import annotations

import logging
from typing import Any

from .workflow import error_details


class LoggingHandler(logging.Handler):
    """Each record becomes a ``log.<level>`` event (``log.warning``...) with
    the logger name, message, module and line, and the exception if any.  The
    logger's name is the event's ``source``.  Records the log refuses (a full
    queue, a closed log) go to ``handleError`` like any handler's failures."""

    def __init__(self, log: Any, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = {
                "logger": record.name,
                "message": record.getMessage(),
                "level": record.levelname,
                "module": record.module,
                "line": record.lineno,
            }
            if record.exc_info and record.exc_info[1] is not None:
                data["error"] = error_details(record.exc_info[1])
            self._log.log_event("log." + record.levelname.lower(), data, source=record.name or "root")
        except Exception:  # noqa: BLE001 - a handler must not raise into the caller
            self.handleError(record)
