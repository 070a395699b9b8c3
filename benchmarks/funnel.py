"""Benchmark: a sequential funnel in journeys against retentioneering, on the same events.

Both read the same Parquet file of generated journeys (by default 1,000,000
events of 50,000 simulated users), the columns a funnel needs, and count a
4-step sequential funnel; the timings include reading the file and, for
retentioneering, building its ``Eventstream``. Both must give the same count
at every step.

Ids and event types can be read as plain strings or as categoricals (Parquet
stores them dictionary-encoded, so the latter skips decoding); each tool is
timed both ways and the ratio is taken between each tool's faster way. A
further row times journeys reading the file with ``jy.read_events``, which
validates every column as a notebook would.

Times are the best of ``--repeat`` rounds in this one process, each round
running every row once, in turn. Peak memory is measured apart, in a fresh Python process per row:
the most its resident set grew above its size after the imports, sampled
every 2 ms, which sees what numpy, pyarrow and duckdb allocate alike.

Run it as ``scripts/run bench funnel`` (``--events 100000 --users 5000`` for
a quick run; ``--help`` for the options).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

import journeys as jy

# retentioneering sends usage events to PostHog unless told not to.
os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")

STEPS = ["pageview", "interaction", "transaction", "view"]
COLUMNS = ["time", "user_id", "event_type"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events (1,000,000)")
    parser.add_argument("--users", type=int, default=50_000, help="simulated users (50,000)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts (3)")
    parser.add_argument("--peak-memory-of", choices=sorted(_RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory_of:
        _measure_here(args.peak_memory_of, args.input)
        return
    if args.events < 1 or args.users < 1 or args.repeat < 1:
        parser.error("--events, --users and --repeat must be at least 1")

    try:
        import retentioneering.eventstream  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            f"retentioneering is not installed ({exc}); run this as `scripts/run bench funnel`, "
            "which installs the bench extra of pyproject.toml."
        ) from exc

    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as folder:
        path = Path(folder) / "events.parquet"
        events, users = _events(args.events, args.users, args.seed)
        jy.save_events(events, path)
        del events
        print(
            f"{args.events:,} events of {users:,} users in {path.name} "
            f"({path.stat().st_size / 2**20:.0f} MiB); funnel {' > '.join(STEPS)}"
        )

        runs = {
            "journeys, categorical read": "journeys categorical",
            "journeys, plain read": "journeys plain",
            "journeys, jy.read_events": "journeys validated",
            "retentioneering, plain read": "retentioneering plain",
            "retentioneering, categorical read": "retentioneering categorical",
        }
        timings = _time(
            {name: (lambda run=run: _RUNS[run](path)) for name, run in runs.items()}, args.repeat
        )
        results = {
            name: (timings[name][0], _peak_memory(run, path), timings[name][1])
            for name, run in runs.items()
        }

    counts = {name: result[2] for name, result in results.items()}
    reference = counts["retentioneering, plain read"]
    ours = _fastest(results, "journeys, categorical read", "journeys, plain read")
    peer = _fastest(results, "retentioneering, plain read", "retentioneering, categorical read")
    print()
    print(f"{'':34}{'seconds':>9}{'peak MiB':>10}  counts per step")
    for name, (seconds, memory, found) in results.items():
        print(f"{name:34}{seconds:9.2f}{memory / 2**20:10.0f}  {found}")
    print()
    print(
        f"retentioneering / journeys, each read its faster way: time {peer[0] / ours[0]:.1f}x, "
        f"peak memory {peer[1] / max(ours[1], 1):.1f}x"
    )
    different = {name: c for name, c in counts.items() if c != reference}
    if different:
        raise SystemExit(f"the counts differ from retentioneering's {reference}: {different}")
    print("same counts at every step: yes")


def _fastest(results, *names):
    """The (seconds, memory, counts) of the fastest of the named rows."""
    return min((results[name] for name in names), key=lambda result: result[0])


def _events(n_events, n_users, seed):
    """The first ``n_events`` generated events (by time), and how many users they hold."""
    # About two events per user and day: generate a little more than needed.
    days = 1
    while True:
        events = jy.generate(users=n_users, days=days, seed=seed)
        if len(events) >= n_events:
            break
        days = max(days + 1, int(days * 1.2 * n_events / max(len(events), 1)) + 1)
    events = events.sort_index(kind="stable").iloc[:n_events]
    return events, events["user_id"].nunique()


def _read(path, categorical):
    dictionary = COLUMNS[1:] if categorical else None
    return pd.read_parquet(path, columns=COLUMNS, read_dictionary=dictionary)


def _journeys(path, categorical):
    return jy.funnel(_read(path, categorical), STEPS)["entered"].tolist()


def _journeys_validated(path):
    return jy.funnel(jy.read_events(path), STEPS)["entered"].tolist()


def _retentioneering(path, categorical):
    from retentioneering.eventstream import Eventstream

    schema = {
        "path_cols": ["user_id"],
        "event_col": "event_type",
        "timestamp_col": "time",
        # Its own column of event kinds, named apart from ours.
        "event_type": "rete_event_type",
        "custom_cols": [],
    }
    stream = Eventstream(_read(path, categorical), schema=schema)
    steps = stream.funnel_data(STEPS)["steps"]
    return [int(step["unique_paths"]) for step in steps]


_RUNS = {
    "journeys categorical": lambda path: _journeys(path, True),
    "journeys plain": lambda path: _journeys(path, False),
    "journeys validated": _journeys_validated,
    "retentioneering plain": lambda path: _retentioneering(path, False),
    "retentioneering categorical": lambda path: _retentioneering(path, True),
}


def _time(runs, repeat):
    """{name: (best seconds, result)} over ``repeat`` rounds of every run, taken in turn.

    Taking the runs in turn, round after round, spreads any change in the
    machine's load over all of them alike.
    """
    best = {name: (float("inf"), None) for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            gc.collect()
            started = time.perf_counter()
            result = run()
            seconds = time.perf_counter() - started
            best[name] = (min(best[name][0], seconds), result)
    return best


def _peak_memory(run, path):
    """The peak resident-set growth of one run, in bytes, measured in a fresh process."""
    answer = subprocess.run(
        [sys.executable, __file__, "--peak-memory-of", run, "--input", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(answer.stdout.split()[-1])


def _measure_here(run, path):
    """Print the peak resident-set growth of one run in this (fresh) process."""
    import retentioneering.eventstream  # noqa: F401  (imported before the baseline)

    gc.collect()
    with _PeakRss() as sampler:
        _RUNS[run](path)
    print(sampler.growth)


class _PeakRss:
    """The most the resident set grew above its size at the start, sampled in a thread."""

    def __init__(self, interval=0.002):
        self.interval = interval
        self.growth = 0
        self._stop = threading.Event()

    def __enter__(self):
        self._start = _rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.growth = max(self.growth, _rss() - self._start)

    def _sample(self):
        while not self._stop.is_set():
            self.growth = max(self.growth, _rss() - self._start)
            time.sleep(self.interval)


def _rss():
    """The process's resident set size in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


if __name__ == "__main__":
    main()
