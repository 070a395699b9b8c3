"""Writing the collector's queue to InfluxDB in batches, in the background.

:class:`Forwarder` is one asyncio task beside the service. It takes the oldest
events from the store (:class:`journeys.collect.store.EventStore`), turns them
into an events frame (:func:`rows_frame`) and writes them with the toolkit's
writer, ``db.write(frame, on_invalid="skip", check_stored=True, spool=False)``,
in a worker thread so the service keeps answering. Then it acknowledges them:

- rows written are removed from the store (:meth:`~EventStore.done`);
- rows InfluxDB refuses, or the writer's validation refuses, are moved to the
  store's dead letters with the reason (:meth:`~EventStore.refuse`), counted by
  reason in :attr:`Forwarder.refused` and in the log; never dropped silently;
- when InfluxDB cannot be reached (or answers with an error that is not about
  the rows), the batch stays in the store, :attr:`Forwarder.healthy` turns
  False with :attr:`Forwarder.last_error`, and the same batch is tried again
  after a pause that doubles from ``backoff`` up to ``max_backoff`` (with
  jitter), until the server is back; the queue drains from there, oldest first.

Exactly once
    A batch written but not acknowledged (the process dies in between) is
    taken again at the next start and written again. The writer's
    ``check_stored`` reads the points stored at those times and recognises
    each event stored before (same series, time and fields, ``event_id`` and
    ``received_at`` included), so it replaces itself: every event is stored
    once. One forwarder writes at a time, as the writer's ties need.

Pace
    A batch is up to ``write_size`` events (20,000) taken from the store and
    written by one ``db.write``, in requests of up to ``batch_size`` events
    (5,000). Large batches matter: the check against the stored points, which
    reads back the points stored at the batch's times (events arrive out of
    time order, so a batch overlaps the ones before it), costs about as much
    for 20,000 events as for 5,000; measured with client times a few seconds
    behind, 4,800 events/s in batches of 5,000, 11,300 in batches of 20,000.
    When fewer than ``write_size`` events wait, a batch is written and the
    forwarder waits ``interval`` seconds before the next one, so a quiet site
    costs one write a second at most; under load, full batches follow each
    other at once. :meth:`Forwarder.flush` (on shutdown) writes what is left
    without waiting, for at most ``timeout`` seconds; what it cannot write
    stays in the store for the next start.

# Limitation: a batch whose times reach back into what is stored (events sent late,
# rows taken again after a restart) pays the writer's check against the stored points
# (up to 50 range queries and their decoding, then most of the batch's time); only
# rows taken again can be stored already, and the other thing the check settles,
# events of one series in one millisecond but in different batches, could be numbered
# from the forwarder's memory of the series and times it wrote.
# Limitation: the forwarder runs in the service's process, so its pandas work (25 to
# 35 µs an event) shares the GIL and the cores with the requests; under wrk on two
# cores that keeps single events between about 40 % and 80 % of a bare Starlette
# endpoint (benchmarks/README.md). Forwarding from a child process at a lower
# priority (the store opened in a shared mode, or rows handed over) would remove it.

Logs: one INFO line per batch written (events written and refused, seconds,
events still waiting), a WARNING with the refusals counted by reason when
there are any, and one WARNING per failed attempt while InfluxDB is down.
The writer's own per-batch lines come from ``journeys.write`` and
``journeys.delivery``; a service that wants one line per batch sets those
loggers to WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.errors import SchemaError, SkippedRowsWarning, StoreError
from journeys.schema import COLUMNS, get_layout

if TYPE_CHECKING:
    from journeys.client import InfluxDB
    from journeys.collect.store import EventStore, StoredRow

__all__ = ["Forwarder", "rows_frame"]

logger = logging.getLogger(__name__)

_NAMES = frozenset(c.name for c in COLUMNS)


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """Accepted rows as an events frame, ready for ``db.write``.

    Parameters
    ----------
    rows : list of dict
        Column name to value, ``"time"`` as int nanoseconds since the epoch
        (the row format of :func:`journeys.collect.contract.check_events` and
        of the store).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``time`` (``datetime64[ns, UTC]``), with the schema's
        columns that any row holds, in schema order and dtype; a value a row
        lacks is missing (NA).

    Raises
    ------
    SchemaError
        For a row without an integer ``time`` or with a key outside the schema.
    TypeError, ValueError
        For a value that does not fit its column's type (3.5 for an integer).
    """
    times = np.empty(len(rows), dtype="int64")
    present: set[str] = set()
    for i, row in enumerate(rows):
        stamp = row.get("time")
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            raise SchemaError(
                f"row {i}: 'time' must be an int of nanoseconds since the epoch, not {stamp!r}"
            )
        times[i] = stamp
        present.update(row)
    unknown = present - _NAMES - {"time"}
    if unknown:
        raise SchemaError(
            f"unknown column(s) {', '.join(sorted(unknown))}: the events schema has "
            f"{', '.join(c.name for c in COLUMNS)}"
        )

    index = pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True), name="time")
    data = {
        c.name: pd.array([row.get(c.name) for row in rows], dtype=c.dtype)
        for c in COLUMNS
        if c.name in present
    }
    return pd.DataFrame(data, index=index)


class Forwarder:
    """Writes the events of a store to InfluxDB in batches, in the background.

    Parameters
    ----------
    store : EventStore
        Where the accepted events wait.
    db : InfluxDB
        The connection to write to (its database).
    layout : {"default", "published"}
        The layout the events are written in.
    batch_size : int
        The most events in one request to InfluxDB.
    write_size : int
        The most events of one batch: taken from the store, written by one
        ``db.write`` (in requests of ``batch_size``) and acknowledged together.
    interval : float
        Seconds between two batches while fewer than ``write_size`` events wait.
    retry_for : float
        Seconds the writer tries one batch again within a write, before the
        forwarder takes over with its own pauses.
    backoff, max_backoff : float
        The first pause after a failed write and the longest, in seconds.

    Attributes
    ----------
    healthy : bool
        False while the last write failed (InfluxDB down, or an error about
        the write as a whole); True again after the next one that succeeds.
    last_error : str or None
        Why the last failed write failed, kept after recovery.
    written, batches : int
        Events written and batches acknowledged in the store since the start.
    refused : collections.Counter
        Events refused, by reason, since the start.

    Examples
    --------
    >>> forwarder = Forwarder(store, db)  # doctest: +SKIP
    >>> forwarder.start()  # in the service's lifespan  # doctest: +SKIP
    >>> await forwarder.flush(timeout=10)  # on shutdown  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        store: EventStore,
        db: InfluxDB,
        *,
        layout: str = "default",
        batch_size: int = 5000,
        write_size: int = 20_000,
        interval: float = 1.0,
        retry_for: float = 5.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ):
        for name, value in (("batch_size", batch_size), ("write_size", write_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number, at least 1, not {value!r}")
        for name, value in (
            ("interval", interval),
            ("retry_for", retry_for),
            ("backoff", backoff),
            ("max_backoff", max_backoff),
        ):
            if isinstance(value, bool) or not value >= 0:
                raise ValueError(f"{name} must be 0 or more seconds, not {value!r}")
        self.store = store
        self.db = db
        self.layout = get_layout(layout).name
        self.batch_size = batch_size
        self.write_size = write_size
        self.interval = float(interval)
        self.retry_for = float(retry_for)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)

        self.healthy = True
        self.last_error: str | None = None
        self.written = 0
        self.batches = 0
        self.refused: Counter[str] = Counter()
        self._failures = 0
        self._down_since: float | None = None
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._deadline: float | None = None  # loop time at which a flush gives up
        self._warned: set[str] = set()

    # -- running ----------------------------------------------------------------------

    def start(self) -> asyncio.Task:
        """Start the background task in the running event loop (once)."""
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._deadline = None
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="journeys-forwarder"
            )
            self._task.add_done_callback(self._ended)
        return self._task

    def _ended(self, task: asyncio.Task) -> None:
        """Say so when the task ends by a bug, rather than let it vanish."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        self.healthy = False
        self.last_error = f"{type(exc).__name__}: {exc}"
        logger.error("the forwarder stopped: %s", self.last_error, exc_info=exc)

    @property
    def running(self) -> bool:
        """Whether the background task runs."""
        return self._task is not None and not self._task.done()

    async def flush(self, timeout: float = 30.0) -> bool:
        """Write what waits, without pauses between batches, then stop the task.

        Parameters
        ----------
        timeout : float
            The most seconds to spend; a write under way when they are up is
            left to finish in its thread, unacknowledged, and is written again
            at the next start (stored once).

        Returns
        -------
        bool
            Whether the store was emptied; False leaves the rest in the store.
        """
        task = self.start()
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + max(0.0, timeout)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=max(0.0, timeout) + 0.5)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        except Exception:  # noqa: BLE001 (a bug: the events stay in the store)
            logger.exception("the forwarder failed while flushing")
        left = self.store.pending
        if left:
            logger.warning(
                "flushed for %.1f s: %d events stay in the store %s for the next start",
                timeout,
                left,
                self.store.path,
            )
        else:
            logger.info("flushed: every event is written to InfluxDB")
        return left == 0

    def stats(self) -> dict:
        """What the forwarder did, for ``/health`` and the log.

        Returns
        -------
        dict
            ``healthy``, ``last_error``, ``down_for`` (seconds InfluxDB has
            failed, None while healthy), ``written``, ``batches``, ``refused``
            (total) and ``refused_by_reason``.
        """
        down = None if self._down_since is None else time.monotonic() - self._down_since
        return {
            "healthy": self.healthy,
            "last_error": self.last_error,
            "down_for": down,
            "written": self.written,
            "batches": self.batches,
            "refused": sum(self.refused.values()),
            "refused_by_reason": dict(self.refused),
        }

    async def _run(self) -> None:
        batch: list[StoredRow] = []
        while True:
            if not batch:
                try:
                    batch = await self.store.take(self.write_size)
                except StoreError as exc:
                    if self.store.closed:
                        logger.info("the store is closed: the forwarder stops")
                        return
                    logger.error("could not take events from the store: %s", exc)
                    await self._pause(self.max_backoff)
                    continue
            if not batch:
                if self._flushing:
                    return
                await self._pause(self.interval)
                continue

            started = time.perf_counter()
            try:
                written, refused = await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # noqa: BLE001 (whatever failed, the batch is kept)
                pause = self._failed(exc, len(batch))
                if self._flushing and self._left() <= 0:
                    return
                await self._pause(pause)
                continue
            self._recovered()

            try:
                await self._acknowledge(batch, written, refused, started)
            except StoreError as exc:
                # Written but still queued: written again later, which stores it once.
                logger.error(
                    "wrote %d events but could not mark them written in the store (%s); they "
                    "stay queued and will be written again, which stores each once",
                    len(written),
                    exc,
                )
                if self.store.closed:
                    return
                await self._pause(self.backoff)
                continue
            self._succeeded(batch, written, refused)
            full = len(batch) == self.write_size
            batch = []
            if not full and not self._flushing:
                await self._pause(self.interval)

    @property
    def _flushing(self) -> bool:
        return self._deadline is not None

    def _left(self) -> float:
        return self._deadline - asyncio.get_running_loop().time()

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short by a flush (which also shortens pauses to its deadline)."""
        if self._flushing:
            seconds = min(seconds, max(0.0, self._left()))
            await asyncio.sleep(seconds)
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _acknowledge(
        self, batch: list[StoredRow], written: list[int], refused: dict[int, str], started: float
    ) -> None:
        """Remove the batch from the store: refused rows to the dead letters, in queue order."""
        if refused:
            ids = sorted(refused)
            await self.store.refuse(ids, [refused[i] for i in ids])
        await self.store.done(written)
        logger.info(
            "forwarded a batch of %d events to InfluxDB: %d written, %d refused, in %.2f s; "
            "%d waiting",
            len(batch),
            len(written),
            len(refused),
            time.perf_counter() - started,
            self.store.pending,
        )

    def _write(self, batch: list[StoredRow]) -> tuple[list[int], dict[int, str]]:
        """In a worker thread: the ids written and, by id, why the others were refused."""
        rows, frame, refused = _framable(batch)
        if not rows:
            return [], refused

        # The writer's warnings are handed over, not caught: warnings.catch_warnings
        # would change the filters of the whole process from this thread.
        caught: list[Warning] = []
        report = self.db.write(
            frame,
            layout=self.layout,
            on_invalid="skip",
            check_stored=True,
            spool=False,
            progress=False,
            batch_size=self.batch_size,
            retry_for=self.retry_for,
            on_warning=caught.append,
        )
        self._log_warnings(caught)

        for position, reason in _reasons(report.rejected).items():
            refused[rows[position].id] = reason
        written = [r.id for r in rows if r.id not in refused]
        return written, refused

    def _log_warnings(self, caught: list[Warning]) -> None:
        """The writer's advice, once per kind (its skipped rows are logged as refusals)."""
        for warning in caught:
            kind = type(warning).__name__
            if isinstance(warning, SkippedRowsWarning) or kind in self._warned:
                continue
            self._warned.add(kind)
            logger.warning("%s: %s", kind, warning)

    def _recovered(self) -> None:
        """Note a write that succeeded: InfluxDB is healthy (again)."""
        if not self.healthy:
            logger.info(
                "InfluxDB takes events again, after %.0f s",
                time.monotonic() - self._down_since,
            )
        self.healthy = True
        self._failures = 0
        self._down_since = None

    def _succeeded(self, batch, written: list[int], refused: dict[int, str]) -> None:
        """Count a batch written and acknowledged; log its refusals by reason."""
        self.written += len(written)
        self.batches += 1
        if refused:
            counts = Counter(refused.values())
            self.refused.update(counts)
            logger.warning(
                "InfluxDB or the schema refused %d of %d events; kept as dead letters in %s: %s",
                len(refused),
                len(batch),
                self.store.path,
                "; ".join(f"{n} × {reason}" for reason, n in counts.most_common()),
            )

    def _failed(self, exc: Exception, events: int) -> float:
        """Note a failed write; the seconds to wait before the next try."""
        self._failures += 1
        if self.healthy:
            self._down_since = time.monotonic()
        self.healthy = False
        self.last_error = f"{type(exc).__name__}: {exc}"
        pause = min(self.max_backoff, self.backoff * 2 ** min(self._failures - 1, 30))
        pause *= random.uniform(0.5, 1.0)
        logger.warning(
            "could not write %d events to InfluxDB (%s); they stay in the store, trying again "
            "in %.1f s",
            events,
            self.last_error,
            pause,
        )
        return pause


def _framable(batch: list[StoredRow]) -> tuple[list[StoredRow], pd.DataFrame, dict[int, str]]:
    """The rows :func:`rows_frame` takes, their frame, and why it refuses the others (by id).

    The whole batch is tried first; only when that fails, row by row.
    """
    try:
        return batch, rows_frame([r.row for r in batch]), {}
    except (SchemaError, TypeError, ValueError):
        pass
    good, refused = [], {}
    for stored in batch:
        try:
            rows_frame([stored.row])
            good.append(stored)
        except (SchemaError, TypeError, ValueError) as exc:
            refused[stored.id] = f"not an events row: {exc}"
    return good, rows_frame([r.row for r in good]), refused


def _reasons(rejected: pd.DataFrame) -> dict[int, str]:
    """One reason per rejected row of a write report, by the row's position."""
    reasons: dict[int, list[str]] = {}
    for problem in rejected.itertuples():
        column = problem.column if isinstance(problem.column, str) else None
        text = f"column {column}: {problem.reason}" if column else str(problem.reason)
        reasons.setdefault(int(problem.row), []).append(text)
    return {row: "; ".join(texts) for row, texts in reasons.items()}
