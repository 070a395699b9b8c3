"""Writing events to InfluxDB in bounded memory, without losing any.

:func:`write_events` takes a frame, an iterator of frames, or a file read in
chunks (:func:`journeys.files.iter_events`), and for each piece of at most
``chunk_rows`` rows:

1. validates it (:func:`journeys.validate`), rows named by their position in
   the whole input;
2. fits it to the field types the server already holds
   (:mod:`journeys.fieldtypes`);
3. turns it into line protocol, numbering events that tie on series and
   nanosecond (:mod:`journeys.lineprotocol`), also against the points already
   stored (:mod:`journeys.ties`);
4. hands the lines to a :class:`journeys.delivery.Sender`, which posts them in
   batches from a few threads, retries what fails for a passing reason
   (:mod:`journeys.retry`) and spools what it cannot deliver
   (:mod:`journeys.spool`), while the next piece is prepared.

What can happen to a row, and the :class:`~journeys.report.WriteReport` says:

- it is **written**;
- it is **rejected** because a value cannot be stored (by validation, by the
  stored field types, or by the server); the report names the row and the
  reason, and the other rows still land;
- its batch could not be delivered even after the retries: that batch and
  every later one are **spooled** to one line protocol file, whose path the
  error gives, so that ``journeys write FILE`` sends them again. Nothing is
  dropped silently. A caller that keeps its rows itself until they are
  written (the collector's store) passes ``spool=False``: the error then
  names the undelivered rows (``error.rows``) and no file is made.

Ties across pieces: a frame is sorted by time (stably) and cut only between
two times, so tied events always share a piece and are numbered exactly as in
one go. Of a stream of chunks, the rows at the latest time of each chunk are
carried into the next one, which does the same for time-sorted input. A
piece whose time range overlaps an earlier piece of the same write (unsorted
input) waits until the earlier batches are stored, and is then numbered
against the stored points like any later write.

# Limitation: of unsorted input, two *identical* rows (same tags, time and
# fields) in different chunks are stored once, since the second is taken for
# the first written again; within one chunk they are stored twice. Keeping the
# keys of every line sent by the write would tell the two cases apart.

# Limitation: validating and serialising run in this process, beside the
# posting threads, on the cores influxd needs too; on a 2-core machine a write
# in the default layout reaches about 77 % of the rate of posting lines made
# beforehand (benchmarks/write.py). Preparing the pieces in a worker process
# would overlap that work with the server's.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.batches import SERVER_BODY_LIMIT, is_loopback
from journeys.delivery import Sender
from journeys.errors import (
    CardinalityWarning,
    ServerError,
    SkippedRowsWarning,
    ValidationError,
    WriteError,
)
from journeys.fieldtypes import coerce_to_stored, stored_field_types
from journeys.files import CHUNK_ROWS, iter_events
from journeys.lineprotocol import compose, field_sets, sequence_numbers, series_keys
from journeys.report import WriteReport
from journeys.retry import RetryPolicy
from journeys.schema import LAYOUTS, Layout, get_layout
from journeys.ties import check_layout, renumber_lines, safe_sequence, stored_span
from journeys.validate import split_valid

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = ["WriteReport", "estimate_series", "write_events", "write_lines"]

logger = logging.getLogger(__name__)

#: Above this many series (distinct tag sets) a write warns, whatever its layout.
#: InfluxDB 1.x keeps an in-memory entry of about a kilobyte per series, and
#: refuses new series beyond ``max-series-per-database`` (a million by default).
SERIES_WARNING_THRESHOLD = 100_000

#: Requests in flight at once by default: one being parsed by the server, one on
#: the wire, one being prepared.
CONCURRENCY = 3

#: The most requests in flight: the connection keeps four HTTP connections alive.
MOST_CONCURRENCY = 4

#: Rows of the first piece of a write; each next one is twice as large, up to
#: ``chunk_rows``: the server gets its first batches while the rest is prepared.
FIRST_PIECE_ROWS = 5_000

_ID_TAGS = ("user_id", "content_id")


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
    return len(pd.DataFrame({"key": keys, "seq": sequence}).drop_duplicates())


def write_events(
    client: InfluxDB,
    events: pd.DataFrame | Iterable[pd.DataFrame] | str | Path,
    *,
    layout: str | Layout = "default",
    on_invalid: str = "raise",
    epoch_unit: str = "ns",
    extra_columns: str = "error",
    batch_size: int = 5_000,
    batch_bytes: int = 5_000_000,
    chunk_rows: int = CHUNK_ROWS,
    concurrency: int = CONCURRENCY,
    gzip: bool | None = None,
    retry_for: float = 60.0,
    max_retries: int | None = None,
    series_warning: int = SERIES_WARNING_THRESHOLD,
    progress: bool | None = None,
    check_stored: bool = True,
    spool: bool = True,
    on_warning: Callable[[Warning], None] | None = None,
) -> WriteReport:
    """Write events; return what happened.

    Parameters
    ----------
    client : InfluxDB
        The connection.
    events : pandas.DataFrame, iterable of DataFrames, str or Path
        Events in any form :func:`journeys.validate` accepts: one frame, an
        iterator of frames (chunks), or the path of an events file, which is
        read in chunks (:func:`journeys.files.iter_events`). Only about
        ``chunk_rows`` rows are held as lines at once, whatever the input's size.
    layout : {"default", "published"} or Layout
        Which columns become tags; see :mod:`journeys.schema`.
    on_invalid : {"raise", "skip"}
        ``"raise"``: refuse a chunk with a value that cannot be stored, before
        it is sent, and raise when the server rejects rows. ``"skip"``: write
        every valid row, and list the others in the report's ``rejected``.
        Of a stream, the chunks before a refused one are written already.
    epoch_unit : {"ns", "us", "ms", "s"}
        The unit of numeric times.
    extra_columns : {"error", "drop"}
        What to do with columns outside the schema.
    batch_size, batch_bytes : int
        The most rows and bytes in one request; ``batch_bytes`` at most the
        server's default body limit (25 MB).
    chunk_rows : int
        Rows validated and serialised at a time.
    concurrency : int
        Requests in flight at once, 1 to 4: the connection keeps four alive.
    gzip : bool, optional
        Compress request bodies. By default on, except for a server on this
        machine, where compressing costs more time than it saves.
    retry_for : float
        Seconds a batch is tried again for (after a lost connection, a
        timeout, 429 or 5xx), with exponential backoff capped at 8 s and
        jitter, honouring ``Retry-After``; then it is spooled. By default a
        batch keeps being tried for the whole minute, so a server that
        restarts meanwhile is waited for. Pass a small value to give up fast.
    max_retries : int, optional
        The most retries of one batch, a bound besides ``retry_for``; by
        default none.
    series_warning : int
        Warn (:class:`~journeys.errors.CardinalityWarning`) when the write's
        tag sets exceed this many series. The published layout always warns.
    progress : bool, optional
        Show a progress bar (points per second); by default only on an
        interactive terminal.
    check_stored : bool
        Before writing, read the points already stored at the events' times,
        so that an event tied with a stored one (same tags, same nanosecond)
        is numbered apart instead of overwriting it, and an event stored
        before is recognised and replaced by itself. Also refuses to mix
        layouts in one database. Turn it off only for a database that is
        written by this write alone.
    spool : bool
        Keep the rows that cannot be delivered in a spool file (the default).
        Pass False when the caller keeps them itself and sends them again, as
        the collector does with its store: the :class:`~journeys.errors.WriteError`
        then names them in ``rows`` and ``report.unwritten``, and no file is made.
    on_warning : callable, optional
        Called with each warning of the write (a
        :class:`~journeys.errors.SkippedRowsWarning`, a
        :class:`~journeys.errors.CardinalityWarning`) instead of
        ``warnings.warn``. For a write in a worker thread, as the collector's:
        catching warnings there with ``warnings.catch_warnings`` would change
        the warning filters of the whole process while it runs.

    Returns
    -------
    WriteReport

    Raises
    ------
    ValidationError
        With ``on_invalid="raise"``, before the chunk holding the value is sent.
    WriteError
        When rows were not stored: refused by the server (with
        ``on_invalid="raise"``), or undeliverable, in which case they were
        spooled and the error says where.

    Examples
    --------
    >>> report = db.write(jy.generate(users=100, seed=1))  # doctest: +SKIP
    >>> report = db.write("events.parquet", on_invalid="skip")  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    """
    _check_options(batch_size, batch_bytes, chunk_rows, concurrency, series_warning)
    if on_invalid not in ("raise", "skip"):
        raise ValueError(f"on_invalid must be 'raise' or 'skip', not {on_invalid!r}")
    layout = get_layout(layout)
    policy = RetryPolicy(
        retry_for=retry_for,
        max_retries=max_retries,
    )
    started = time.perf_counter()

    report = WriteReport()
    stored_types = _read_stored(client, layout)
    warn = _warner(on_warning)
    counter = _SeriesCounter(layout, series_warning, warn)
    total = len(events) if isinstance(events, pd.DataFrame) else None
    bar = _progress_bar(total, progress, unit=" points", desc="writing", leave=False)
    sender = Sender(
        client,
        report,
        layout=layout.name,
        policy=policy,
        gzip=not is_loopback(client.url) if gzip is None else gzip,
        concurrency=concurrency,
        batch_size=batch_size,
        batch_bytes=batch_bytes,
        bar=bar,
        spool=spool,
    )
    sent_ranges: list[tuple[int, int]] = []
    span: tuple[int, int] | None = None
    try:
        pieces = _pieces(
            events,
            report,
            layout=layout,
            on_invalid=on_invalid,
            epoch_unit=epoch_unit,
            extra_columns=extra_columns,
            chunk_rows=chunk_rows,
        )
        for valid, positions in pieces:
            counter.add(valid)
            written_as, fields = _fields_as_stored(valid, layout, stored_types)
            keys, times = series_keys(valid, layout), valid.index.asi8
            sequence = sequence_numbers(keys, times, fields)

            if check_stored and len(valid) and not sender.failed:
                if not sent_ranges:
                    span = _stored_before(client, layout)
                low, high = int(times[0]), int(times[-1])
                overlaps = any(low <= b and a <= high for a, b in sent_ranges)
                if overlaps:
                    sender.drain()  # the earlier pieces must be stored to be seen
                if overlaps or (span is not None and low <= span[1] and span[0] <= high):
                    sequence = safe_sequence(
                        client, written_as, keys, times, fields, sequence, layout_checked=True
                    )
                sent_ranges.append((low, high))
            sender.send(compose(keys, sequence, fields, times), positions)
    finally:
        sender.close()
        bar.close()

    report.series = counter.count
    report.seconds = time.perf_counter() - started
    logger.info(
        "wrote %d of %d events in %.2f s (%d requests, %d retried, %d %s)",
        report.written,
        report.events,
        report.seconds,
        report.batches,
        report.retried,
        report.spooled,
        # With spool=False nothing goes to a file: the caller keeps report.unwritten.
        "spooled" if spool else "undelivered, kept by the caller",
    )
    skipped = report.rejected[~_refused(report.rejected)]
    if len(skipped):
        warn(
            f"{skipped['row'].nunique():,} of {report.events:,} rows cannot be stored and "
            "are left out; the report's `rejected` frame lists them",
            SkippedRowsWarning,
            stacklevel=3,
        )
    _raise_for_losses(report, on_invalid, spooling=spool)
    return report


def write_lines(
    client: InfluxDB,
    lines: Iterable[str],
    *,
    layout: str | Layout | None = None,
    batch_size: int = 5_000,
    batch_bytes: int = 5_000_000,
    concurrency: int = CONCURRENCY,
    gzip: bool | None = None,
    retry_for: float = 60.0,
    max_retries: int | None = None,
    progress: bool | None = None,
) -> WriteReport:
    """Send lines of line protocol (nanosecond timestamps).

    This replays a spool file. Empty lines and comment lines (``#``) are left
    out. Errors are reported as by :func:`write_events`, rows counted among the
    lines sent; the delivery options are the same too.

    Parameters
    ----------
    layout : str or Layout, optional
        The layout the lines were made in, as a spool file's first line says.
        When given, tied events are numbered again against the points stored
        meanwhile, as :func:`write_events` does, so that replaying never
        overwrites a stored event; without it the lines are sent as they are.
    """
    _check_options(batch_size, batch_bytes, 1, concurrency, 0)
    policy = RetryPolicy(
        retry_for=retry_for,
        max_retries=max_retries,
    )
    started = time.perf_counter()
    kept = [line for line in lines if line.strip() and not line.startswith("#")]
    if layout is not None and kept:
        kept = renumber_lines(client, get_layout(layout), kept)

    report = WriteReport(events=len(kept))
    bar = _progress_bar(len(kept), progress, unit=" points", desc="writing", leave=False)
    sender = Sender(
        client,
        report,
        layout=None if layout is None else get_layout(layout).name,
        policy=policy,
        gzip=not is_loopback(client.url) if gzip is None else gzip,
        concurrency=concurrency,
        batch_size=batch_size,
        batch_bytes=batch_bytes,
        bar=bar,
    )
    try:
        sender.send(kept, np.arange(len(kept)))
    finally:
        sender.close()
        bar.close()
    report.seconds = time.perf_counter() - started
    _raise_for_losses(report, "raise")
    return report


def _check_options(batch_size, batch_bytes, chunk_rows, concurrency, series_warning) -> None:
    if batch_size < 1 or batch_bytes < 1 or chunk_rows < 1:
        raise ValueError(
            f"batch_size, batch_bytes and chunk_rows must be at least 1, not {batch_size!r}, "
            f"{batch_bytes!r} and {chunk_rows!r}"
        )
    if batch_bytes > SERVER_BODY_LIMIT:
        logger.warning(
            "batch_bytes=%d is above InfluxDB's default body limit of %d bytes; a server "
            "with that default refuses such batches (413), which are then split",
            batch_bytes,
            SERVER_BODY_LIMIT,
        )
    if not 1 <= concurrency <= MOST_CONCURRENCY:
        raise ValueError(f"concurrency must be from 1 to {MOST_CONCURRENCY}, not {concurrency!r}")
    if series_warning < 0:
        raise ValueError(f"series_warning must be 0 or more, not {series_warning!r}")


def _read_stored(client: InfluxDB, layout: Layout) -> dict[str, set[str]]:
    """The stored field types, or none when the server cannot be reached.

    The write will then be spooled, and the replay fits it to what is stored
    by then.
    """
    try:
        return stored_field_types(client, layout.measurement)
    except ServerError as exc:
        if exc.status is not None:
            raise
        logger.info("could not read the stored field types before writing: %s", exc)
        return {}


def _stored_before(client: InfluxDB, layout: Layout) -> tuple[int, int] | None:
    """Check the stored layout; the first and last time stored before the write.

    Pieces outside that span, and outside the pieces sent before, tie with
    no stored point, so they skip reading the stored points. None when
    nothing is stored, or the server cannot be reached (the write will then
    be spooled, and the replay numbers the ties again).
    """
    try:
        check_layout(client, layout)
        return stored_span(client, layout)
    except ServerError as exc:
        if exc.status is not None:
            raise
        logger.info("could not read the stored points before writing: %s", exc)
        return None


def _pieces(
    events,
    report: WriteReport,
    *,
    layout: Layout,
    on_invalid: str,
    epoch_unit: str,
    extra_columns: str,
    chunk_rows: int,
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Validated, time-sorted pieces of the input, with the input position of each row.

    Rows at the latest time of a chunk are held back and lead the next one,
    so that tied events of time-sorted input always share a piece.
    """
    carried: tuple[pd.DataFrame, np.ndarray] | None = None
    pieces = 0
    chunks = _chunks(events, chunk_rows)
    chunk = next(chunks, None)
    while chunk is not None:
        following = next(chunks, None)
        valid, positions = _validated(
            chunk,
            report,
            layout=layout,
            on_invalid=on_invalid,
            epoch_unit=epoch_unit,
            extra_columns=extra_columns,
        )
        if carried is not None:
            valid = pd.concat([carried[0], valid])
            positions = np.concatenate([carried[1], positions])
        valid, positions = _by_time(valid, positions)
        chunk = following

        times = valid.index.asi8
        last = len(times)
        if following is not None and len(times):
            last = int(np.searchsorted(times, times[-1], side="left"))
        start = 0
        while start < last:
            # Small pieces first, so that the first batches leave early.
            size = min(chunk_rows, FIRST_PIECE_ROWS << pieces)
            # Never cut between events of the same time.
            stop = int(np.searchsorted(times, times[min(start + size, last) - 1], "right"))
            yield valid.iloc[start:stop], positions[start:stop]
            start, pieces = stop, min(pieces + 1, 30)
        carried = (valid.iloc[last:], positions[last:])


def _chunks(events, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The input as raw chunks.

    A frame already sorted by a datetime ``time`` (index or column), such as
    :func:`journeys.generate` makes, is cut into slices validated one by one,
    small ones first, so that posting starts early; any other frame is
    validated whole, and sorted by time afterwards.
    """
    if isinstance(events, pd.DataFrame):
        if not _sorted_by_time(events):
            yield events
            return
        start, size = 0, FIRST_PIECE_ROWS
        while start < len(events):
            yield events.iloc[start : start + size]
            start, size = start + size, min(chunk_rows, 2 * size)
    elif isinstance(events, (str, Path)):
        yield from iter_events(events, chunk_rows=chunk_rows)
    else:
        for chunk in events:
            if not isinstance(chunk, pd.DataFrame):
                raise TypeError(
                    f"write takes a DataFrame, an iterable of DataFrames or a file path; the "
                    f"iterable gave a {type(chunk).__name__}"
                )
            yield chunk


def _sorted_by_time(frame: pd.DataFrame) -> bool:
    if "time" in frame.columns:
        times = frame["time"]
    elif isinstance(frame.index, pd.DatetimeIndex):
        times = frame.index
    else:
        return False
    return pd.api.types.is_datetime64_any_dtype(times) and times.is_monotonic_increasing


def _validated(
    chunk: pd.DataFrame,
    report: WriteReport,
    *,
    layout: Layout,
    on_invalid: str,
    epoch_unit: str,
    extra_columns: str,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The chunk's valid rows and their positions in the whole input."""
    offset = report.events
    report.events += len(chunk)
    valid, problems = split_valid(
        chunk, layout=layout, epoch_unit=epoch_unit, extra_columns=extra_columns
    )
    problems["row"] = problems["row"] + offset
    if len(problems) and on_invalid == "raise":
        _refuse(problems, report)
    report.add_rejected(problems)
    kept = np.ones(len(chunk), dtype=bool)
    kept[problems["row"].to_numpy(dtype="int64") - offset] = False
    return valid, np.flatnonzero(kept) + offset


def _by_time(valid: pd.DataFrame, positions: np.ndarray):
    if valid.index.is_monotonic_increasing:
        return valid, positions
    order = np.argsort(valid.index.asi8, kind="stable")
    return valid.iloc[order], positions[order]


def _fields_as_stored(
    valid: pd.DataFrame, layout: Layout, stored_types: dict[str, set[str]]
) -> tuple[Layout, np.ndarray]:
    """The layout the piece is written in, and its field text, in the stored types where
    they fit (:mod:`journeys.fieldtypes`)."""
    written_as, fits = coerce_to_stored(valid, layout, stored_types)
    if written_as is layout or not fits.any():
        return layout, field_sets(valid, layout)
    if fits.all():
        return written_as, field_sets(valid, written_as)
    fields = field_sets(valid, layout)
    fields[fits] = field_sets(valid[fits], written_as)
    return written_as, fields


def _refuse(problems: pd.DataFrame, report: WriteReport) -> None:
    error = ValidationError(problems.sort_values("row", kind="stable", ignore_index=True))
    error.report = report
    if report.written or report.batches:
        logger.warning(
            "stopping at row %d, which cannot be stored; earlier chunks were sent",
            int(problems["row"].min()),
        )
    raise error


class _SeriesCounter:
    """Distinct tag sets of a write, counted by hash over its pieces; warns once."""

    def __init__(self, layout: Layout, threshold: int, warn=warnings.warn):
        self.warn = warn
        self.layout = layout
        self.threshold = threshold
        self.tags = sorted(layout.tags)
        self.count = 0
        self.events = 0
        self._sets = np.empty(0, dtype=np.uint64)
        self._default = np.empty(0, dtype=np.uint64)
        self._values = {tag: np.empty(0, dtype=np.uint64) for tag in self.tags}
        self._warned = False
        self._ids = [t for t in _ID_TAGS if t in layout.tags]

    def add(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        self.events += len(frame)
        self._sets = np.union1d(self._sets, _row_hashes(frame, self.tags))
        self.count = len(self._sets)
        if self._warned:
            return
        if self._ids:
            default = sorted(LAYOUTS["default"].tags)
            self._default = np.union1d(self._default, _row_hashes(frame, default))
        if self._ids or self.count > self.threshold:
            for tag in self.tags:
                self._values[tag] = np.union1d(self._values[tag], _row_hashes(frame, [tag]))
            self._warn()

    def _warn(self) -> None:
        if self._warned:
            return
        self._warned = True
        distinct = {tag: len(values) for tag, values in self._values.items()}
        most = sorted(distinct, key=distinct.get, reverse=True)[:3]
        named = ", ".join(f"{tag} ({distinct[tag]:,} values)" for tag in most)
        if self._ids:
            advice = (
                f"the {self.layout.name!r} layout stores {', '.join(self._ids)} as tags: the "
                f"first {self.events:,} events create about {self.count:,} series "
                f"({self.count / self.events:.0%} of the events), against "
                f"{len(self._default):,} in the default layout"
            )
        else:
            advice = (
                f"the first {self.events:,} events create about {self.count:,} series, more "
                f"than series_warning={self.threshold:,}"
            )
        self.warn(
            f"{advice}. The tags with most values: {named}. Each series costs the server "
            "memory and slows writes and queries; use layout='default' (--layout default) "
            "unless you need those tags, or store the tags with many values as fields",
            CardinalityWarning,
            stacklevel=5,
        )


def _warner(on_warning: Callable[[Warning], None] | None):
    """``warnings.warn``, or a function of the same arguments that calls ``on_warning``."""
    if on_warning is None:
        return warnings.warn

    def warn(message: str, category: type[Warning], stacklevel: int = 1) -> None:
        on_warning(category(message))

    return warn


def _row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    present = [c for c in columns if c in frame.columns]
    if not present:
        return np.zeros(1, dtype=np.uint64)
    hashes = pd.util.hash_pandas_object(frame[present], index=False).to_numpy()
    return np.unique(hashes)


def _refused(rejected: pd.DataFrame) -> pd.Series:
    return rejected["reason"].astype(str).str.startswith("refused")


def _progress_bar(total: int, progress: bool | None, **options):
    """A tqdm bar, notebook-style where possible; by default only on a terminal.

    tqdm's own default (``disable=None``) shows a notebook's widget whenever
    ipywidgets is installed, so a notebook's stored output would depend on it;
    here a notebook shows a bar only when asked with ``progress=True``.
    """
    shown = sys.stderr.isatty() if progress is None else progress
    if not shown:
        # A bar that shows nothing; and no change of the warning filters, which
        # are the whole process's, for a write in a worker thread (the collector's).
        from tqdm import tqdm

        return tqdm(total=total, disable=True, **options)

    # Imported here so that merely importing journeys never makes tqdm warn that a
    # notebook lacks ipywidgets; the bar then falls back to text.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    return tqdm(total=total, disable=False, **options)


def _raise_for_losses(report: WriteReport, on_invalid: str, *, spooling: bool = True) -> None:
    failure = report.failure
    if failure is not None:
        if report.spool:
            kept = ""
        elif not spooling:
            kept = " They were not spooled (spool=False): error.rows names them, to send again."
        else:
            kept = (
                " They could not be kept on disk either (the log says why): write them again "
                "once InfluxDB answers; error.rows names them."
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
