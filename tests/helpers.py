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
