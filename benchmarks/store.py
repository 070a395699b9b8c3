"""How many durable puts per second the collector's event store takes.

The collector answers a request only once its events are on disk, so under
load the store must keep up with the HTTP endpoint. This drives
:class:`journeys.collect.store.EventStore` the way the service does: ``--concurrency``
asyncio tasks (32, as the collector benchmark's ``wrk -c 32``), each putting
one event at a time with a unique ``event_id`` and waiting for the commit,
until ``--puts`` are stored.

The peer is the obvious way to write the same queue: ``aiosqlite`` (the
asyncio bridge to ``sqlite3``) on the same file settings (WAL,
``synchronous=FULL``), each put its own transaction (the dedup check, the
insert, the commit) under a lock so that puts stay atomic. journeys' store
commits every put waiting in one transaction instead (group commit).

Each put comes after ``--work`` microseconds of CPU on the event loop (150 by
default, about what a request costs the service before the put), and a
first run does that work alone, without a store: the floor. The store's
share of the floor's rate says whether it would slow the service down.

Both stores must give the same answer: every event stored once, the same
rows in both files. Printed: puts per second, transactions, puts per
transaction, and the median and 99th percentile wait of a put.

Run ``scripts/run bench store --help`` for the options; ``--puts 2000`` is a
quick run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import aiosqlite

from journeys.collect.store import EventStore

BASE = 1_764_000_000_000_000_000


def event(i: int) -> dict:
    """An accepted single event, as the contract makes it."""
    return {
        "event_type": "pageview",
        "user_id": f"u{i % 1000}",
        "device_type": "mobile",
        "page_url": f"https://shop.example/movies/{i % 500}",
        "time": BASE + i * 1_000_000,
        "received_at": BASE // 1_000_000 + i,
        "event_id": f"0f8fad5b-d9cb-469f-a165-{i:012d}",
    }


async def drive(put, puts: int, concurrency: int, work: float) -> tuple[float, list[float]]:
    """Seconds to make ``puts`` single-event puts from ``concurrency`` tasks; the waits.

    Each put follows ``work`` seconds of CPU on the event loop, as a request's
    parsing and checks would take.
    """
    waits: list[float] = []

    async def worker(first: int) -> None:
        for i in range(first, puts, concurrency):
            began = time.perf_counter()
            while time.perf_counter() - began < work:
                pass
            await put(event(i))
            waits.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return time.perf_counter() - began, waits


async def run_floor(path: Path, puts: int, concurrency: int, work: float) -> dict:
    """The work alone, without a store: the most puts per second the loop allows."""

    async def put(row: dict) -> None:
        await asyncio.sleep(0)

    seconds, waits = await drive(put, puts, concurrency, work)
    return {"seconds": seconds, "waits": waits, "commits": 0}


async def run_journeys(path: Path, puts: int, concurrency: int, work: float) -> dict:
    store = EventStore(path)

    async def put(row: dict) -> None:
        assert await store.put("shop", [row]) == [True]

    try:
        seconds, waits = await drive(put, puts, concurrency, work)
        commits = store.stats()["commits"]
    finally:
        store.close()
    return {"seconds": seconds, "waits": waits, "commits": commits}


async def run_peer(path: Path, puts: int, concurrency: int, work: float) -> dict:
    db = await aiosqlite.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL"):
        await db.execute(f"PRAGMA {pragma}")
    await db.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, site TEXT NOT NULL, row TEXT NOT NULL)"
    )
    await db.execute(
        "CREATE TABLE seen (site TEXT, event_id TEXT, PRIMARY KEY (site, event_id)) WITHOUT ROWID"
    )
    lock = asyncio.Lock()
    commits = 0

    async def put(row: dict) -> None:
        nonlocal commits
        text = json.dumps(row, separators=(",", ":"))
        async with lock:
            await db.execute("BEGIN IMMEDIATE")
            cursor = await db.execute(
                "INSERT OR IGNORE INTO seen VALUES (?, ?)", ("shop", row["event_id"])
            )
            assert cursor.rowcount == 1
            await db.execute("INSERT INTO events (site, row) VALUES (?, ?)", ("shop", text))
            await db.execute("COMMIT")
            commits += 1

    try:
        seconds, waits = await drive(put, puts, concurrency, work)
    finally:
        await db.close()
    return {"seconds": seconds, "waits": waits, "commits": commits}


def stored_rows(path: Path) -> list[dict]:
    with sqlite3.connect(path) as conn:
        return sorted(
            (json.loads(text) for (text,) in conn.execute("SELECT row FROM events")),
            key=lambda row: row["time"],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--puts", type=int, default=20_000, help="single-event puts to make")
    parser.add_argument("--concurrency", type=int, default=32, help="puts waiting at once")
    parser.add_argument("--folder", type=Path, default=None, help="where the files go")
    parser.add_argument(
        "--work",
        type=float,
        default=150.0,
        help="microseconds of CPU on the event loop before each put, as a request takes "
        "(0: the store alone)",
    )
    options = parser.parse_args()
    work = options.work / 1e6

    with tempfile.TemporaryDirectory(dir=options.folder, prefix="bench-store-") as folder:
        folder = Path(folder)
        runs = {
            "the work alone, no store (the floor)": (run_floor, "floor"),
            "journeys EventStore": (run_journeys, "journeys.sqlite3"),
            "aiosqlite, a commit per put": (run_peer, "peer.sqlite3"),
        }
        results = {
            name: asyncio.run(run(folder / file, options.puts, options.concurrency, work))
            for name, (run, file) in runs.items()
        }
        ours, theirs = (
            stored_rows(folder / "journeys.sqlite3"),
            stored_rows(folder / "peer.sqlite3"),
        )
        expected = [event(i) for i in range(options.puts)]
        assert ours == expected, "the journeys store does not hold every event once"
        assert theirs == expected, "the peer does not hold every event once"

    print(
        f"{options.puts:,} single-event puts, {options.concurrency} at once, each after "
        f"{options.work:g} µs of work on the event loop; the same events stored by both\n"
    )
    print("| store | puts/s | transactions | puts per transaction | wait p50 | wait p99 |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        waits = sorted(result["waits"])
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        print(
            f"| {name} | {options.puts / result['seconds']:,.0f} | {result['commits']:,} | "
            f"{options.puts / result['commits'] if result['commits'] else 0:.1f} | "
            f"{statistics.median(waits) * 1e3:.2f} ms | {p99 * 1e3:.2f} ms |"
        )
    ratio = (
        results["aiosqlite, a commit per put"]["seconds"]
        / results["journeys EventStore"]["seconds"]
    )
    floor = results["the work alone, no store (the floor)"]["seconds"]
    share = floor / results["journeys EventStore"]["seconds"]
    print(f"\njourneys stores {ratio:.1f}x as many puts per second as the peer")
    if options.work > 0:
        print(f"journeys keeps {share:.0%} of the floor's rate (the service's goal: 70 %)")


if __name__ == "__main__":
    main()
