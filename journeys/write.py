"""Writing events frames to InfluxDB, in batches, without losing any.

:func:`write_events` validates the frame, turns it into line protocol, and
posts it in batches bounded by rows and by bytes. What can happen to a row:

- it is **written**;
- it is **rejected** because a value cannot be stored (by validation, or by
  the server, for example a field type conflict with points already stored);
  the report names the row and the reason, and the other rows still land;
- its batch could not be delivered even after the retries (server down,
  overloaded, refusing the credentials): that batch and every later one are
  **spooled** to a line protocol file, whose path the error gives, so that
  ``journeys write FILE`` can send them again. Nothing is dropped silently.

Writing the same frame twice stores every event once: points are keyed by
their series and nanosecond time, and events that tie on both are told apart
by a sequence tag, numbered within the frame by :mod:`journeys.lineprotocol`
and against the points already stored by :mod:`journeys.ties`.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.client import _error_text
from journeys.errors import (
    CardinalityWarning,
    ServerError,
    SkippedRowsWarning,
    WriteError,
)
from journeys.lineprotocol import compose, field_sets, sequence_numbers, series_keys
from journeys.schema import LAYOUTS, Layout, get_layout
from journeys.spool import write_spool
from journeys.ties import renumber_lines, safe_sequence
from journeys.validate import _problems_frame, split_valid, validate

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = ["WriteReport", "estimate_series", "write_events", "write_lines"]

logger = logging.getLogger(__name__)

#: Above this many series, a write warns even in the default layout.
SERIES_WARNING_THRESHOLD = 100_000

_DROPPED = re.compile(r"dropped=(\d+)")


@dataclass
class WriteReport:
    """What a write did.

    Attributes
    ----------
    events : int
        Rows given.
    written : int
        Rows the server stored.
    rejected : pandas.DataFrame
        One row per refused value: ``row`` (position in the given frame),
        ``column``, ``value``, ``reason``.
    spooled : int
        Rows kept in :attr:`spool` because they could not be delivered.
    spool : pathlib.Path or None
        The line protocol file holding them.
    batches, bytes : int
        Requests sent and the size of their bodies.
    seconds : float
        Time the write took.
    series : int
        Distinct series the events belong to.
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
    seconds: float = 0.0
    series: int = 0
    unwritten: list[int] = field(default_factory=list)
    failure: ServerError | None = field(default=None, repr=False)

    def __str__(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0
        lines = [
            f"events read     {self.events:>10,}",
            f"written         {self.written:>10,}",
            f"rejected        {self.rejected['row'].nunique():>10,}",
            f"spooled         {self.spooled:>10,}",
            f"batches         {self.batches:>10,}",
            f"bytes           {self.bytes:>10,}",
            f"seconds         {self.seconds:>10.2f}  ({rate:,.0f} events/s)",
        ]
        if self.series:
            lines.insert(6, f"series          {self.series:>10,}")
        if self.spool is not None:
            lines.append(f"spool file      {self.spool}")
        for reason, count in self.rejected.groupby("reason").size().items():
            lines.append(f"rejected: {count:,} × {reason}")
        for problem in self.rejected.head(10).itertuples():
            where = f", column {problem.column}" if problem.column else ""
            value = f": {problem.value!r}" if problem.column else ""
            lines.append(f"  row {problem.row}{where}{value} {problem.reason}")
        if len(self.rejected) > 10:
            lines.append(f"  and {len(self.rejected) - 10:,} more")
        return "\n".join(lines)


def estimate_series(frame: pd.DataFrame, layout: str | Layout = "default") -> int:
    """Count the series that ``frame`` creates in ``layout``: its distinct tag sets.

    Parameters
    ----------
    frame : pandas.DataFrame
        A validated events frame.
    layout : str or Layout
        The layout it would be written in.
    """
    if not len(frame):
        return 0
    keys, fields = series_keys(frame, layout), field_sets(frame, layout)
    sequence = sequence_numbers(keys, frame.index.asi8, fields)
    return _count_series(keys, sequence)


def _count_series(keys: np.ndarray, sequence: np.ndarray) -> int:
    return len(pd.DataFrame({"key": keys, "seq": sequence}).drop_duplicates())


def write_events(
    client: InfluxDB,
    frame: pd.DataFrame,
    *,
    layout: str | Layout = "default",
    on_invalid: str = "raise",
    epoch_unit: str = "ns",
    extra_columns: str = "error",
    batch_size: int = 5_000,
    batch_bytes: int = 5_000_000,
    progress: bool | None = None,
    check_stored: bool = True,
) -> WriteReport:
    """Write an events frame; return what happened.

    Parameters
    ----------
    client : InfluxDB
        The connection.
    frame : pandas.DataFrame
        Events, in any form :func:`journeys.validate` accepts.
    layout : {"default", "published"} or Layout
        Which columns become tags; see :mod:`journeys.schema`.
    on_invalid : {"raise", "skip"}
        ``"raise"``: refuse the whole frame when a value cannot be stored, and
        raise when the server rejects rows. ``"skip"``: write every valid row,
        and list the others in the report's ``rejected`` frame.
    epoch_unit : {"ns", "us", "ms", "s"}
        The unit of numeric times.
    extra_columns : {"error", "drop"}
        What to do with columns outside the schema.
    batch_size, batch_bytes : int
        The most rows and bytes in one request.
    progress : bool, optional
        Show a progress bar; by default only on an interactive terminal.
    check_stored : bool
        Before writing, read the points already stored at the frame's times,
        so that an event tied with a stored one (same tags, same nanosecond)
        is numbered apart instead of overwriting it, and an event stored
        before is recognised and replaced by itself. Also refuses to mix
        layouts in one database. Turn it off only for a database that is
        written by this frame alone.

    Returns
    -------
    WriteReport

    Raises
    ------
    ValidationError
        With ``on_invalid="raise"``, before anything is sent.
    WriteError
        When rows were not stored: refused by the server (with
        ``on_invalid="raise"``), or undeliverable, in which case they were
        spooled and the error says where.
    """
    if batch_size < 1 or batch_bytes < 1:
        raise ValueError("batch_size and batch_bytes must be at least 1")
    if on_invalid not in ("raise", "skip"):
        raise ValueError(f"on_invalid must be 'raise' or 'skip', not {on_invalid!r}")
    layout = get_layout(layout)
    started = time.perf_counter()

    if on_invalid == "raise":
        valid = validate(frame, layout=layout, epoch_unit=epoch_unit, extra_columns=extra_columns)
        problems = _problems_frame()
        positions = np.arange(len(valid))
    else:
        valid, problems = split_valid(
            frame, layout=layout, epoch_unit=epoch_unit, extra_columns=extra_columns
        )
        positions = np.flatnonzero(~np.isin(np.arange(len(frame)), problems["row"]))
        if len(problems):
            warnings.warn(
                f"{problems['row'].nunique():,} of {len(frame):,} rows cannot be stored and "
                "are left out; the report's `rejected` frame lists them",
                SkippedRowsWarning,
                stacklevel=3,
            )

    keys, fields, times = series_keys(valid, layout), field_sets(valid, layout), valid.index.asi8
    sequence = sequence_numbers(keys, times, fields)
    series = _count_series(keys, sequence)
    _warn_cardinality(valid, layout, series)
    if check_stored and len(valid):
        sequence = safe_sequence(client, layout, keys, times, fields, sequence)

    report = _send(
        client,
        compose(keys, sequence, fields, times),
        positions,
        layout=layout.name,
        batch_size=batch_size,
        batch_bytes=batch_bytes,
        progress=progress,
    )
    report.events = len(frame)
    report.series = series
    report.rejected = pd.concat([problems, report.rejected], ignore_index=True)
    report.seconds = time.perf_counter() - started
    logger.info("wrote %d of %d events in %.2f s", report.written, report.events, report.seconds)

    _raise_for_losses(report, on_invalid)
    return report


def write_lines(
    client: InfluxDB,
    lines: Iterable[str],
    *,
    layout: str | Layout | None = None,
    batch_size: int = 5_000,
    batch_bytes: int = 5_000_000,
    progress: bool | None = None,
) -> WriteReport:
    """Send lines of line protocol (nanosecond timestamps).

    This replays a spool file. Empty lines and comment lines (``#``) are left
    out. Errors are reported as by :func:`write_events`, rows counted among the
    lines sent.

    Parameters
    ----------
    layout : str or Layout, optional
        The layout the lines were made in, as a spool file's first line says.
        When given, tied events are numbered again against the points stored
        meanwhile, as :func:`write_events` does, so that replaying never
        overwrites a stored event; without it the lines are sent as they are.
    """
    started = time.perf_counter()
    kept = [line for line in lines if line.strip() and not line.startswith("#")]
    if layout is not None and kept:
        kept = renumber_lines(client, get_layout(layout), kept)
    report = _send(
        client,
        kept,
        np.arange(len(kept)),
        layout=None if layout is None else get_layout(layout).name,
        batch_size=batch_size,
        batch_bytes=batch_bytes,
        progress=progress,
    )
    report.events = len(kept)
    report.seconds = time.perf_counter() - started
    _raise_for_losses(report, "raise")
    return report


def _warn_cardinality(frame: pd.DataFrame, layout: Layout, series: int) -> None:
    id_tags = [t for t in ("user_id", "content_id") if t in layout.tags]
    if not id_tags and series <= SERIES_WARNING_THRESHOLD:
        return

    default = estimate_series(frame, LAYOUTS["default"])
    tags = ", ".join(id_tags) or ", ".join(layout.tags)
    warnings.warn(
        f"the {layout.name!r} layout stores {tags} as tags: these {len(frame):,} events "
        f"create about {series:,} series ({series / max(len(frame), 1):.0%} of the events), "
        f"against {default:,} in the default layout. Each series costs the server memory "
        "and slows writes and queries; use layout='default' (--layout default) unless you "
        "need those tags",
        CardinalityWarning,
        stacklevel=4,
    )


def _batches(lines: list[str], batch_size: int, batch_bytes: int) -> list[tuple[int, int]]:
    """Split ``lines`` into (start, stop) ranges bounded by rows and bytes."""
    sizes = np.fromiter((len(line) + 1 for line in lines), dtype=np.int64, count=len(lines))
    bounds, start, total = [], 0, 0
    # Limitation: line length counts characters, so a batch of mostly non-ASCII
    # text can exceed batch_bytes by up to four times; encoding first would fix it.
    for i, size in enumerate(sizes):
        if i > start and (i - start >= batch_size or total + size > batch_bytes):
            bounds.append((start, i))
            start, total = i, 0
        total += size
    if start < len(lines):
        bounds.append((start, len(lines)))
    return bounds


class _UndeliverableError(Exception):
    """A request got no usable answer even after the retries."""

    def __init__(self, failure: ServerError):
        self.failure = failure


def _send(
    client: InfluxDB,
    lines: list[str],
    positions: np.ndarray,
    *,
    layout: str | None,
    batch_size: int,
    batch_bytes: int,
    progress: bool | None,
) -> WriteReport:
    report = WriteReport()
    refused: list[tuple[int, str]] = []
    bar = _progress_bar(len(lines), progress, unit="events", desc="writing", leave=False)

    batches = _batches(lines, batch_size, batch_bytes)
    for number, (start, stop) in enumerate(batches):
        try:
            lost = _deliver(client, lines, start, stop, report)
        except _UndeliverableError as exc:
            remaining = batches[number:]
            report.spool = write_spool(client.database, lines, remaining, layout)
            report.spooled = sum(b - a for a, b in remaining)
            report.unwritten = [int(positions[i]) for a, b in remaining for i in range(a, b)]
            report.failure = exc.failure
            break

        refused.extend(lost)
        report.written += stop - start - len(lost)
        logger.info(
            "batch %d of %d: %d lines written, %d refused",
            number + 1,
            len(batches),
            stop - start - len(lost),
            len(lost),
        )
        bar.update(stop - start)

    bar.close()
    if refused:
        report.rejected = pd.DataFrame(
            {
                "row": [int(positions[i]) for i, _ in refused],
                "column": None,
                "value": None,
                "reason": [f"refused by the server: {reason}" for _, reason in refused],
            }
        )
    return report


def _deliver(
    client: InfluxDB, lines: list[str], start: int, stop: int, report: WriteReport
) -> list[tuple[int, str]]:
    """Send ``lines[start:stop]``; return the (line, reason) pairs the server refused.

    When the server refuses part of a request (a type conflict, a line it cannot
    parse, a body too large) it does not say reliably which lines, so the
    request is split in halves and each half sent again, down to single lines
    where needed. Sending a line twice is harmless: the second write of a point
    replaces it with itself.
    """
    body = ("\n".join(lines[start:stop]) + "\n").encode("utf-8")
    logger.debug("posting lines %d to %d: %.500s", start, stop, body.decode("utf-8"))
    answer, failure = _post(client, body)
    if _database_missing(answer):
        client.create_database()
        answer, failure = _post(client, body)
    report.batches += 1
    report.bytes += len(body)

    if failure is not None:
        raise _UndeliverableError(failure)
    if answer.status_code == 204:
        return []
    if answer.status_code not in (400, 413):
        raise _UndeliverableError(
            ServerError(
                "the write was refused", status=answer.status_code, detail=_error_text(answer)
            )
        )

    reason = (
        _error_text(answer)
        if answer.status_code == 400
        else "the line is larger than the server accepts"
    )
    dropped = _DROPPED.search(reason)
    if stop - start == 1 or (dropped and int(dropped.group(1)) == stop - start):
        return [(i, reason) for i in range(start, stop)]
    middle = (start + stop) // 2
    return _deliver(client, lines, start, middle, report) + _deliver(
        client, lines, middle, stop, report
    )


def _progress_bar(total: int, progress: bool | None, **options):
    """A tqdm bar, notebook-style where possible; by default only on a terminal."""
    # Imported here so that merely importing journeys never makes tqdm warn that a
    # notebook lacks ipywidgets; the bar then falls back to text.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    return tqdm(total=total, disable=None if progress is None else not progress, **options)


def _post(client: InfluxDB, body: bytes):
    """Post one body to /write; return (answer, None), or (None, error) without one."""
    try:
        answer = client.request(
            "POST",
            "/write",
            params={"db": client.database, "precision": "ns"},
            data=body,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    except ServerError as exc:
        return None, exc
    return answer, None


def _database_missing(answer) -> bool:
    return answer is not None and answer.status_code == 404 and "database not found" in answer.text


def _raise_for_losses(report: WriteReport, on_invalid: str) -> None:
    failure = report.failure
    if failure is not None:
        kept = (
            ""
            if report.spool
            else (
                " They could not be kept on disk either (the log says why): write them again "
                "once InfluxDB answers; error.rows names them."
            )
        )
        error = WriteError(
            f"{report.spooled:,} of {report.events:,} events could not be delivered "
            f"({failure}); {report.written:,} were written.{kept}",
            status=failure.status,
            detail=failure.message,
            rows=report.unwritten,
            spool=report.spool,
        )
        error.report = report
        raise error
    refused = report.rejected[report.rejected["reason"].astype(str).str.startswith("refused")]
    if len(refused) and on_invalid == "raise":
        error = WriteError(
            f"the server refused {len(refused):,} of {report.events:,} events "
            f"(rows {_rows_text(refused['row'])}): {refused['reason'].iloc[0]}; "
            f"the other {report.written:,} were written.",
            status=400,
            detail=str(refused["reason"].iloc[0]),
            rows=refused["row"].tolist(),
        )
        error.report = report
        raise error


def _rows_text(rows: pd.Series) -> str:
    rows = sorted(set(int(r) for r in rows))
    shown = ", ".join(str(r) for r in rows[:10])
    return shown + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
