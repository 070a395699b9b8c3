"""The collector's durable queue: accepted events kept on disk until InfluxDB has them.

An event is answered 202 only once it is on disk, so :class:`EventStore` is a
queue in one SQLite file (the standard library's ``sqlite3``) in WAL mode with
``synchronous=FULL``: a commit returns after the write-ahead log is flushed to
the disk (fsync), and a process killed at any moment afterwards (``kill -9``)
finds the events again at the next start.

One connection, one thread
    Every statement runs on one dedicated thread, which owns the connection.
    :meth:`EventStore.put` and the forwarder's calls are queued to it and
    awaited. When the thread wakes it takes *every* call waiting and runs them
    in one transaction, with one fsync (group commit), and wakes each waiting
    event loop once for all of them. Under load many requests share a commit,
    so the disk's flush time bounds the commits per second, not the events per
    second. A group of puts is two calls into SQLite whatever its size, since
    each call hands the GIL to the busy event loop and back. The file is
    opened with an exclusive lock (``locking_mode=EXCLUSIVE``): a second
    collector on the same file is refused at once
    (:class:`~journeys.errors.StoreError`) instead of both forwarding the same
    events, and so is any other program (the ``sqlite3`` shell) while the
    collector runs. The lock goes with the process, however it ends.

Tables
    ``events``: the queue, oldest first: ``id``, ``site``, ``stored_at`` (ms),
    ``size`` (bytes of the row) and ``row``, the accepted row as JSON (column
    name to value, ``"time"`` in integer nanoseconds, ``"received_at"`` in
    milliseconds, ``"event_id"``: the sender's, or one the store made).

    ``seen``: ``(site, event_id)`` of every event stored within the dedup
    window, with the time it was first stored (recorded by a trigger in the
    statement that queues the row). A row whose ``event_id`` the
    same site sent within the window is a duplicate: it is not stored again and
    ``put`` answers False for it, whether the first copy came earlier in the
    same request, in an earlier request, before a restart, or was written to
    InfluxDB already. Ids older than the window are pruned in small steps by
    the store's thread.

Collector-made ids
    A row without ``event_id`` is never a duplicate: ``put`` gives it one of
    its own, ``"c-"`` and a random UUID (``c-3f2b...``, 38 characters), kept in
    the queued row and so written to InfluxDB as its ``event_id``. Without it,
    identical events (a server posting the same pageview twice in a
    millisecond) were told apart by nothing, and the writer's check against
    the stored points took those of a later batch for a rewrite of the
    earlier one and stored them once. With it, each is an event of its own,
    and a batch written again after a crash still holds the same ids, so it
    is still recognised. The ``c-`` says downstream that the sender gave no
    id. These ids skip the dedup lookup (they cannot repeat), but the trigger
    records them in ``seen`` like any other.

# Limitation: collector-made ids fill the dedup table (about 120 bytes each) and count
# towards max_ids, shortening the window of the senders' own ids under a flood of
# id-less events; a flag the trigger could read (a column of events) would keep them out.

    ``dead_letters``: rows InfluxDB refused (a type conflict, a value it
    cannot store), moved there by :meth:`EventStore.refuse` with the reason,
    never dropped; :meth:`EventStore.dead_letters` reads them back, for
    :func:`journeys.collect.forward.rows_frame` and ``db.write`` once fixed.

Bounds
    ``max_events`` and ``max_bytes`` bound the queue (rows waiting for
    InfluxDB, counted in the bytes of their JSON). A put that would pass
    either is refused whole with :class:`~journeys.errors.StoreFull`, whose
    ``retry_after`` estimates from the rate of writes to InfluxDB in the last
    minute when room will be made (30 s while nothing was written); the
    service answers 503 with that ``Retry-After``, and the sender keeps its
    events. A disk that is full is a :class:`~journeys.errors.StoreFull` too.
    ``max_ids`` bounds the dedup table: beyond it the oldest ids are pruned
    early, so the window shrinks under a flood rather than the disk filling up
    (the log says to which span). A UUID id costs about 120 bytes of disk
    (measured: the table and its index), so the default 10 million take about
    1.2 GB. Dead letters and dedup ids are outside ``max_bytes``, which bounds
    the queue.

# Limitation: dead letters are kept without bound and read back only with
# EventStore.dead_letters(); a bound of their own and a command to list them and
# queue them again once the cause is fixed (a type conflict) would complete them.

Examples
--------
>>> store = EventStore(Path("spool/events.sqlite3"))  # doctest: +SKIP
>>> row = {"event_type": "pageview", "time": 1, "event_id": "a"}
>>> await store.put("shop", [row, row])  # doctest: +SKIP
[True, False]
>>> store.stats()["pending"]  # doctest: +SKIP
1
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import queue
import sqlite3
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from journeys.errors import StoreError, StoreFull

__all__ = ["EventStore", "StoreError", "StoreFull", "StoredRow"]

logger = logging.getLogger(__name__)

#: The version of the tables, kept in SQLite's ``user_version``.
SCHEMA_VERSION = 1

#: Seconds between two passes that prune the dedup ids, whatever the load.
PRUNE_EVERY = 60.0

#: The most dedup ids one pruning step deletes, so that puts wait little for it.
PRUNE_STEP = 10_000

#: ``retry_after`` while nothing has been written to InfluxDB lately.
DEFAULT_RETRY_AFTER = 30

#: The longest ``retry_after`` a full store asks for.
MOST_RETRY_AFTER = 300

#: Seconds of acknowledged writes the drain rate is measured over.
RATE_WINDOW = 60.0

#: Seconds between two warnings that the dedup window is cut short by ``max_ids``.
WINDOW_WARNING_EVERY = 3600.0

_TABLES = (
    """CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        size INTEGER NOT NULL,
        row TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS seen (
        site TEXT NOT NULL,
        event_id TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (site, event_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS seen_by_time ON seen (seen_at)",
    """CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        refused_at INTEGER NOT NULL,
        reason TEXT NOT NULL,
        row TEXT NOT NULL
    )""",
)

#: Records the id of every row queued, in the same statement: a row is only ever
#: inserted once it is known to be new, so its id replaces any expired one.
_REMEMBER_IDS = """CREATE TEMP TRIGGER remember_ids AFTER INSERT ON main.events
    WHEN NEW.row ->> '$.event_id' IS NOT NULL
    BEGIN
        INSERT OR REPLACE INTO seen (site, event_id, seen_at)
        VALUES (NEW.site, NEW.row ->> '$.event_id', NEW.stored_at);
    END"""

_DELETE_RETURNING_SIZE = (
    "DELETE FROM events WHERE id IN (SELECT value FROM json_each(?)) RETURNING size"
)

_STOP = object()

#: Encodes the rows kept; one made once, since json.dumps with options makes one per call.
_ROW_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class StoredRow:
    """One queued event, as :meth:`EventStore.take` hands it to the forwarder.

    Attributes
    ----------
    id : int
        Its place in the queue, to pass to :meth:`EventStore.done` or ``refuse``.
    site : str
        The site that sent it.
    row : dict
        The accepted row, as given to :meth:`EventStore.put`.
    """

    id: int
    site: str
    row: dict


@dataclass
class _Counts:
    """What the store holds; replaced by the store's thread after each commit."""

    pending: int = 0
    bytes: int = 0
    ids: int = 0
    dead: int = 0
    oldest: int | None = None  # stored_at (ms) of the oldest queued row


class _Call:
    """One call queued to the store's thread, and what came of it."""

    __slots__ = ("args", "failed", "freed", "future", "kind", "loop", "outcome")

    def __init__(self, kind: str, args: tuple, loop: asyncio.AbstractEventLoop):
        self.kind = kind
        self.args = args
        self.loop = loop
        self.future = loop.create_future()
        self.outcome = None
        self.failed = False
        self.freed = 0


class EventStore:
    """A durable queue of accepted events, de-duplicated by ``(site, event_id)``.

    Parameters
    ----------
    path : pathlib.Path
        The SQLite file; its folder is made when missing. A folder that exists
        gets ``events.sqlite3`` inside it.
    max_events : int
        The most events waiting for InfluxDB.
    max_bytes : int
        The most bytes of waiting events (their JSON).
    dedup_window : float
        Seconds an ``event_id`` is remembered after its event was stored: a row
        with the same site and id within that time is a duplicate. 0 turns
        de-duplication off.
    max_ids : int
        The most ids remembered; beyond it the oldest are forgotten early.

    Raises
    ------
    StoreError
        When the file cannot be opened, or another process has it open.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_events: int = 1_000_000,
        max_bytes: int = 1 << 30,
        dedup_window: float = 7 * 86400,
        max_ids: int = 10_000_000,
    ):
        for name, value in (
            ("max_events", max_events),
            ("max_bytes", max_bytes),
            ("max_ids", max_ids),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        if isinstance(dedup_window, bool) or not dedup_window >= 0:
            raise ValueError(f"dedup_window must be 0 or more seconds, not {dedup_window!r}")
        path = Path(path)
        self.path = path / "events.sqlite3" if path.is_dir() else path
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.dedup_window = float(dedup_window)
        self.max_ids = max_ids

        self._counts = _Counts()
        self._claimed: set[int] = set()
        self._acked: deque[tuple[float, int, int]] = deque()  # (monotonic, events, bytes)
        self._stored = 0
        self._duplicates = 0
        self._commits = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._last_prune = time.monotonic()
        self._prune_backlog = True
        self._window_warned = -math.inf
        self._conn: sqlite3.Connection | None = None

        opened: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._serve, args=(opened,), name="journeys-store", daemon=True
        )
        self._thread.start()
        problem = opened.get()
        if problem is not None:
            self._closed = True
            self._thread.join()
            raise problem
        counts = self._counts
        logger.info(
            "event store %s: %d events waiting (%d bytes), %d dedup ids, %d dead letters",
            self.path,
            counts.pending,
            counts.bytes,
            counts.ids,
            counts.dead,
        )

    # -- the public calls -------------------------------------------------------------

    async def put(self, site: str, rows: list[dict]) -> list[bool]:
        """Keep ``rows`` of ``site`` on disk; say for each whether it was new.

        Returns only once the transaction holding them is committed to disk.

        Parameters
        ----------
        site : str
            The site (the write key's owner) that sent them; ids are unique per site.
        rows : list of dict
            Accepted rows: column name to value, ``"time"`` (int nanoseconds),
            ``"received_at"`` (int ms) and optionally ``"event_id"`` (str).

        Returns
        -------
        list of bool
            True for a row stored now, False for a duplicate (same site and
            ``event_id`` stored within the dedup window, or earlier in ``rows``).

        Raises
        ------
        StoreFull
            When the new rows would pass ``max_events`` or ``max_bytes``, or the
            disk is full; none is stored.
        StoreError
            When the disk fails or the store is closed; none is stored.
        """
        if not isinstance(site, str) or not site or not _is_utf8(site):
            raise ValueError(f"site must be a non-empty string, not {site!r}")
        encoded = [_encode(i, row) for i, row in enumerate(rows)]
        if not encoded:
            return []
        return await self._call("put", site, encoded)

    async def take(self, n: int) -> list[StoredRow]:
        """The oldest ``n`` queued rows not taken already.

        A row taken stays claimed until :meth:`done`, :meth:`refuse` or
        :meth:`release`, or until the store is opened again: a row taken but
        never acknowledged is taken again after a restart.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n!r}")
        return await self._call("take", n)

    async def done(self, ids: list[int]) -> None:
        """Remove rows written to InfluxDB from the queue."""
        if len(ids):
            await self._call("done", [int(i) for i in ids])

    async def refuse(self, ids: list[int], reasons: list[str]) -> None:
        """Move rows InfluxDB refused to the dead letters, each with its reason."""
        if len(ids) != len(reasons):
            raise ValueError(f"{len(ids)} ids but {len(reasons)} reasons: give one reason per id")
        if len(ids):
            await self._call("refuse", [int(i) for i in ids], [str(r) for r in reasons])

    async def release(self, ids: list[int]) -> None:
        """Give taken rows back, to be taken again."""
        if len(ids):
            await self._call("release", [int(i) for i in ids])

    async def dead_letters(self, limit: int = 100) -> list[dict]:
        """The oldest ``limit`` refused rows.

        Each is a dict with ``id``, ``site``, ``stored_at`` and ``refused_at``
        (ms since the epoch), ``reason`` and ``row`` (as given to :meth:`put`).
        """
        return await self._call("dead_letters", int(limit))

    def stats(self) -> dict:
        """What the store holds, for ``/health`` and the log.

        Returns
        -------
        dict
            ``pending`` (events waiting for InfluxDB), ``bytes`` (their size),
            ``oldest_age`` (seconds the oldest has waited, None when none waits),
            ``refused`` (dead letters held), ``dedup_ids``; ``stored``,
            ``duplicates`` and ``commits`` (transactions) since the store was
            opened; ``max_events``, ``max_bytes`` and ``path``.
        """
        counts = self._counts
        oldest = None if counts.oldest is None else max(0.0, time.time() - counts.oldest / 1e3)
        return {
            "pending": counts.pending,
            "bytes": counts.bytes,
            "oldest_age": oldest,
            "refused": counts.dead,
            "dedup_ids": counts.ids,
            "stored": self._stored,
            "duplicates": self._duplicates,
            "commits": self._commits,
            "max_events": self.max_events,
            "max_bytes": self.max_bytes,
            "path": str(self.path),
        }

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def pending(self) -> int:
        """Events waiting for InfluxDB."""
        return self._counts.pending

    def close(self) -> None:
        """Finish the calls queued, then close the file; later calls raise StoreError."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        logger.info("closed event store %s with %d events waiting", self.path, self.pending)

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EventStore {self.path}: {self.pending} pending>"

    async def _call(self, kind: str, *args):
        if self._closed:
            raise StoreError(f"the event store {self.path} is closed", retry_after=5)
        call = _Call(kind, args, asyncio.get_running_loop())
        self._queue.put(call)
        return await call.future

    # -- the store's thread -----------------------------------------------------------

    def _serve(self, opened: queue.SimpleQueue) -> None:
        """The thread: open the file, then serve calls in groups until told to stop."""
        try:
            self._open()
        except (sqlite3.Error, OSError) as exc:
            if self._conn is not None:
                self._conn.close()
            opened.put(_open_error(self.path, exc))
            return
        opened.put(None)

        stopping = False
        while not stopping:
            calls = self._next_calls()
            stopping = _STOP in calls
            calls = [call for call in calls if call is not _STOP]
            try:
                self._run(calls)
            except Exception as exc:  # noqa: BLE001 (a bug must not leave callers waiting)
                logger.exception("the event store's thread failed")
                _roll_back(self._conn)
                error = StoreError(f"the event store {self.path} failed: {exc}")
                for call in calls:
                    if call.outcome is None:
                        call.outcome, call.failed = error, True
            _settle(calls)
            if time.monotonic() - self._last_prune >= PRUNE_EVERY or (
                self._prune_backlog and self._queue.empty()
            ):
                self._prune()
        self._conn.close()

        # Calls queued after close() began (from another thread) are answered too.
        late = [call for call in self._waiting() if call is not _STOP]
        for call in late:
            call.outcome, call.failed = StoreError(f"the event store {self.path} is closed"), True
        _settle(late)

    def _next_calls(self) -> list:
        """Every call waiting; blocks for the first one while there is nothing to prune."""
        try:
            if self._prune_backlog:
                calls = [self._queue.get_nowait()]
            else:
                calls = [self._queue.get(timeout=PRUNE_EVERY)]
        except queue.Empty:
            return []
        return calls + self._waiting()

    def _waiting(self) -> list:
        """The calls in the queue now, without waiting."""
        calls = []
        while True:
            try:
                calls.append(self._queue.get_nowait())
            except queue.Empty:
                return calls

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        self._conn = conn
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise sqlite3.OperationalError(f"it cannot be put in WAL mode (it is in {mode})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA journal_size_limit=67108864")  # the WAL shrinks back to 64 MB

        conn.execute("BEGIN EXCLUSIVE")  # held until the file is closed: locking_mode above
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.execute("ROLLBACK")
            raise sqlite3.DatabaseError(
                f"it was made by a newer journeys (tables version {version}, this one knows "
                f"{SCHEMA_VERSION}): upgrade journeys, or give the collector another file"
            )
        for statement in _TABLES:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
        if self.dedup_window:
            conn.execute(_REMEMBER_IDS)

        counts = self._counts
        counts.pending, counts.bytes = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM events"
        ).fetchone()
        counts.ids = conn.execute("SELECT COUNT(*) FROM seen").fetchone()[0]
        counts.dead = conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        counts.oldest = self._oldest()

    def _oldest(self) -> int | None:
        found = self._conn.execute("SELECT stored_at FROM events ORDER BY id LIMIT 1").fetchone()
        return None if found is None else found[0]

    def _run(self, calls: list[_Call]) -> None:
        """Every write of ``calls`` in one transaction, then the reads."""
        writes = [c for c in calls if c.kind in ("put", "done", "refuse")]
        if writes:
            self._write(writes)
        for call in calls:
            if call.kind == "take":
                call.outcome = self._take(*call.args)
            elif call.kind == "release":
                self._claimed.difference_update(call.args[0])
            elif call.kind == "dead_letters":
                call.outcome = self._dead_letters(*call.args)

    def _write(self, calls: list[_Call]) -> None:
        """Run the writing calls in one transaction; count what they did once committed."""
        conn = self._conn
        counts = replace(self._counts)
        now = _now_ms()
        puts = [call for call in calls if call.kind == "put"]
        alone = len(puts) == len(calls)  # then one statement, which is its own transaction
        try:
            if not alone:
                conn.execute("BEGIN IMMEDIATE")
            if puts:
                self._put(puts, counts, now)
            for call in calls:
                if call.kind == "done":
                    self._remove(call, counts, call.args[0])
                elif call.kind == "refuse":
                    self._refuse(call, counts, now)
            if not alone:
                counts.oldest = self._oldest()
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _roll_back(conn)
            logger.error("the event store %s could not commit: %s", self.path, exc)
            error = _write_error(self.path, exc)
            for call in calls:
                call.outcome, call.failed = error, True
            return

        self._counts = counts
        self._commits += 1
        for call in calls:
            if call.failed:
                continue
            if call.kind == "put":
                fresh = sum(call.outcome)
                self._stored += fresh
                self._duplicates += len(call.outcome) - fresh
            else:
                self._claimed.difference_update(call.args[0])
                if call.kind == "done":
                    self._acked.append((time.monotonic(), len(call.args[0]), call.freed))

    def _put(self, calls: list[_Call], counts: _Counts, now: int) -> None:
        """Store the new rows of every put in two statements, whatever their number.

        The ids already seen are read in one query; which rows are new, and
        whether each put fits the bounds, is settled here, in call order; then
        the rows of the puts that fit are inserted by one statement, and the
        trigger ``remember_ids`` records their ids.

        Each call into SQLite hands the GIL back and forth, which costs up to a
        switch interval (5 ms) while the event loop is busy: a statement per
        row, or per table, would slow the whole service down.
        """
        seen = self._seen(calls)
        cutoff = now - int(self.dedup_window * 1000)
        ids: dict[tuple[str, str], bool] = {}  # id recorded now -> whether it was new
        events = []
        for call in calls:
            site, rows = call.args
            fresh, added = [], {}
            for event_id, _, _ in rows:
                key = (site, event_id)
                new = (
                    event_id is None
                    or not self.dedup_window
                    or (key not in ids and key not in added and seen.get(key, -1) < cutoff)
                )
                if new and event_id is not None and self.dedup_window:
                    added[key] = key not in seen
                fresh.append(new)

            kept = [
                (site, size, text) for (_, text, size), new in zip(rows, fresh, strict=True) if new
            ]
            size = sum(k[1] for k in kept)
            events_over = counts.pending + len(kept) > self.max_events
            if events_over or counts.bytes + size > self.max_bytes:
                call.outcome, call.failed = self._full(counts, len(kept), size), True
                continue
            if kept and counts.pending == 0:
                counts.oldest = now
            counts.pending += len(kept)
            counts.bytes += size
            counts.ids += sum(added.values())
            if self.dedup_window:  # the trigger records collector-made ids too
                counts.ids += sum(1 for event_id, _, _ in rows if event_id is None)
            ids.update(added)
            events.extend(kept)
            call.outcome = fresh

        if events:
            self._conn.execute(
                "INSERT INTO events (site, stored_at, size, row) "
                "SELECT value ->> 0, ?, value ->> 1, value ->> 2 FROM json_each(?)",
                (now, json.dumps(events)),
            )

    def _seen(self, calls: list[_Call]) -> dict[tuple[str, str], int]:
        """When each id of the puts was first stored, for those seen before."""
        if not self.dedup_window:
            return {}
        keys = [[c.args[0], r[0]] for c in calls for r in c.args[1] if r[0] is not None]
        if not keys:
            return {}
        found = self._conn.execute(
            "SELECT s.site, s.event_id, s.seen_at FROM json_each(?) AS j "
            "JOIN seen AS s ON s.site = j.value ->> 0 AND s.event_id = j.value ->> 1",
            (json.dumps(keys),),
        ).fetchall()
        return {(site, event_id): seen_at for site, event_id, seen_at in found}

    def _refuse(self, call: _Call, counts: _Counts, now: int) -> None:
        ids, reasons = call.args
        # One statement for all (not one per row): see _put on the GIL.
        self._conn.execute(
            "INSERT INTO dead_letters (site, stored_at, refused_at, reason, row) "
            "SELECT e.site, e.stored_at, ?, j.value ->> 1, e.row FROM json_each(?) AS j "
            "JOIN events AS e ON e.id = j.value ->> 0 ORDER BY j.key",
            (now, json.dumps(list(zip(ids, reasons, strict=True)))),
        )
        counts.dead += self._remove(call, counts, ids)

    def _remove(self, call: _Call, counts: _Counts, ids: list[int]) -> int:
        """Delete the queued rows of ``ids``; return how many there were."""
        sizes = self._conn.execute(_DELETE_RETURNING_SIZE, (json.dumps(ids),)).fetchall()
        call.freed = sum(size for (size,) in sizes)
        counts.pending -= len(sizes)
        counts.bytes -= call.freed
        return len(sizes)

    def _take(self, n: int) -> list[StoredRow]:
        found = self._conn.execute(
            "SELECT id, site, row FROM events ORDER BY id LIMIT ?", (n + len(self._claimed),)
        ).fetchall()
        taken = [
            StoredRow(i, site, json.loads(text))
            for i, site, text in found
            if i not in self._claimed
        ][:n]
        self._claimed.update(row.id for row in taken)
        return taken

    def _dead_letters(self, limit: int) -> list[dict]:
        found = self._conn.execute(
            "SELECT id, site, stored_at, refused_at, reason, row FROM dead_letters "
            "ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        names = ("id", "site", "stored_at", "refused_at", "reason")
        return [dict(zip(names, f[:5], strict=True), row=json.loads(f[5])) for f in found]

    def _full(self, counts: _Counts, events: int, size: int) -> StoreFull:
        """The error for a put of ``events`` rows and ``size`` bytes that does not fit."""
        retry_after = self._retry_after(
            counts.pending + events - self.max_events, counts.bytes + size - self.max_bytes
        )
        return StoreFull(
            f"the event store is full: it holds {counts.pending:,} events "
            f"(max_events={self.max_events:,}) in {counts.bytes:,} bytes "
            f"(max_bytes={self.max_bytes:,}), and {events:,} more events of {size:,} bytes "
            f"would pass that; try again in {retry_after} s, once more are written to InfluxDB",
            retry_after=retry_after,
        )

    def _retry_after(self, events: int, size: int) -> int:
        """Seconds until ``events`` events and ``size`` bytes are likely written out."""
        now = time.monotonic()
        while self._acked and self._acked[0][0] < now - RATE_WINDOW:
            self._acked.popleft()
        if not self._acked:
            return DEFAULT_RETRY_AFTER
        span = max(1.0, now - self._acked[0][0])
        rate_events = sum(a[1] for a in self._acked) / span
        rate_bytes = sum(a[2] for a in self._acked) / span
        seconds = max(events / max(rate_events, 1e-9), size / max(rate_bytes, 1e-9))
        return int(min(MOST_RETRY_AFTER, max(1, math.ceil(seconds))))

    def _prune(self) -> None:
        """Forget a step of dedup ids: those older than the window, then those past max_ids."""
        self._last_prune = time.monotonic()
        conn = self._conn
        now = _now_ms()
        cutoff = now - int(self.dedup_window * 1000)
        over = max(0, self._counts.ids - self.max_ids)
        try:
            conn.execute("BEGIN IMMEDIATE")
            removed = conn.execute(
                "DELETE FROM seen WHERE (site, event_id) IN (SELECT site, event_id FROM seen "
                "WHERE seen_at < ? LIMIT ?)",
                (cutoff, PRUNE_STEP),
            ).rowcount
            early = 0
            if over > removed:
                early = conn.execute(
                    "DELETE FROM seen WHERE (site, event_id) IN (SELECT site, event_id FROM seen "
                    "ORDER BY seen_at LIMIT ?)",
                    (min(PRUNE_STEP, over - removed),),
                ).rowcount
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _roll_back(conn)
            logger.error("could not forget old dedup ids in %s: %s", self.path, exc)
            return

        self._counts = replace(self._counts, ids=self._counts.ids - removed - early)
        self._prune_backlog = removed + early == PRUNE_STEP
        if removed:
            logger.debug("forgot %d dedup ids older than the window", removed)
        if early and self._last_prune - self._window_warned >= WINDOW_WARNING_EVERY:
            self._window_warned = self._last_prune
            first = conn.execute("SELECT MIN(seen_at) FROM seen").fetchone()[0]
            kept = (now - first) / 1e3 if first is not None else 0.0
            logger.warning(
                "the dedup ids reached max_ids=%d: ids are remembered for %s instead of %s; "
                "raise max_ids (about 120 bytes of disk each) to keep the whole window",
                self.max_ids,
                _span(kept),
                _span(self.dedup_window),
            )


def _encode(index: int, row: dict) -> tuple[str | None, str, int]:
    """A row's ``event_id``, its JSON text and that text's size; refuses what cannot be kept."""
    if not isinstance(row, dict):
        raise TypeError(f"row {index}: a dict of column values was expected, not {row!r:.80}")
    stamp = row.get("time")
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        raise ValueError(
            f"row {index}: 'time' must be an int of nanoseconds since the epoch, not {stamp!r}"
        )
    event_id = row.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not _is_utf8(event_id)):
        raise ValueError(
            f"row {index}: 'event_id' must be a string of Unicode characters or absent, "
            f"not {event_id!r}"
        )
    if event_id is None:
        # A collector-made id (see the module doc); new, so not looked up as a duplicate.
        row = {**row, "event_id": f"c-{uuid.uuid4()}"}
    try:
        text = _ROW_JSON.encode(row)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"row {index} cannot be kept as JSON: {exc}") from None
    return event_id, text, len(text)


def _is_utf8(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (no unpaired surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _span(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 7200 else f"{seconds:.0f} s"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _settle(calls: list[_Call]) -> None:
    """Hand each call's outcome to its event loop, waking each loop once."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Call]] = {}
    for call in calls:
        by_loop.setdefault(call.loop, []).append(call)
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, settled)
        except RuntimeError:  # the loop is closed: nobody waits any more
            logger.debug("an event loop closed before %d store calls were answered", len(settled))


def _resolve(calls: list[_Call]) -> None:
    for call in calls:
        if call.future.done():  # the caller gave up waiting (a cancelled request)
            continue
        if call.failed:
            call.future.set_exception(call.outcome)
        else:
            call.future.set_result(call.outcome)


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            logger.exception("could not roll back the event store's transaction")


def _open_error(path: Path, exc: Exception) -> StoreError:
    if "locked" in str(exc):
        return StoreError(
            f"the event store {path} is in use by another process (another collector?): "
            "give each collector its own file"
        )
    return StoreError(f"could not open the event store {path}: {exc}")


def _write_error(path: Path, exc: sqlite3.Error) -> StoreError:
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL":
        return StoreFull(
            f"the disk holding the event store {path} is full: make room on it, or give the "
            "store a lower max_bytes",
            retry_after=60,
        )
    return StoreError(
        f"the event store {path} could not keep the events ({exc}); check the disk it is on",
        retry_after=DEFAULT_RETRY_AFTER,
    )
