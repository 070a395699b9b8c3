"""Reading events back into a frame: journeys against DataFrameClient and the server's ceiling.

Writes ``--events`` generated events (1,000,000 by default) once to a
throwaway InfluxDB, then reads the same range back, one after the other:

- ``ceiling (JSON)``: the statement journeys sends, fetched with plain
  ``requests`` (chunked, ``epoch=ns``) and thrown away: what the server and
  the wire cost before anything is decoded;
- ``ceiling (msgpack)``: the same asking for MessagePack, the format journeys
  reads;
- ``journeys``: ``db.query(start, stop)``, one query;
- ``journeys, slices``: ``db.query(start, stop, slice=..., workers=...)``;
- ``influxdb DataFrameClient``: the ``influxdb`` package's frame client on the
  same statement, ``epoch="ns"``, in one answer (it cannot chunk a frame query).

Each row says its seconds, its rows, whether every nanosecond came back, and
its time as a multiple of the JSON ceiling. The journeys frames are checked to
equal the written events exactly, and the sliced read to equal the one-query
read row for row.

    scripts/run bench read                 # 1,000,000 events
    scripts/run bench read --events 100000 # a quick run
"""

from __future__ import annotations

import argparse
import gc
import logging
import time

import numpy as np
import pandas as pd
import requests

import journeys as jy
from journeys.query import select_clause, stored_keys

DATABASE = "bench"
START, DAYS = pd.Timestamp("2024-05-01", tz="UTC"), 30
STOP = START + pd.Timedelta(days=DAYS)


def events(count: int) -> pd.DataFrame:
    """``count`` generated events: enough users for them, cut to the first ``count``."""
    users = max(20, count * 3000 // 175_000 + 50)
    frame = jy.generate(users=users, start=START, days=DAYS, seed=7)
    if len(frame) < count:
        raise SystemExit(f"the generator made {len(frame):,} events, fewer than {count:,}")
    return frame.iloc[:count]


def ceiling(
    url: str, statement: str, accept: str, chunk_size: int, encoding: str | None = None
) -> tuple[float, int]:
    """Seconds to fetch the answer with plain HTTP and throw it away, and its bytes."""
    began = time.perf_counter()
    answer = requests.get(
        f"{url}/query",
        params={
            "db": DATABASE,
            "q": statement,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(chunk_size),
        },
        headers={"Accept": accept, **({"Accept-Encoding": encoding} if encoding else {})},
        stream=True,
        timeout=600,
    )
    answer.raise_for_status()
    size = sum(len(piece) for piece in answer.iter_content(chunk_size=1 << 20))
    return time.perf_counter() - began, size


def peer(url: str, statement: str, chunk_size: int) -> tuple[float, pd.DataFrame | None, str]:
    """The influxdb package's DataFrameClient on the same statement."""
    from influxdb import DataFrameClient

    host, port = url.removeprefix("http://").split(":")
    client = DataFrameClient(host=host, port=int(port), database=DATABASE, timeout=600)
    began = time.perf_counter()
    try:
        # Not chunked: influxdb 5.3 cannot chunk a frame query (its DataFrameClient takes
        # len() of the generator of chunks, and it reads a chunked MessagePack answer as
        # one document); its line reader is quadratic besides (50,000 rows took 49 s).
        answer = client.query(statement, epoch="ns")
        frame = answer["events"]
    except Exception as exc:  # a peer that breaks under pandas 3 is reported, not fatal
        return time.perf_counter() - began, None, f"failed: {type(exc).__name__}: {exc}"
    return time.perf_counter() - began, frame, ""


def intact(index: pd.Index, expected: np.ndarray) -> bool:
    """Whether an index holds exactly the expected nanoseconds (in any order of ties)."""
    if len(index) != len(expected):
        return False
    stamps = pd.DatetimeIndex(index).as_unit("ns").asi8
    return bool((np.sort(stamps) == np.sort(expected)).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events written")
    parser.add_argument("--chunk-size", type=int, default=20_000, help="points per chunk")
    parser.add_argument("--slice", default="7D", help="slice length of the sliced read")
    parser.add_argument("--workers", type=int, default=2, help="slices read side by side")
    parser.add_argument("--no-peer", action="store_true", help="leave DataFrameClient out")
    parser.add_argument("-v", "--verbose", action="store_true", help="log journeys' steps")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    frame = events(args.events)
    expected = frame.index.asi8
    with jy.LocalInfluxDB(database=DATABASE) as server:
        db = jy.connect(server.url, database=DATABASE, timeout=600)
        began = time.perf_counter()
        db.write(frame, progress=False)
        print(f"wrote {len(frame):,} events in {time.perf_counter() - began:.1f} s")

        stored = stored_keys(db)
        statement = (
            f"{select_clause(stored.fields)} FROM events "
            f"WHERE time >= {START.value} AND time < {STOP.value}"
        )
        rows = []
        for label, accept, encoding in (
            ("ceiling: JSON (requests' default gzip)", "application/json", None),
            ("ceiling: JSON, uncompressed", "application/json", "identity"),
            ("ceiling: msgpack, uncompressed", "application/x-msgpack", "identity"),
        ):
            gc.collect()
            seconds, size = ceiling(server.url, statement, accept, args.chunk_size, encoding)
            rows.append((label, seconds, len(frame), "-", f"{size:,} B"))

        gc.collect()
        began = time.perf_counter()
        back = db.query(START, STOP, chunk_size=args.chunk_size)
        seconds = time.perf_counter() - began
        pd.testing.assert_frame_equal(back, jy.validate(frame))
        rows.append(("journeys", seconds, len(back), intact(back.index, expected), "equal"))

        del back
        gc.collect()
        began = time.perf_counter()
        sliced = db.query(
            START, STOP, slice=args.slice, workers=args.workers, chunk_size=args.chunk_size
        )
        seconds = time.perf_counter() - began
        pd.testing.assert_frame_equal(sliced, jy.validate(frame))
        label = f"journeys, slice={args.slice} workers={args.workers}"
        rows.append((label, seconds, len(sliced), intact(sliced.index, expected), "equal"))
        del sliced

        if not args.no_peer:
            gc.collect()
            seconds, theirs, note = peer(server.url, statement, args.chunk_size)
            count = 0 if theirs is None else len(theirs)
            ok = theirs is not None and intact(theirs.index, expected)
            if theirs is not None and not note:
                same = sorted(theirs["user_id"]) == sorted(frame["user_id"])
                note = "same user_ids" if same else "other user_ids"
            rows.append(("influxdb DataFrameClient", seconds, count, ok, note))
        db.close()

    base = rows[0][1]
    print(f"\n{'reader':<40} {'seconds':>8} {'rows':>10} {'ns intact':>9} {'x ceiling':>9}  check")
    for name, seconds, count, ok, note in rows:
        print(f"{name:<40} {seconds:>8.2f} {count:>10,} {ok!s:>9} {seconds / base:>9.2f}  {note}")


if __name__ == "__main__":
    main()
