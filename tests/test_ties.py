"""Events that tie on series and time, over many writes, against a real server.

The promise: every row written is an event; writing an event identical to one
already stored recognises it instead of adding it. So after any sequence of
writes, the server holds each distinct event as many times as the write that
held it most often did. The reference below computes that with a Counter,
independently of the writer.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeys as jy

T0 = pd.Timestamp("2024-05-01T00:00:00Z")

event = st.tuples(
    st.sampled_from([T0, T0 + pd.Timedelta(1, "ns")]),
    st.sampled_from(["tv", None]),
    st.sampled_from(["a", "b", None]),
    st.sampled_from([1.0, 2.5, None]),
)
writes = st.lists(st.lists(event, min_size=1, max_size=6), min_size=1, max_size=4)


def as_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": [r[0] for r in rows],
            "event_type": "pageview",
            "device_type": pd.array([r[1] for r in rows], dtype="string"),
            "user_id": pd.array([r[2] for r in rows], dtype="string"),
            "purchase_value": pd.array([r[3] for r in rows], dtype="Float64"),
        }
    )


def expected(history) -> Counter:
    most: Counter = Counter()
    for rows in history:
        most |= Counter(rows)  # the larger count of each distinct event
    return most


def stored(db) -> Counter:
    back = db.query()
    return Counter(
        (
            time,
            None if pd.isna(device) else device,
            None if pd.isna(user) else user,
            None if pd.isna(price) else price,
        )
        for time, device, user, price in zip(
            back.index, back["device_type"], back["user_id"], back["purchase_value"], strict=True
        )
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=writes)
def test_any_sequence_of_writes_keeps_every_event_and_adds_none_twice(db, history):
    db.influxql("DROP MEASUREMENT events", method="POST")

    for rows in history:
        db.write(as_frame(rows), batch_size=2)

    assert stored(db) == expected(history)


def test_a_large_tie_in_small_batches():
    with jy.LocalInfluxDB() as server:
        db = jy.connect(server.url)
        frame = as_frame([(T0, "tv", f"u{i}", float(i)) for i in range(1000)])

        db.write(frame, batch_size=37)
        db.write(frame.iloc[::-1], batch_size=101)

        back = db.query()
        assert len(back) == 1000
        assert sorted(back["user_id"]) == sorted(f"u{i}" for i in range(1000))
