"""Reading events back: empty answers, time slices, selected columns, filters, chunks."""

from __future__ import annotations

import contextlib
import uuid

import pandas as pd
import pytest
from helpers import same_events

import journeys as jy
from journeys.query import time_slices

DAY = pd.Timestamp("2024-05-02T00:00:00Z")
NS = pd.Timedelta(1, "ns")


def events(**columns) -> pd.DataFrame:
    """A small raw frame: ``time`` defaults to DAY plus one minute a row."""
    rows = len(next(iter(columns.values())))
    columns.setdefault("time", [DAY + pd.Timedelta(minutes=i) for i in range(rows)])
    columns.setdefault("event_type", ["pageview"] * rows)
    return pd.DataFrame(columns)


def assert_empty_events(frame, columns=None):
    names = columns or [c.name for c in jy.COLUMNS]
    assert len(frame) == 0
    assert list(frame.columns) == names
    assert dict(frame.dtypes) == {n: jy.dtypes()[n] for n in names}
    assert str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert frame.index.name == "time"


def edge_events() -> pd.DataFrame:
    """Events on, just before and just after midnight and 06:00, with ties of both kinds."""
    midnight, six = DAY, DAY + pd.Timedelta(hours=6)
    times = [
        midnight - NS,
        midnight,
        midnight,  # tied with the one before, same tags: numbered apart by event_seq
        midnight,  # same time, other tags
        midnight + NS,
        six - NS,
        six,
        six,
        six + NS,
        DAY + pd.Timedelta(days=1),
    ]
    return events(
        time=times,
        event_type=["pageview"] * 3 + ["scroll"] + ["pageview"] * 6,
        device_type=["tv", "tv", "tv", "mobile", "tv", "tv", "tv", "tv", "desktop", "tv"],
        user_id=[f"u{i}" for i in range(len(times))],
        scroll_depth=[None, None, None, 50.0, None, None, None, None, None, None],
    )


@pytest.mark.parametrize("columns", [None, ["event_type", "user_id"]])
def test_a_database_that_does_not_exist_reads_as_an_empty_frame(influx_server, columns):
    db = jy.connect(influx_server.url, database=f"missing_{uuid.uuid4().hex[:8]}")

    assert_empty_events(db.query("2024-05-01", "2024-06-01", columns=columns), columns)
    assert_empty_events(db.query(slice="1D", workers=2))


def test_a_measurement_that_does_not_exist_reads_as_an_empty_frame(db):
    db.write(events(user_id=["u1"]))

    assert_empty_events(db.query(measurement="nothing_here"))
    assert_empty_events(db.query("2030-01-01", "2030-02-01", slice="1D"))
    assert len(db.query()) == 1


@pytest.mark.parametrize(("slice_", "workers"), [("1D", 1), ("6h", 3), ("1h", 2), ("7D", 4)])
def test_slices_read_exactly_what_one_query_reads(db, slice_, workers):
    frame = edge_events()
    db.write(frame)

    whole = db.query()
    sliced = db.query(slice=slice_, workers=workers)
    bounded = db.query(DAY - pd.Timedelta(hours=1), DAY + pd.Timedelta(days=2), slice=slice_)

    pd.testing.assert_frame_equal(sliced, whole)
    pd.testing.assert_frame_equal(bounded, whole)
    same_events(whole, jy.validate(frame))


def test_a_slice_starts_at_its_start_and_stops_before_its_stop(db):
    db.write(edge_events())

    first_day = db.query(DAY, DAY + pd.Timedelta(days=1), slice="6h", workers=2)

    assert first_day.index.min() == DAY
    assert first_day.index.max() == DAY + pd.Timedelta(hours=6) + NS
    assert sorted(first_day["user_id"]) == sorted(f"u{i}" for i in range(1, 9))


def test_time_slices_are_aligned_half_open_and_tile_the_range():
    assert time_slices(5, 35, 10) == [(5, 10), (10, 20), (20, 30), (30, 35)]
    assert time_slices(10, 20, 10) == [(10, 20)]
    assert time_slices(-15, 5, 10) == [(-15, -10), (-10, 0), (0, 5)]
    assert time_slices(0, 100, 10, spans=[(42, 58)]) == [(42, 50), (50, 58)]
    assert time_slices(0, 100, 10, spans=[(-5, 3), (95, 300)]) == [(0, 3), (95, 100)]
    assert time_slices(0, 100, 10, spans=[(200, 300)]) == [(0, 0)]
    assert time_slices(0, 100, 10, spans=[]) == [(0, 0)]


def test_slices_of_an_open_range_reach_the_edges_of_what_influxdb_stores(db):
    first, last = (
        pd.Timestamp(jy.schema.MIN_TIME, tz="UTC"),
        pd.Timestamp(jy.schema.MAX_TIME, tz="UTC"),
    )
    db.write(events(time=[first, DAY, last], user_id=["first", "middle", "last"]))

    sliced = db.query(slice="1D", workers=2)

    assert sliced["user_id"].tolist() == ["first", "middle", "last"]
    pd.testing.assert_frame_equal(sliced, db.query())


def test_small_chunks_read_the_same_frame(db):
    frame = jy.generate(users=30, days=3, seed=3)
    db.write(frame)

    pd.testing.assert_frame_equal(db.query(chunk_size=7), jy.validate(frame))


@pytest.mark.parametrize("seed", [1, 2])
def test_both_layouts_read_back_the_same_frame(influx_server, seed):
    frame = jy.generate(users=40, days=7, seed=seed)
    frames = {}
    for layout in jy.LAYOUTS:
        name = f"test_{layout}_{uuid.uuid4().hex[:8]}"
        db = jy.connect(influx_server.url, database=name)
        published = layout == "published"
        with pytest.warns(jy.CardinalityWarning) if published else contextlib.nullcontext():
            db.write(frame, layout=layout)
        frames[layout] = {
            "whole": db.query(),
            "sliced": db.query(slice="1D", workers=2),
            "columns": db.query(columns=["event_type", "user_id", "interaction_type"]),
        }
        db.influxql(f'DROP DATABASE "{name}"', method="POST")
        db.close()

    for kind in ("whole", "sliced", "columns"):
        same_events(frames["default"][kind], frames["published"][kind])
    same_events(frames["default"]["whole"], jy.validate(frame))


def test_selected_columns_come_with_their_types_and_only_them(db):
    frame = jy.generate(users=30, days=3, seed=5)
    db.write(frame)
    names = ["event_type", "user_id", "interaction_type", "rental_duration"]

    back = db.query(columns=["user_id", "rental_duration", "event_type", "interaction_type"])

    assert list(back.columns) == names
    assert dict(back.dtypes) == {n: jy.dtypes()[n] for n in names}
    # Every generated event has a user, so every event comes back.
    pd.testing.assert_frame_equal(back, jy.validate(frame)[names])


def test_events_without_the_selected_fields_come_back_only_when_asked(db):
    frame = events(
        user_id=["a", None, "c", None],
        purchase_value=[None, 4.5, None, None],
        device_type=["tv", "tv", "mobile", "tv"],
    )
    db.write(frame)

    some = db.query(columns=["event_type", "user_id"])
    every = db.query(columns=["event_type", "user_id"], all_events=True)
    tags_only = db.query(columns=["device_type"])

    assert some["user_id"].tolist() == ["a", "c"]
    assert every["user_id"].tolist() == ["a", pd.NA, "c", pd.NA]
    assert every.index.equals(jy.validate(frame).index)
    assert tags_only["device_type"].tolist() == ["tv", "tv", "mobile", "tv"]
    assert list(tags_only.columns) == ["device_type"]


def test_a_filter_on_many_awkward_values_matches_exactly(db):
    texts = ["a/b", "x.y", "(p)", "it's", "back\\slash", "star*", "^caret$", "ünï", "a b"]
    texts += [f"plain{i}" for i in range(30)]
    near = ["xzy", "a", "p", "star", "caret", "a/b/c", "back\\\\slash"]
    db.write(events(page_url=texts + near))

    back = db.query(where={"page_url": texts})
    none = db.query(where={"page_url": [f"absent{i}" for i in range(40)]})

    assert sorted(back["page_url"]) == sorted(texts)
    assert len(none) == 0


def test_reading_options_are_checked(db):
    with pytest.raises(ValueError, match="workers must be a whole number from 1 to 4"):
        db.query(workers=9)
    with pytest.raises(ValueError, match="slice must be a positive length of time"):
        db.query(slice="soon")
    with pytest.raises(jy.SchemaError, match="cannot read the column"):
        db.query(columns=["time", "user_id"])
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        db.query(chunk_size=0)


def test_a_stop_before_the_start_is_refused_not_read_as_nothing(db):
    db.write(events(user_id=["u1"]))

    with pytest.raises(ValueError, match=r"stop '2024-05-01' is before start '2024-05-03'"):
        db.query("2024-05-03", "2024-05-01")
    with pytest.raises(ValueError, match="is before start"):
        jy.count_events(db, "2024-05-03", "2024-05-01")
    assert len(db.query("2024-05-02", "2024-05-02")) == 0


def test_a_statement_the_server_refuses_raises_its_message(db):
    from journeys.query import read_frame

    db.write(events(user_id=["u"]))

    with pytest.raises(jy.ServerError, match="error parsing query"):
        read_frame(db, "SELECT FROM WHERE")


def test_a_server_that_answers_json_only_is_read_the_same(db, monkeypatch):
    db.write(jy.generate(users=10, days=2, seed=8))
    expected = db.query(chunk_size=50)
    asking, json_reads = db.request, []
    answering = db._iter_results

    def without_msgpack(method, path, **options):
        options.get("headers", {}).pop("Accept", None)  # as a server ignoring it would
        return asking(method, path, **options)

    def counted(statement, **options):
        json_reads.append(statement)
        return answering(statement, **options)

    monkeypatch.setattr(db, "request", without_msgpack)
    monkeypatch.setattr(db, "_iter_results", counted)

    pd.testing.assert_frame_equal(db.query(chunk_size=50), expected)
    assert [s.split()[0] for s in json_reads] == ["SHOW", "SHOW", "SELECT"]


@pytest.mark.parametrize("breaks", [1, 2, 3])
def test_a_slice_whose_answer_breaks_off_is_read_again_whole(db, monkeypatch, breaks):
    import collections

    import requests

    import journeys.query

    frame = jy.generate(users=10, days=3, seed=9)
    db.write(frame)
    expected = db.query(slice="1D")
    streaming, broken = journeys.query.stream_results, collections.Counter()

    def breaking(client, statement, **options):
        for number, result in enumerate(streaming(client, statement, **options)):
            if number == 1 and broken[statement] < breaks:
                broken[statement] += 1
                try:
                    raise requests.ConnectionError("connection reset")
                except requests.ConnectionError as exc:
                    raise jy.ServerError("the answer broke off") from exc
            yield result

    monkeypatch.setattr(journeys.query, "stream_results", breaking)

    if breaks < journeys.query.READ_ATTEMPTS:
        pd.testing.assert_frame_equal(db.query(slice="1D", chunk_size=20), expected)
        assert len(broken) >= 1 and set(broken.values()) == {breaks}
    else:
        with pytest.raises(jy.ServerError, match="broke off"):
            db.query(slice="1D", chunk_size=20)
