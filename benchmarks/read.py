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

Each row says its seconds and their multiple of the JSON ceiling, the CPU
seconds spent by this process and by the server (which show where the time
goes when the machine is busy with other work), its rows, and whether every
nanosecond came back. The journeys frames are checked to
equal the written events exactly, and the sliced read to equal the one-query
read row for row.

    scripts/run bench read                 # 1,000,000 events
    scripts/run bench read --events 100000 # a quick run
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import time
from pathlib import Path

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


class Clock:
    """Wall seconds, and CPU seconds of this process and of the server, of one block."""

    def __init__(self, server_pid: int | None):
        self.pid = server_pid

    def _server_cpu(self) -> float:
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except (OSError, TypeError):
            return float("nan")
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Clock:
        gc.collect()
        self.began = (time.perf_counter(), time.process_time(), self._server_cpu())
        return self

    def __exit__(self, *exc_info) -> None:
        wall, ours, server = self.began
        self.wall = time.perf_counter() - wall
        self.ours = time.process_time() - ours
        self.server = self._server_cpu() - server


def ceiling(
    url: str, statement: str, accept: str, chunk_size: int, encoding: str | None = None
) -> int:
    """Fetch the answer with plain HTTP and throw it away; return its bytes."""
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
    return sum(len(piece) for piece in answer.iter_content(chunk_size=1 << 20))


def peer(url: str, statement: str) -> tuple[pd.DataFrame | None, str]:
    """The influxdb package's DataFrameClient on the same statement."""
    from influxdb import DataFrameClient

    host, port = url.removeprefix("http://").split(":")
    client = DataFrameClient(host=host, port=int(port), database=DATABASE, timeout=600)
    try:
        # Not chunked: influxdb 5.3 cannot chunk a frame query (its DataFrameClient takes
        # len() of the generator of chunks, and it reads a chunked MessagePack answer as
        # one document); its line reader is quadratic besides (50,000 rows took 49 s).
        return client.query(statement, epoch="ns")["events"], ""
    except Exception as exc:  # a peer that breaks under pandas 3 is reported, not fatal
        return None, f"failed: {type(exc).__name__}: {exc}"


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
    rows = []
    with jy.LocalInfluxDB(database=DATABASE) as server:
        db = jy.connect(server.url, database=DATABASE, timeout=600)
        began = time.perf_counter()
        db.write(frame, progress=False)
        print(f"wrote {len(frame):,} events in {time.perf_counter() - began:.1f} s")
        statement = (
            f"{select_clause(stored_keys(db).fields)} FROM events "
            f"WHERE time >= {START.value} AND time < {STOP.value}"
        )

        for label, accept, encoding in (
            ("ceiling: JSON (requests' default gzip)", "application/json", None),
            ("ceiling: JSON, uncompressed", "application/json", "identity"),
            ("ceiling: msgpack, uncompressed", "application/x-msgpack", "identity"),
        ):
            with Clock(server.pid) as clock:
                size = ceiling(server.url, statement, accept, args.chunk_size, encoding)
            rows.append((label, clock, len(frame), "-", f"{size:,} B"))

        reads = [
            ("journeys", {}),
            (f"journeys, slice={args.slice} workers={args.workers}", {"slice": args.slice}),
        ]
        for label, options in reads:
            workers = {"workers": args.workers} if options else {}
            with Clock(server.pid) as clock:
                back = db.query(START, STOP, chunk_size=args.chunk_size, **options, **workers)
            pd.testing.assert_frame_equal(back, jy.validate(frame))
            rows.append((label, clock, len(back), intact(back.index, expected), "equal"))
            del back

        if not args.no_peer:
            with Clock(server.pid) as clock:
                theirs, note = peer(server.url, statement)
            ok = theirs is not None and intact(theirs.index, expected)
            if theirs is not None:
                same = sorted(theirs["user_id"]) == sorted(frame["user_id"])
                note = "same user_ids" if same else "other user_ids"
            count = 0 if theirs is None else len(theirs)
            rows.append(("influxdb DataFrameClient", clock, count, ok, note))
        db.close()

    base = rows[0][1].wall
    print(
        f"\n{'reader':<40} {'seconds':>8} {'x ceiling':>9} {'cpu ours':>8} {'cpu server':>10}"
        f" {'rows':>10} {'ns intact':>9}  check"
    )
    for name, clock, count, ok, note in rows:
        print(
            f"{name:<40} {clock.wall:>8.2f} {clock.wall / base:>9.2f} {clock.ours:>8.2f}"
            f" {clock.server:>10.2f} {count:>10,} {ok!s:>9}  {note}"
        )


if __name__ == "__main__":
    main()
