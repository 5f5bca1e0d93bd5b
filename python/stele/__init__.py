"""stele: a tamper-evident, high-throughput audit log (the C++ engine, for Python).

    import stele
    log = stele.open("./audit", profile="high-throughput")
    log.log_event("lead.created", {"email": "a@example.com"}, lead_id="L1")
    for e in log.query_events("lead.*", lead_id="L1"):
        print(e["seq"], e["type"], e["data"])
    log.shutdown()

Drop-in for the old audit logger: ``get_audit_logger()`` returns a shared
log whose ``log_event``, ``query_events``, ``flush``, ``shutdown``,
``get_rate_limit_stats`` and ``get_security_events`` keep their names.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import weakref
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Union

from ._errors import Busy, Closed, Error, RateLimited, StoreError, ValidationError
from ._native import NativeLog as _NativeLog
from .logging_handler import LoggingHandler
from .workflow import Workflow, error_details

__all__ = [
    "Log", "open", "get_audit_logger", "Workflow", "LoggingHandler", "Error", "ValidationError", "RateLimited",
    "Busy", "Closed", "StoreError", "PROFILES",
]

PROFILES = ("high-throughput", "low-latency", "storage-optimized", "lookup-optimized")

TimeArg = Union[datetime, int, str, None]


class Log(_NativeLog):
    """One open audit log: the single writer of its directory.

    Thread-safe: share one Log between threads.  Every call that may block
    (a full queue, ``flush``, ``shutdown``, queries) releases the GIL.
    A context manager: leaving the ``with`` block shuts the log down."""

    def __init__(self, path: str, *, sync: str = "batch", profile: Optional[str] = None, **options: Any) -> None:
        super().__init__(os.fspath(path), sync, profile, options)
        # A process that exits without shutdown() loses nothing: every open
        # log is drained, synced and checkpointed at exit.
        atexit.register(_shutdown_at_exit, weakref.ref(self))

    def __enter__(self) -> "Log":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.shutdown()
        return False

    def __repr__(self) -> str:
        return f"<stele.Log {self.path!r}{' closed' if self.closed else ''}>"

    def workflow(self, name: str, *, lead_id: Optional[str] = None, workflow_id: Optional[str] = None,
                 actor: Optional[str] = None, **data: Any) -> Workflow:
        """Audit a workflow: see :class:`stele.Workflow`."""
        return Workflow(self, name, lead_id=lead_id, workflow_id=workflow_id, actor=actor, **data)

    def log_error(self, exc: BaseException, **context: Any) -> int:
        """Record an ``error`` event with the exception's type, message and
        traceback; ``actor``, ``source``, ``lead_id`` and ``workflow_id`` in
        ``context`` become the event's fields, the rest goes in ``data``.
        Returns the event's seq."""
        fields = {k: context.pop(k) for k in ("actor", "source", "lead_id", "workflow_id") if k in context}
        data = error_details(exc)
        if context:
            data["context"] = context
        return self.log_event("error", data, **fields)

    def prove_inclusion(self, seq: int) -> Dict[str, Any]:
        """An RFC 9162 inclusion proof of event ``seq`` against a fresh signed checkpoint."""
        return json.loads(self._prove_inclusion_json(seq))

    def get_security_events(self, since: TimeArg = None, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The log's own ``security.*`` events (validation failures, rate
        limits, retention, ...), aggregated per interval, oldest first."""
        return list(self.query_events("security.*", since=since, limit=limit))


def _shutdown_at_exit(ref: "weakref.ref[Log]") -> None:
    log = ref()
    if log is not None:
        log.shutdown()


def open(path: Union[str, "os.PathLike[str]"], *, sync: str = "batch", profile: Optional[str] = None,
         **options: Any) -> Log:  # noqa: A001 - the natural name, as in io.open
    """Open (creating if needed) the log in directory ``path``.

    ``sync``: "batch" (default; durable at ``flush()``), "always" (each
    ``log_event`` returns once durable) or "none".  ``profile``: one of
    ``PROFILES``.  Other options: queue_bytes, enqueue_deadline (s),
    max_event_bytes, max_depth, max_object_keys, max_string_bytes,
    segment_max_bytes, segment_max_index_bytes, lead_run_min_events, frame_target_bytes, zstd_level, batch_commit_delay (s),
    retention_max_age (s), retention_max_bytes, source_rate, source_burst,
    checkpoint_every_events, checkpoint_interval (s), security_interval (s),
    query_cache_bytes, frame_cache_bytes, signing_key_path."""
    return Log(os.fspath(path), sync=sync, profile=profile, **options)


_singleton: Optional[Log] = None
_singleton_lock = threading.Lock()


def get_audit_logger(path: Optional[str] = None, **options: Any) -> Log:
    """The process-wide shared log (the old logger's entry point).

    Its directory is ``path``, else ``$STELE_DIR``, else ``./stele-data``.
    The first call opens it (and, like every Log, it is shut down at exit, so
    a process that exits without calling ``shutdown`` loses nothing); later calls return
    the same log (asking for another directory is an error)."""
    global _singleton
    with _singleton_lock:
        wanted = os.fspath(path) if path is not None else os.environ.get("STELE_DIR", "./stele-data")
        if _singleton is not None and not _singleton.closed:
            if path is not None and os.path.abspath(wanted) != os.path.abspath(_singleton.path):
                raise ValueError(f"the audit logger is already open at {_singleton.path!r}, not {wanted!r}")
            return _singleton
        _singleton = Log(wanted, **options)  # shut down at exit like every Log
        return _singleton
