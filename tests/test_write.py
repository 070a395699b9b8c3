"""The writer against a real throwaway InfluxDB: batches, streams, ties, types, reports."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pandas as pd
import pytest
from helpers import events_at, same_events, stored

import journeys as jy
from journeys.batches import batch_bounds

T0 = pd.Timestamp("2024-05-01T00:00:00Z")


def events(**columns) -> pd.DataFrame:
    return events_at(T0, **columns)


def recording(db) -> list[tuple[bytes, str | None]]:
    """Record every body the writer posts (it still goes to the real server)."""
    post, bodies = db.post_lines, []

    def recorded(body, *, content_encoding=None):
        bodies.append((body, content_encoding))
        return post(body, content_encoding=content_encoding)

    db.post_lines = recorded
    return bodies


@pytest.mark.parametrize(
    ("lengths", "size", "most_bytes", "expected"),
    [
        ([3, 3, 3, 3], 10, 8, [(0, 2), (2, 4)]),  # 4 bytes a line with its newline
        ([3, 3, 3, 3], 3, 100, [(0, 3), (3, 4)]),
        ([20, 1, 1], 10, 8, [(0, 1), (1, 3)]),  # too long for a batch: alone
        ([1], 10, 1, [(0, 1)]),
    ],
)
def test_batches_are_bounded_by_rows_and_by_bytes(lengths, size, most_bytes, expected):
    lines = ["x" * n for n in lengths]

    assert batch_bounds(lines, size, most_bytes) == expected


def test_every_body_stays_within_batch_bytes_also_beyond_ascii(db):
    frame = events(page_url=["ü" * 100 + str(i) for i in range(60)])
    bodies = recording(db)

    report = db.write(frame, batch_bytes=2_000, batch_size=1_000)

    assert report.written == 60
    assert all(len(body) <= 2_000 for body, _ in bodies)
    assert sum(body.count(b"\n") for body, _ in bodies) == 60
    assert sorted(db.query()["page_url"]) == sorted(frame["page_url"])


def test_a_body_the_server_finds_too_large_is_split_and_all_lands(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    with jy.LocalInfluxDB(database="small", max_body_size=5_000) as server:
        db = jy.connect(server.url, database="small")
        frame = events(page_url=[f"https://example.com/{'p' * 50}/{i}" for i in range(200)])

        report = db.write(frame, batch_bytes=1_000_000)

        assert report.written == 200 and report.batches > 1
        same_events(db.query(), jy.validate(frame))
        assert list(tmp_path.iterdir()) == []


def test_gzip_bodies_are_compressed_and_land(db):
    frame = jy.generate(users=30, days=2, seed=3)
    bodies = recording(db)

    report = db.write(frame, gzip=True, batch_size=200)

    assert {encoding for _, encoding in bodies} == {"gzip"}
    assert sum(gzip.decompress(body).count(b"\n") for body, _ in bodies) == len(frame)
    assert report.bytes == sum(len(body) for body, _ in bodies)
    same_events(db.query(), jy.validate(frame))


def test_a_server_on_this_machine_gets_plain_bodies_by_default(db):
    bodies = recording(db)

    db.write(events(user_id=["u"]))

    assert bodies[0][1] is None and bodies[0][0].startswith(b"events,")


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrent_batches_report_in_input_order(db, concurrency, caplog):
    frame = jy.generate(users=40, days=2, seed=4)
    caplog.set_level(logging.INFO, logger="journeys.delivery")

    report = db.write(frame, batch_size=7, concurrency=concurrency)

    batches = -(-len(frame) // 7)
    assert report.written == len(frame) and report.batches == batches
    numbers = [int(r.getMessage().split()[1].rstrip(":")) for r in caplog.records]
    assert numbers == list(range(1, batches + 1))
    same_events(db.query(), jy.validate(frame))


def test_refused_rows_are_named_by_position_in_the_whole_stream(db):
    db.write_lines([f"events,event_type=x page_url=1i {T0.value + 10**9 * 4}"])
    first = events(page_url=[None, None, None])
    second = events(
        page_url=[None, "text", None],
        purchase_value=[1.0, 2.0, "abc"],
        time=[T0 + pd.Timedelta(seconds=i) for i in (3, 4, 5)],
    )

    with pytest.warns(jy.SkippedRowsWarning, match="1 of 6 rows"):
        report = db.write(iter([first, second]), on_invalid="skip")

    rejected = report.rejected.set_index("row")
    assert sorted(rejected.index) == [4, 5]
    assert rejected.loc[5, "column"] == "purchase_value"
    assert rejected.loc[4, "column"] == "page_url"
    assert "already holds page_url as integer" in rejected.loc[4, "reason"]
    assert report.written == 4 and report.events == 6


def test_a_stream_of_chunks_lands_like_one_frame(db):
    frame = jy.generate(users=60, days=3, seed=5)
    chunks = (frame.iloc[i : i + 97] for i in range(0, len(frame), 97))

    report = db.write(chunks, chunk_rows=50)

    assert report.events == report.written == len(frame)
    same_events(db.query(), jy.validate(frame))


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_file_streams_in_chunks(db, tmp_path, suffix):
    frame = jy.generate(users=40, days=2, seed=6)
    path = jy.save_events(frame, tmp_path / f"events{suffix}")

    report = db.write(path, chunk_rows=33)

    assert report.written == len(frame)
    same_events(db.query(), jy.validate(frame))


def tied(n: int, time=T0) -> pd.DataFrame:
    """``n`` distinct events with the same tags and nanosecond."""
    return events(time=[time] * n, device_type=["tv"] * n, user_id=[f"user {i}" for i in range(n)])


def test_ties_across_batches_of_one_write_all_land(db):
    frame = tied(5)

    report = db.write(frame, batch_size=1, concurrency=3)

    assert report.batches == 5
    assert sorted(db.query()["user_id"]) == [f"user {i}" for i in range(5)]
    db.write(frame, batch_size=1)  # and again: recognised, not added
    assert len(db.query()) == 5


@pytest.mark.parametrize("sorted_input", [True, False])
def test_a_tie_split_across_two_chunks_keeps_both_events(db, sorted_input):
    later = events(user_id=["later"], time=[T0 + pd.Timedelta(1, "h")])
    earlier = events(user_id=["earlier"], time=[T0 - pd.Timedelta(1, "h")])
    ties = tied(4)
    first = pd.concat([later if not sorted_input else earlier, ties.iloc[:2]])
    second = pd.concat([ties.iloc[2:], later if sorted_input else earlier])

    report = db.write(iter([first, second]), chunk_rows=2, batch_size=1)

    assert report.written == 6
    expected = sorted([*ties["user_id"], "later", "earlier"])
    assert sorted(db.query()["user_id"]) == expected


def test_an_integer_column_lands_in_a_float_field_the_server_holds(db):
    db.write_lines([f"events,event_type=x rental_duration=1.5 {T0.value - 1}"])

    db.write(events(rental_duration=[48, 72]))

    rows = stored(db, "SELECT rental_duration FROM events WHERE time >= '2024-05-01'")
    assert [r["rental_duration"] for r in rows] == [48.0, 72.0]
    assert stored(db, "SHOW FIELD KEYS")[0]["fieldType"] == "float"


def test_a_whole_float_lands_in_an_integer_field_the_server_holds(db):
    db.write_lines([f"events,event_type=x purchase_value=3i {T0.value - 1}"])

    with pytest.raises(jy.WriteError, match=r"refused 1 of 3 events \(rows 1\)") as caught:
        db.write(events(purchase_value=[20.0, 19.99, None]))

    rejected = caught.value.report.rejected
    assert rejected["column"].tolist() == ["purchase_value"]
    assert "already holds purchase_value as integer" in rejected["reason"][0]
    rows = stored(db, "SELECT purchase_value FROM events WHERE time >= '2024-05-01'")
    assert [r["purchase_value"] for r in rows] == [20]


def test_text_in_a_float_field_is_refused_by_row_and_the_rest_lands(db):
    db.write_lines([f"events,event_type=x page_url=2.5 {T0.value - 1}"])

    report = db.write(events(page_url=["a", None, "b"]), on_invalid="skip")

    assert report.rejected["row"].tolist() == [0, 2]
    assert set(report.rejected["column"]) == {"page_url"}
    assert "already holds page_url as float" in report.rejected["reason"][0]
    assert report.written == 1
    assert "rejected: 2 × refused by the server: field type conflict" in str(report)


def test_many_series_warn_naming_the_tags_with_most_values(db):
    frame = events(location=[f"city {i}" for i in range(30)], device_type=["tv", "pc"] * 15)

    with pytest.warns(jy.CardinalityWarning, match=r"location \(30 values\), device_type"):
        report = db.write(frame, series_warning=20)

    assert report.series == 30


def test_few_series_do_not_warn(db):
    report = db.write(events(location=["a", "b"]), series_warning=2)

    assert report.series == 2


def test_the_report_says_what_happened(db):
    db.write_lines([f"events,event_type=x page_url=2.5 {T0.value - 1}"])
    frame = events(page_url=["a", None, None], purchase_value=[None, "x", None])

    with pytest.warns(jy.SkippedRowsWarning):
        report = db.write(frame, on_invalid="skip")

    text = str(report)
    assert "events read              3" in text
    assert "written                  1" in text
    assert "rejected                 2" in text
    assert "retried                  0" in text
    assert "row 0" in text and "row 1, column purchase_value: 'x'" in text


def test_options_are_checked(db):
    with pytest.raises(ValueError, match="concurrency"):
        db.write(events(user_id=["u"]), concurrency=0)
    with pytest.raises(ValueError, match="retry_for"):
        db.write(events(user_id=["u"]), retry_for=-1)
    with pytest.raises(TypeError, match="gave a list"):
        db.write(iter([[1, 2]]))


def test_a_large_frame_is_written_in_pieces_with_all_rows_named(db):
    frame = jy.generate(users=200, days=2, seed=8)
    bad = frame.copy()
    bad["purchase_value"] = bad["purchase_value"].astype(object)
    bad.iloc[len(frame) - 1, bad.columns.get_loc("purchase_value")] = "oops"

    with pytest.warns(jy.SkippedRowsWarning):
        report = db.write(bad, chunk_rows=500, on_invalid="skip")

    assert report.rejected["row"].tolist() == [len(frame) - 1]
    assert report.written == len(frame) - 1
    assert np.isin(report.rejected["row"], np.arange(len(frame))).all()
