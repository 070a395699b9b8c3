"""Small helpers the tests share."""

from __future__ import annotations

import pandas as pd


def stored(db, statement: str):
    """The rows of the first series an InfluxQL statement returns."""
    results = db.influxql(statement)
    series = results[0].get("series", [])
    return [dict(zip(s["columns"], row, strict=True)) for s in series for row in s["values"]]


def same_events(left, right):
    """Compare two events frames whatever the order of rows with equal times."""

    def ordered(frame):
        table = frame.reset_index()
        return table.sort_values(list(table.columns), kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(left), ordered(right))


def events_at(start: pd.Timestamp, **columns) -> pd.DataFrame:
    """A small raw frame: ``time`` defaults to ``start`` plus one second a row."""
    rows = len(next(iter(columns.values())))
    columns.setdefault("time", [start + pd.Timedelta(seconds=i) for i in range(rows)])
    columns.setdefault("event_type", ["pageview"] * rows)
    return pd.DataFrame(columns)


def wait_until(condition, *, timeout: float = 30.0, what: str = "the condition"):
    """Poll ``condition()`` until it returns something true; that value, or fail."""
    import time

    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)
    return value


def drained(collector, *, timeout: float = 30.0) -> dict:
    """Wait until a collector's queue is empty (all written to InfluxDB); its health."""
    import requests

    def empty():
        health = requests.get(f"{collector.url}/health", timeout=10).json()
        return health if health["store"]["pending"] == 0 else None

    return wait_until(empty, timeout=timeout, what="the collector's queue emptying")


def event_ids(db) -> list[str]:
    """The ``event_id`` of every point in ``events``, one per point (sorted)."""
    return sorted(row["event_id"] for row in stored(db, "SELECT event_id FROM events"))
