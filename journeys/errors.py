"""Exceptions and warnings raised by journeys.

Every error the toolkit raises on purpose derives from :class:`JourneysError`,
so a notebook can catch them all with one ``except`` clause::

    JourneysError
    ├── ConfigError          a simulation setting is missing, unknown or out of range
    ├── SchemaError          a frame does not fit the events schema
    │   └── ValidationError  some rows hold values that cannot be stored
    ├── LineProtocolError    a value that line protocol cannot carry
    ├── ServerError          InfluxDB answered with an error
    │   └── WriteError       a write failed; says which rows, and where they were kept
    ├── LocalServerError     the throwaway influxd could not be started
    └── StoreError           the collector's event store cannot keep events
        └── StoreFull        its bounds are reached; try again after retry_after s

Advice that does not stop the work (a layout that creates many series, epochs
that look like the wrong unit) is given as a :class:`JourneysWarning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "CardinalityWarning",
    "ConfigError",
    "JourneysError",
    "JourneysWarning",
    "LineProtocolError",
    "LocalServerError",
    "SchemaError",
    "ServerError",
    "SkippedRowsWarning",
    "StoreError",
    "StoreFull",
    "StoredTypeWarning",
    "TimeUnitWarning",
    "ValidationError",
    "WriteError",
]


class JourneysError(Exception):
    """Base class of every error journeys raises on purpose."""


class ConfigError(JourneysError, ValueError):
    """A simulation setting is unknown, missing or out of range; names the field or row."""


class SchemaError(JourneysError, ValueError):
    """A frame does not fit the events schema (a column is missing or unknown)."""


class ValidationError(SchemaError):
    """Some rows hold values that cannot be stored without changing them.

    Parameters
    ----------
    problems : pandas.DataFrame
        One row per bad value, with the columns ``row`` (the position of the
        row in the frame, counted from 0), ``column``, ``value`` and ``reason``.
    """

    def __init__(self, problems):
        self.problems = problems
        self.rows = sorted(set(int(r) for r in problems["row"]))
        shown = [
            f"row {p.row}, column {p.column}: {p.value!r} {p.reason}"
            for p in problems.head(5).itertuples()
        ]
        more = len(problems) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        super().__init__(
            f"{len(self.rows)} row(s) cannot be stored: {text}. Fix these values, or pass "
            "on_invalid='skip' (--on-invalid skip) to store the valid rows and get the "
            "rejected ones back."
        )


class LineProtocolError(JourneysError, ValueError):
    """A value that InfluxDB line protocol cannot carry without changing it."""


class ServerError(JourneysError):
    """InfluxDB answered a request with an error.

    Attributes
    ----------
    status : int or None
        The HTTP status, or None when no answer came at all.
    message : str
        What the server said (or why no answer came).
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = ""):
        self.status = status
        self.message = detail or message
        prefix = f"InfluxDB answered {status}: " if status is not None else ""
        super().__init__(prefix + message)


class WriteError(ServerError):
    """A write did not land completely.

    Attributes
    ----------
    rows : list of int
        Positions (from 0) of the rows of the written frame concerned.
    spool : pathlib.Path or None
        Where the lines that could not be written were kept, as line protocol,
        so that ``journeys write FILE`` can send them again later.
    report : journeys.WriteReport or None
        What the write did before it stopped, when the error comes from one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        rows: Sequence[int] = (),
        spool: Path | None = None,
    ):
        self.rows = list(rows)
        self.spool = spool
        self.report = None
        if spool is not None:
            message += f" The unwritten lines were kept in {spool}; send them again with "
            message += f"`journeys write {spool}`."
        super().__init__(message, status=status, detail=detail)


class LocalServerError(JourneysError, RuntimeError):
    """The throwaway influxd could not be found or started."""


class StoreError(JourneysError):
    """The collector's event store cannot keep events (a disk that fails, a closed store).

    Attributes
    ----------
    retry_after : int
        Seconds after which trying again may succeed, for a ``Retry-After`` header.
    """

    def __init__(self, message: str, *, retry_after: int = 30):
        self.retry_after = retry_after
        super().__init__(message)


class StoreFull(StoreError):  # noqa: N818 (a state, like queue.Full)
    """The event store holds as many events or bytes as it may; try again later.

    ``retry_after`` estimates when enough will have been written to InfluxDB.
    """


class JourneysWarning(UserWarning):
    """Base class of the advice journeys gives without stopping."""


class CardinalityWarning(JourneysWarning):
    """A write creates many series, which slows InfluxDB 1.x and 2.x down."""


class SkippedRowsWarning(JourneysWarning):
    """Rows that cannot be stored were left out of a write, as asked."""


class StoredTypeWarning(JourneysWarning):
    """InfluxDB holds values of another type than the schema's; they are read as NA."""


class TimeUnitWarning(JourneysWarning):
    """Numeric times look as if they were given in another unit than the one used."""
