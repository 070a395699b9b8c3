"""Counts the server computes: jy.count_events against counts made in pandas."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

import journeys as jy

START = pd.Timestamp("2024-05-01T00:00:00Z")


def expected_counts(frame: pd.DataFrame, every: str, by: list[str]) -> pd.DataFrame:
    """Counts per interval and tags, computed in pandas from the written events."""
    events = jy.validate(frame).reset_index()
    events["time"] = events["time"].dt.floor(every)
    table = events.groupby(["time", *by], dropna=False).size().rename("count").reset_index()
    table["count"] = table["count"].astype("Int64")
    return table.sort_values(["time", *by], ignore_index=True)


def test_counts_per_hour_and_tags_equal_pandas(db):
    frame = jy.generate(users=40, start=START, days=3, seed=11)
    db.write(frame)
    by = ["event_type", "device_type"]

    counts = jy.count_events(db, START, START + pd.Timedelta(days=3), every="1h", by=by)

    assert list(counts.columns) == ["time", *by, "count"]
    assert str(counts["time"].dtype) == "datetime64[ns, UTC]"
    assert counts["count"].sum() == len(frame)
    busy = counts[counts["count"] > 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(busy, expected_counts(frame, "1h", by), check_dtype=False)
    # Every hour of every group that has events, with zeros where it had none.
    groups = counts.groupby(by).size()
    assert set(groups) == {72}


def test_events_without_fields_and_tied_events_are_counted(db):
    t = START + pd.Timedelta(minutes=5)
    frame = pd.DataFrame(
        {
            "time": [t, t, t, t + pd.Timedelta(hours=1)],
            "event_type": ["pageview", "pageview", "pageview", "scroll"],
            "user_id": ["a", "a", None, None],
            "scroll_depth": [None, None, None, 10.0],
        }
    )
    db.write(frame)

    counts = jy.count_events(db, every="1h", by="event_type")
    by_user_field = jy.count_events(db, every="1h", field="user_id")

    assert counts.to_dict("list") == {
        "time": [START, START, START + pd.Timedelta(hours=1), START + pd.Timedelta(hours=1)],
        "event_type": ["pageview", "scroll", "pageview", "scroll"],
        "count": [3, 0, 0, 1],
    }
    # Counting a field counts only the events holding it (and the open range ends with
    # the last hour counted).
    assert by_user_field["count"].tolist() == [2]


def test_open_ranges_stop_at_the_first_and_last_interval_with_events(db):
    frame = jy.generate(users=10, start=START, days=2, seed=4)
    db.write(frame)

    counts = jy.count_events(db, every="1D")

    assert counts["time"].tolist() == [START, START + pd.Timedelta(days=1)]
    assert counts["count"].sum() == len(frame)


def test_zeros_can_be_left_out(db):
    frame = jy.generate(users=10, start=START, days=2, seed=4)
    db.write(frame)

    counts = jy.count_events(db, START, START + pd.Timedelta(days=2), every="1h", zeros=False)

    assert (counts["count"] > 0).all()
    pd.testing.assert_frame_equal(counts, expected_counts(frame, "1h", []), check_dtype=False)


def test_filters_apply_to_counts(db):
    frame = jy.generate(users=30, start=START, days=2, seed=6)
    db.write(frame)

    counts = jy.count_events(
        db, every="1D", event_types=["transaction", "view"], where={"device_type": "tv"}
    )

    wanted = frame[frame["event_type"].isin(["transaction", "view"]) & (frame.device_type == "tv")]
    assert len(wanted) > 0
    assert counts["count"].sum() == len(wanted)


def test_counting_by_a_field_names_the_layout(db):
    db.write(jy.generate(users=5, start=START, days=1, seed=1))

    with pytest.raises(jy.SchemaError, match="in the 'default' layout .* user_id is a field"):
        jy.count_events(db, every="1h", by=["event_type", "user_id"])
    with pytest.raises(jy.SchemaError, match="holds no such tag"):
        jy.count_events(db, every="1h", by=["colour"])


def test_the_published_layout_counts_by_user(influx_server):
    frame = jy.generate(users=5, start=START, days=1, seed=1)
    name = f"test_{uuid.uuid4().hex[:8]}"
    db = jy.connect(influx_server.url, database=name)
    with pytest.warns(jy.CardinalityWarning):
        db.write(frame, layout="published")

    counts = jy.count_events(db, every="1D", by="user_id")

    db.influxql(f'DROP DATABASE "{name}"', method="POST")
    pd.testing.assert_frame_equal(
        counts, expected_counts(frame, "1D", ["user_id"]), check_dtype=False
    )


def test_nothing_stored_counts_as_an_empty_frame(influx_server):
    db = jy.connect(influx_server.url, database=f"missing_{uuid.uuid4().hex[:8]}")

    counts = jy.count_events(db, "2024-05-01", "2024-05-02", by=["event_type"])

    assert len(counts) == 0
    assert list(counts.columns) == ["time", "event_type", "count"]
    assert str(counts["time"].dtype) == "datetime64[ns, UTC]"
    assert str(counts["count"].dtype) == "Int64"


def test_count_options_are_checked(db):
    with pytest.raises(ValueError, match="every must be a positive length of time"):
        jy.count_events(db, every="0s")
    with pytest.raises(jy.SchemaError, match="cannot count the field 'event_type'"):
        jy.count_events(db, field="event_type")
