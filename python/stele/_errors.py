"""The exceptions stele raises (the native module raises these same classes)."""


class Error(Exception):
    """Base of every stele error."""


class ValidationError(Error, ValueError):
    """An event or argument was refused; ``field`` names what, ``reason`` why."""

    def __init__(self, message: str, field: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class RateLimited(Error):
    """The event's ``source`` is over its configured rate (``source_rate``)."""


class Busy(Error):
    """The write queue stayed full past its deadline; retry later."""


class Closed(Error):
    """The log was shut down."""


class StoreError(Error):
    """An I/O error, corruption, or a log that turned read-only."""
