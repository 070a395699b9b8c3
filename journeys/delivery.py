"""Sending batches of lines to the server, a few at once, and accounting for each line.

:class:`Sender` takes the lines of one chunk at a time, cuts them into batches
(:mod:`journeys.batches`) and posts each from a small pool of threads, so that
the server parses one batch while the next is on the wire and the writer
turns the next chunk into lines. At most ``2 * concurrency`` batches wait or
travel at once, which bounds the memory a write holds whatever its size.

Results are taken back strictly in the order the batches were given, so the
report, the log and the spool file follow the input whatever order the
requests finish in. For each batch:

- 204: every line is written;
- 400 (422 on 2.x and Cloud) or 413: the server refused some lines (a type conflict, a line it
  cannot parse, a body too large) but does not say reliably which, so the
  batch is split in halves and each half sent again, down to single lines
  where needed; the lines it refuses alone are rejected with its reason.
  Sending a line twice is harmless: a point written again replaces itself;
- no answer or a passing error even after the retries (:mod:`journeys.retry`),
  or a final error such as 401: the batch is undeliverable. It and every
  batch after it go to the spool file (:class:`journeys.spool.Spool`), in
  order, and the write stops posting. A caller that keeps the rows itself
  (the collector's store, :mod:`journeys.collect.store`) passes
  ``spool=False``: the undeliverable rows are then only counted and named in
  the report, for the caller to send again.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.batches import batch_bounds, encode_body, gzip_body
from journeys.client import REFUSED_STATUSES, _error_text
from journeys.errors import ServerError
from journeys.fieldtypes import stored_type_problem
from journeys.retry import RetryPolicy, UndeliverableError, post_with_retries
from journeys.spool import Spool

if TYPE_CHECKING:
    from journeys.client import InfluxDB
    from journeys.report import WriteReport

__all__ = ["Sender"]

logger = logging.getLogger(__name__)

_DROPPED = re.compile(r"dropped=(\d+)")


@dataclass
class _Outcome:
    """What became of one batch; line numbers count in its chunk's lines."""

    written: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    undelivered: list[tuple[int, int]] = field(default_factory=list)
    requests: int = 0
    bytes: int = 0
    retried: int = 0


@dataclass
class _Batch:
    number: int
    lines: list[str]
    positions: np.ndarray
    start: int
    stop: int
    outcome: Future


class Sender:
    """Posts the lines of a write in batches, and adds what happened to a report.

    Parameters
    ----------
    client : InfluxDB
        The connection; only :meth:`~journeys.client.InfluxDB.post_lines` is used.
    report : WriteReport
        Where written, refused and spooled rows are counted.
    layout : str, optional
        The layout's name, for the spool file's header.
    policy : RetryPolicy
        How long and how often a batch is tried again.
    gzip : bool
        Compress bodies.
    concurrency : int
        Requests in flight at most.
    batch_size, batch_bytes : int
        The most lines and bytes in one request.
    bar : tqdm, optional
        A progress bar, advanced by the lines of each finished batch.
    spool : bool
        Keep undeliverable lines in a spool file; False when the caller keeps the rows.
    """

    def __init__(
        self,
        client: InfluxDB,
        report: WriteReport,
        *,
        layout: str | None,
        policy: RetryPolicy,
        gzip: bool,
        concurrency: int,
        batch_size: int,
        batch_bytes: int,
        bar=None,
        spool: bool = True,
    ):
        self.client = client
        self.report = report
        self.policy = policy
        self.gzip = gzip
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.bar = bar
        self.spool = Spool(client.database, layout) if spool else None
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="journeys-write")
        self._most_pending = 2 * concurrency
        self._pending: deque[_Batch] = deque()
        self._give_up = threading.Event()
        self._failure: ServerError | None = None
        self._lock = threading.Lock()
        self._number = 0

    @property
    def failed(self) -> bool:
        """Whether a batch was undeliverable: everything after it goes to the spool."""
        return self._give_up.is_set()

    def send(self, lines: list[str], positions: np.ndarray) -> None:
        """Queue ``lines``; ``positions[i]`` is the row of the input line ``i`` stands for.

        Returns once every batch but the last few is settled, so the caller can
        make the next chunk's lines while those travel.
        """
        for start, stop in batch_bounds(lines, self.batch_size, self.batch_bytes):
            self._number += 1
            if self.failed:
                outcome: Future = Future()
                outcome.set_result(_Outcome(undelivered=[(start, stop)]))
            else:
                outcome = self._pool.submit(self._deliver_batch, lines, start, stop)
            self._pending.append(_Batch(self._number, lines, positions, start, stop, outcome))
            while len(self._pending) > self._most_pending:
                self._settle(self._pending.popleft())

        while self._pending and self._pending[0].outcome.done():
            self._settle(self._pending.popleft())

    def drain(self) -> None:
        """Wait until every queued batch is settled."""
        while self._pending:
            self._settle(self._pending.popleft())

    def close(self) -> None:
        """Settle everything, stop the threads, close the spool; fill the report."""
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)
            if self.spool is not None:
                self.spool.close()
        self.report.spool = None if self.spool is None else self.spool.path
        self.report.failure = self._failure

    def _settle(self, batch: _Batch) -> None:
        outcome: _Outcome = batch.outcome.result()
        report = self.report
        report.batches += outcome.requests
        report.bytes += outcome.bytes
        report.retried += outcome.retried
        report.written += outcome.written

        if outcome.refused:
            rows = [int(batch.positions[i]) for i, _ in outcome.refused]
            named = [stored_type_problem(reason) for _, reason in outcome.refused]
            report.add_rejected(
                pd.DataFrame(
                    {
                        "row": rows,
                        "column": [column for column, _ in named],
                        "value": None,
                        "reason": [f"refused by the server: {reason}" for _, reason in named],
                    }
                )
            )
        for start, stop in outcome.undelivered:
            if self.spool is not None:
                self.spool.add(batch.lines, start, stop)
            report.spooled += stop - start
            report.unwritten.extend(int(p) for p in batch.positions[start:stop])

        logger.info(
            "batch %d: %d lines written, %d refused, %d %s, %d retries, %d bytes",
            batch.number,
            outcome.written,
            len(outcome.refused),
            sum(b - a for a, b in outcome.undelivered),
            "spooled" if self.spool is not None else "undelivered (kept by the caller)",
            outcome.retried,
            outcome.bytes,
        )
        if self.bar is not None:
            self.bar.update(batch.stop - batch.start)

    def _deliver_batch(self, lines: list[str], start: int, stop: int) -> _Outcome:
        outcome = _Outcome()
        self._deliver(lines, start, stop, outcome)
        return outcome

    def _deliver(self, lines: list[str], start: int, stop: int, outcome: _Outcome) -> None:
        """Send ``lines[start:stop]``, splitting it where the server refuses part of it."""
        if self.failed:
            outcome.undelivered.append((start, stop))
            return
        body = encode_body(lines, start, stop)
        if len(body) > self.batch_bytes and stop - start > 1:
            # Text beyond ASCII made the batch longer in bytes than in characters.
            self._halves(lines, start, stop, outcome)
            return
        if self.gzip:
            body = gzip_body(body)
        logger.debug("posting lines %d to %d: %.500r", start, stop, body)

        try:
            answer, retries = post_with_retries(
                self.client,
                body,
                policy=self.policy,
                content_encoding="gzip" if self.gzip else None,
                give_up=self._give_up,
            )
        except UndeliverableError as exc:
            outcome.requests += exc.retries + 1
            outcome.retried += exc.retries
            outcome.undelivered.append((start, stop))
            self._fail(exc.failure)
            return
        outcome.requests += retries + 1
        outcome.retried += retries
        outcome.bytes += len(body)

        if answer.status_code == 204:
            outcome.written += stop - start
            return
        if answer.status_code not in (*REFUSED_STATUSES, 413):
            outcome.undelivered.append((start, stop))
            self._fail(
                ServerError(
                    "the write was refused", status=answer.status_code, detail=_error_text(answer)
                )
            )
            return

        reason = (
            _error_text(answer)
            if answer.status_code in REFUSED_STATUSES
            else "the line is larger than the server accepts"
        )
        dropped = _DROPPED.search(reason)
        if stop - start == 1 or (dropped and int(dropped.group(1)) == stop - start):
            outcome.refused.extend((i, reason) for i in range(start, stop))
            return
        self._halves(lines, start, stop, outcome)

    def _halves(self, lines: list[str], start: int, stop: int, outcome: _Outcome) -> None:
        middle = (start + stop) // 2
        self._deliver(lines, start, middle, outcome)
        self._deliver(lines, middle, stop, outcome)

    def _fail(self, failure: ServerError) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = failure
                logger.error("giving up on the write: %s", failure)
        self._give_up.set()
