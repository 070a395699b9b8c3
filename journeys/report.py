"""What a write did, row by row, as one report that adds up over chunks and batches.

A :class:`WriteReport` counts every row given to a write exactly once, as
written, rejected (with the reason) or spooled, and rows are named by their
position in the whole input, counted from 0, however many chunks and batches
it was cut into. ``str(report)`` is the summary ``journeys write`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from journeys.errors import ServerError
from journeys.validate import _problems_frame

__all__ = ["WriteReport"]

#: Rows of the rejected frame the summary lists one by one.
SHOWN_ROWS = 10


@dataclass
class WriteReport:
    """What a write did.

    Attributes
    ----------
    events : int
        Rows read.
    written : int
        Rows the server stored.
    rejected : pandas.DataFrame
        One row per refused value: ``row`` (position in the whole input),
        ``column`` (None when the server refused the whole line), ``value``,
        ``reason``.
    spooled : int
        Rows that could not be delivered, kept in :attr:`spool` (unless the
        write was asked not to spool, ``spool=False``).
    spool : pathlib.Path or None
        The line protocol file holding them.
    batches, bytes : int
        Requests sent (retries and the halves of a split batch included) and
        the size of their bodies as sent (compressed when gzip is on).
    retried : int
        Requests that were attempts again after a failure.
    seconds : float
        Time the write took.
    series : int
        Distinct series the events belong to (summed over chunks).
    unwritten : list of int
        Positions of the rows that were spooled instead of written.
    failure : ServerError or None
        Why delivery stopped, when it did.
    """

    events: int = 0
    written: int = 0
    rejected: pd.DataFrame = field(default_factory=_problems_frame)
    spooled: int = 0
    spool: Path | None = None
    batches: int = 0
    bytes: int = 0
    retried: int = 0
    seconds: float = 0.0
    series: int = 0
    unwritten: list[int] = field(default_factory=list)
    failure: ServerError | None = field(default=None, repr=False)

    def add_rejected(self, problems: pd.DataFrame) -> None:
        """Append rows of the rejected frame."""
        if len(problems):
            parts = [self.rejected, problems] if len(self.rejected) else [problems]
            self.rejected = pd.concat(parts, ignore_index=True)

    def __str__(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0
        lines = [
            f"events read     {self.events:>10,}",
            f"written         {self.written:>10,}",
            f"rejected        {self.rejected['row'].nunique():>10,}",
            f"retried         {self.retried:>10,}  requests",
            f"spooled         {self.spooled:>10,}",
            f"batches         {self.batches:>10,}  requests",
            f"bytes           {self.bytes:>10,}",
        ]
        if self.series:
            lines.append(f"series          {self.series:>10,}")
        lines.append(f"seconds         {self.seconds:>10.2f}  ({rate:,.0f} events/s)")
        if self.spool is not None:
            lines.append(f"spool file      {self.spool}")
        if self.failure is not None:
            lines.append(f"failure         {self.failure}")

        rows = self.rejected.drop_duplicates("row")
        for reason, count in rows.groupby("reason", sort=False).size().items():
            lines.append(f"rejected: {count:,} × {reason}")
        for problem in self.rejected.head(SHOWN_ROWS).itertuples():
            where = f", column {problem.column}" if problem.column else ""
            value = f": {problem.value!r}" if problem.column else ""
            lines.append(f"  row {problem.row}{where}{value} {problem.reason}")
        if len(self.rejected) > SHOWN_ROWS:
            lines.append(f"  and {len(self.rejected) - SHOWN_ROWS:,} more")
        return "\n".join(lines)
