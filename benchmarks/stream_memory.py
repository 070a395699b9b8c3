"""Peak memory while streaming a large Parquet file into InfluxDB with ``db.write(path)``.

Three steps, each in its own process so that each peak (``ru_maxrss``) is its
own:

1. make a Parquet file of ``--rows`` generated events, one row group per
   generated part, without ever holding all of them;
2. **journeys**: ``db.write(path)``, which reads the file by record batches
   and holds a few chunks at a time;
3. **whole file** (the peer, unless ``--no-peer``): ``pandas.read_parquet``
   and ``db.write(frame)``, the file held whole, on the same file.

Both writes go to fresh databases of one throwaway InfluxDB and must store
the same count of every field. The table gives the peak resident memory of
each process, its rate, and the ratio.

    scripts/run bench stream_memory --rows 10000000 --no-peer
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import journeys as jy

ROWS_PER_PART = 500_000
EVENTS_PER_USER = 60.5  # what jy.generate makes per user over 30 days


def make_file(path: Path, rows: int) -> int:
    """Write about ``rows`` generated events to ``path``, part by part; return the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer, written, part = None, 0, 0
    while written < rows:
        users = max(1, round(min(ROWS_PER_PART, rows - written) / EVENTS_PER_USER))
        start = f"{2020 + part // 12}-{part % 12 + 1:02d}-01"
        frame = jy.generate(users=users, days=28, start=start, seed=part).iloc[: rows - written]
        table = pa.Table.from_pandas(frame.reset_index(), preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=100_000)
        written, part = written + len(frame), part + 1
    writer.close()
    return written


def write_file(url: str, database: str, path: Path, whole: bool) -> dict:
    """Write ``path``, streamed or read whole; return rows, seconds and peak memory."""
    import pandas as pd

    db = jy.connect(url, database=database, timeout=600)
    db.create_database()
    started = time.perf_counter()
    events = pd.read_parquet(path) if whole else path
    report = db.write(events, progress=False)
    seconds = time.perf_counter() - started
    print(report, file=sys.stderr)
    rows = db.influxql("SELECT count(*) FROM events")[0]["series"][0]
    counts = dict(zip(rows["columns"], rows["values"][0], strict=True))
    counts.pop("time")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    return {"written": report.written, "seconds": seconds, "peak": peak, "counts": counts}


def child(step: str, *args: str) -> dict:
    # Its errors and its report go straight to this process's standard error.
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="events in the file")
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.step == "make":
        print(json.dumps({"rows": make_file(Path(options.args[0]), options.rows)}))
        return
    if options.step in ("stream", "whole"):
        url, database, path = options.args
        print(json.dumps(write_file(url, database, Path(path), options.step == "whole")))
        return

    with tempfile.TemporaryDirectory() as folder, jy.LocalInfluxDB(index="tsi1") as server:
        path = Path(folder) / "events.parquet"
        rows = child("make", "--rows", str(options.rows), str(path))["rows"]
        print(f"{rows:,} events in {path.stat().st_size / 1e6:,.0f} MB of Parquet")
        results = {"journeys (streamed)": child("stream", server.url, "streamed", str(path))}
        if options.peer:
            results["whole file"] = child("whole", server.url, "whole", str(path))

    counts = {json.dumps(r["counts"], sort_keys=True) for r in results.values()}
    if len(counts) != 1 or any(r["written"] != rows for r in results.values()):
        raise SystemExit(f"the writes differ: {results}")
    ours = results["journeys (streamed)"]["peak"]
    print(f"{'':<20} {'peak MB':>9} {'events/s':>10} {'memory ratio':>13}")
    for name, result in results.items():
        rate, peak = rows / result["seconds"], result["peak"]
        print(f"{name:<20} {peak / 1e6:>9,.0f} {rate:>10,.0f} {peak / ours:>13.2f}")


if __name__ == "__main__":
    main()
