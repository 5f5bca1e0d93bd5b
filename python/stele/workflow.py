"""Workflow auditing: context managers that record a workflow and its steps."""

from __future__ import annotations

import time
import traceback
import uuid
from types import TracebackType
from typing import Any, Optional, Type


def error_details(exc: BaseException) -> dict:
    """The type, message and a short traceback summary of an exception."""
    frames = traceback.extract_tb(exc.__traceback__)[-8:]
    return {
        "error_type": type(exc).__name__,
        "message": str(exc),
        "traceback": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames],
    }


class _Span:
    """One started/completed/failed pair of events with its duration."""

    def __init__(self, log: Any, prefix: str, data: dict, lead_id: Optional[str], workflow_id: str,
                 actor: Optional[str]) -> None:
        self._log = log
        self._prefix = prefix
        self._data = data
        self.lead_id = lead_id
        self.workflow_id = workflow_id
        self.actor = actor
        self._start = 0.0

    def _emit(self, suffix: str, extra: Optional[dict] = None) -> None:
        data = dict(self._data)
        if extra:
            data.update(extra)
        self._log.log_event(f"{self._prefix}.{suffix}", data, lead_id=self.lead_id, workflow_id=self.workflow_id,
                            actor=self.actor)

    def __enter__(self) -> "_Span":
        self._start = time.perf_counter()
        self._emit("started")
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool:
        duration_ms = round((time.perf_counter() - self._start) * 1000, 3)
        if exc is None:
            self._emit("completed", {"duration_ms": duration_ms})
        else:
            self._emit("failed", {"duration_ms": duration_ms, "error": error_details(exc)})
        return False  # the exception, if any, propagates


class Workflow(_Span):
    """``with log.workflow("lead-intake", lead_id=...) as wf:`` records
    ``workflow.started``, then ``workflow.completed`` or ``workflow.failed``
    (with the error), each with ``duration_ms``; ``wf.step(name)`` does the
    same for a step.  A ``workflow_id`` is generated when none is given."""

    def __init__(self, log: Any, name: str, lead_id: Optional[str] = None, workflow_id: Optional[str] = None,
                 actor: Optional[str] = None, **data: Any) -> None:
        workflow_id = workflow_id or f"wf-{uuid.uuid4().hex[:16]}"
        super().__init__(log, "workflow", {"workflow": name, **data}, lead_id, workflow_id, actor)
        self.name = name

    def step(self, name: str, **data: Any) -> _Span:
        """A step of this workflow: ``step.started`` / ``step.completed`` / ``step.failed``."""
        return _Span(self._log, "step", {"workflow": self.name, "step": name, **data}, self.lead_id, self.workflow_id,
                     self.actor)
