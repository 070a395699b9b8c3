"""Writing to and reading from a real throwaway InfluxDB 1.x server."""

from __future__ import annotations

import contextlib
import warnings

import pandas as pd
import pytest
from helpers import same_events, stored

import journeys as jy

T0 = pd.Timestamp("2023-05-17T00:00:00Z")


def events(**columns) -> pd.DataFrame:
    """A small raw frame: ``time`` defaults to T0 plus one second a row."""
    rows = len(next(iter(columns.values())))
    columns.setdefault("time", [T0 + pd.Timedelta(seconds=i) for i in range(rows)])
    columns.setdefault("event_type", ["pageview"] * rows)
    return pd.DataFrame(columns)


def count(db) -> int:
    """How many points the server holds, counted by a field every point has."""
    rows = stored(db, "SELECT count(*) FROM events")
    return max((v for k, v in rows[0].items() if k.startswith("count_")), default=0) if rows else 0


@pytest.mark.parametrize("layout", ["default", "published"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_frame_round_trips(db, layout, seed):
    generated = jy.generate(users=60, days=5, seed=seed)

    with pytest.warns(jy.CardinalityWarning) if layout == "published" else _no_warning():
        report = db.write(generated, layout=layout)
    back = db.query("2024-05-01", "2024-05-06")

    assert report.written == len(generated)
    assert len(back) == len(generated)
    same_events(back, jy.validate(generated))


def test_published_layout_warns_with_the_series_it_creates(db):
    frame = events(
        user_id=["u1", "u2", "u3", "u1"],
        content_id=["c1", "c1", "c2", "c1"],
        device_type=["tv"] * 4,
    )

    with pytest.warns(jy.CardinalityWarning, match=r"create about 3 series .* against 1 in"):
        db.write(frame, layout="published")

    series = stored(db, "SHOW SERIES FROM events")
    assert len(series) == 3


def test_example_rows_land_as_published(db, tmp_path):
    from click.testing import CliRunner

    from journeys.cli import main

    result = CliRunner().invoke(
        main, ["write", "data/seed_examples.csv", "--url", db.url, "--database", db.database]
    )
    assert result.exit_code == 0, result.output
    assert "written                  4" in result.output

    fields = {r["fieldKey"]: r["fieldType"] for r in stored(db, "SHOW FIELD KEYS FROM events")}
    assert fields == {
        "content_id": "string",
        "user_id": "string",
        "page_url": "string",
        "interaction_type": "string",
        "button_clicked": "string",
        "purchase_value": "float",
    }
    tags = {r["tagKey"] for r in stored(db, "SHOW TAG KEYS FROM events")}
    assert tags == {"event_type", "device_type", "location", "referral_source"}

    back = db.query()
    assert back.index.tolist() == [
        pd.Timestamp("2023-05-17T00:00:00Z"),
        pd.Timestamp("2023-05-17T00:05:00Z"),
        pd.Timestamp("2023-05-17T00:10:00Z"),
        pd.Timestamp("2023-05-17T00:15:00Z"),
    ]
    assert back["event_type"].tolist() == [
        "pageview",
        "transaction",
        "interaction",
        "button_click",
    ]
    assert back["purchase_value"].iloc[1] == 19.99
    assert back["location"].tolist()[2:] == ["New York", "San Diego"]
    assert back["referral_source"].iloc[2] == "Google"
    assert back["interaction_type"].iloc[2] == "search"
    assert back["button_clicked"].iloc[3] == "add_to_collection"
    assert set(back["user_id"]) == {"67890"} and set(back["content_id"]) == {"12345"}


AWKWARD = {
    "space": "New York",
    "comma": "Paris, France",
    "equals": "a=b",
    "double quote": 'say "hi"',
    "single quote": "O'Hare",
    "backslash": r"C:\movies",
    "backslashes": "a\\\\b",
    "comma and space": "one, two",
    "non-ASCII": "São Paulo – Zürich 東京",
    "emoji": "🎬 movie",
    "tab": "a\tb",
}
UNFIT_TAGS = {
    "newline": "line\nbreak",
    "carriage return": "line\rbreak",
    "trailing backslash": "ends\\",
    "backslash before space": "a\\ b",
    "backslash before comma": "a\\,b",
    "backslash before equals": "a\\=b",
}


@pytest.mark.parametrize("text", AWKWARD.values(), ids=AWKWARD.keys())
@pytest.mark.parametrize("column", ["location", "page_url", "user_id"])
def test_awkward_text_round_trips(db, column, text):
    frame = events(**{column: [text, "plain"]}, device_type=["tv", "tv"])

    db.write(frame)
    back = db.query()

    assert back[column].tolist() == [text, "plain"]
    assert count(db) == 2


@pytest.mark.parametrize("text", UNFIT_TAGS.values(), ids=UNFIT_TAGS.keys())
def test_text_a_tag_cannot_carry_is_refused_by_name(db, text):
    frame = events(location=["Austin", text], device_type=["tv", "tv"])

    with pytest.raises(jy.ValidationError, match="row 1, column location") as caught:
        db.write(frame)

    assert caught.value.rows == [1]
    assert count(db) == 0


@pytest.mark.parametrize("text", UNFIT_TAGS.values(), ids=UNFIT_TAGS.keys())
def test_the_same_text_is_kept_exactly_in_a_string_field(db, text):
    frame = events(page_url=[text], device_type=["tv"])

    db.write(frame)

    assert db.query()["page_url"].tolist() == [text]
    assert count(db) == 1


def test_line_injection_through_a_tag_adds_no_point(db):
    frame = events(location=["x f=1 1\nevents,event_type=evil f=2 2"], device_type=["tv"])

    with pytest.warns(jy.SkippedRowsWarning):
        report = db.write(frame, on_invalid="skip")

    assert report.written == 0
    assert report.rejected["column"].tolist() == ["location"]
    assert count(db) == 0


def test_integer_then_float_purchase_values_both_land_as_floats(db):
    db.write(events(event_type=["transaction"], purchase_value=[20]))
    db.write(
        events(
            event_type=["transaction"], purchase_value=[19.99], time=[T0 + pd.Timedelta(minutes=1)]
        )
    )

    fields = {r["fieldKey"]: r["fieldType"] for r in stored(db, "SHOW FIELD KEYS FROM events")}
    back = db.query()

    assert fields["purchase_value"] == "float"
    assert back["purchase_value"].tolist() == [20.0, 19.99]
    assert str(back["purchase_value"].dtype) == "Float64"


def test_zero_values_are_kept(db):
    frame = events(
        event_type=["scroll", "transaction", "view"],
        scroll_depth=[0, None, None],
        purchase_value=[None, 0.0, None],
        time_lag_from_transaction=[None, None, 0],
    )

    db.write(frame)
    back = db.query()

    assert back["scroll_depth"].iloc[0] == 0.0
    assert back["purchase_value"].iloc[1] == 0.0
    assert back["time_lag_from_transaction"].iloc[2] == 0
    assert back["scroll_depth"].isna().tolist() == [False, True, True]


def test_events_in_the_same_second_with_the_same_tags_all_land(db):
    same = ["2023-05-17T00:00:00Z"] * 3
    frame = events(time=same, user_id=["a", "b", "c"], device_type=["tv"] * 3)

    db.write(frame)
    db.write(frame)  # writing it again stores nothing twice

    back = db.query()
    assert sorted(back["user_id"]) == ["a", "b", "c"]
    assert count(db) == 3
    assert "event_seq" not in back.columns


def test_an_event_with_only_tags_lands(db):
    frame = events(event_type=["heartbeat"], device_type=["tv"], location=["Oslo"])

    db.write(frame)
    back = db.query()

    assert len(back) == 1
    assert back["event_type"].iloc[0] == "heartbeat"
    assert back[["device_type", "location"]].iloc[0].tolist() == ["tv", "Oslo"]
    assert back.drop(columns=["event_type", "device_type", "location"]).iloc[0].isna().all()
    assert "no_fields" not in back.columns


def test_text_in_purchase_value_names_the_row_and_skip_writes_the_rest(db):
    frame = events(
        event_type=["transaction"] * 3,
        purchase_value=["4.99", "abc", 2],
        user_id=["u0", "u1", "u2"],
    )

    with pytest.raises(jy.ValidationError, match=r"row 1, column purchase_value: 'abc'"):
        db.write(frame)
    assert count(db) == 0

    with pytest.warns(jy.SkippedRowsWarning, match="1 of 3 rows cannot be stored"):
        report = db.write(frame, on_invalid="skip")
    back = db.query()

    assert report.written == 2
    assert report.rejected[["row", "column", "value"]].values.tolist() == [
        [1, "purchase_value", "abc"]
    ]
    assert back["user_id"].tolist() == ["u0", "u2"]
    assert back["purchase_value"].tolist() == [4.99, 2.0]


def test_a_type_conflict_on_the_server_names_the_rows_and_keeps_the_others(db):
    # InfluxDB 1.x keeps field types per shard: the conflicting point must share one.
    db.write_lines([f'events,event_type=x purchase_value="text" {T0.value - 1}'])
    frame = events(
        event_type=["transaction", "pageview", "transaction"],
        purchase_value=[1.5, None, 2.5],
        user_id=["a", "b", "c"],
    )

    with pytest.raises(jy.WriteError, match=r"refused 2 of 3 events \(rows 0, 2\)") as caught:
        db.write(frame)

    assert caught.value.rows == [0, 2]
    assert caught.value.report.written == 1
    assert "field type conflict" in caught.value.report.rejected["reason"].iloc[0]
    assert db.query(T0)["user_id"].tolist() == ["b"]
    with pytest.warns(jy.StoredTypeWarning, match="1 value.* purchase_value .* 'text'"):
        assert db.query()["purchase_value"].isna().all()


def test_nanoseconds_and_offsets_survive(db):
    frame = events(time=["2023-05-17T02:00:00.123456789+02:00", "2023-05-17 00:00:01"])

    db.write(frame)

    assert db.query().index.asi8.tolist() == [
        pd.Timestamp("2023-05-17T00:00:00.123456789Z").value,
        pd.Timestamp("2023-05-17T00:00:01Z").value,
    ]


def test_query_filters_by_event_type_and_tags(db):
    frame = events(
        event_type=["pageview", "scroll", "pageview", "transaction"],
        device_type=["tv", "tv", "mobile", "mobile"],
        location=["O'Hare", "Oslo", "O'Hare", "Oslo"],
    )
    db.write(frame)

    pageviews = db.query(event_types="pageview")
    mobile = db.query(where={"device_type": "mobile", "location": ["Oslo", "O'Hare"]})
    window = db.query(T0 + pd.Timedelta(seconds=1), T0 + pd.Timedelta(seconds=3))

    assert pageviews["device_type"].tolist() == ["tv", "mobile"]
    assert mobile["event_type"].tolist() == ["pageview", "transaction"]
    assert window["event_type"].tolist() == ["scroll", "pageview"]


def test_empty_query_gives_an_empty_typed_frame(db):
    back = db.query("2030-01-01", "2030-01-02")

    assert len(back) == 0
    assert list(back.columns) == [c.name for c in jy.COLUMNS]
    assert dict(back.dtypes) == jy.dtypes()
    assert str(back.index.dtype) == "datetime64[ns, UTC]"


def test_tags_as_categories(db):
    db.write(events(device_type=["tv", "mobile"]))

    back = db.query(tags_as="category")

    assert isinstance(back["device_type"].dtype, pd.CategoricalDtype)
    assert back["device_type"].tolist() == ["tv", "mobile"]


def test_writing_to_a_missing_database_creates_it(influx_server):
    db = jy.connect(influx_server.url, database="made_on_first_write")

    report = db.write(events(user_id=["u"]))

    assert report.written == 1
    assert db.query()["user_id"].tolist() == ["u"]


def test_a_server_that_is_down_keeps_the_events_in_a_spool_and_replays_them(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from journeys.cli import main

    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    frame = jy.generate(users=20, days=2, seed=5)
    with jy.LocalInfluxDB() as gone:
        url = gone.url
    down = jy.connect(url, retries=1)

    with pytest.raises(jy.WriteError, match="could not be delivered") as caught:
        down.write(frame, batch_size=100)

    spool = caught.value.spool
    assert spool is not None and spool.parent == tmp_path
    assert caught.value.rows == list(range(len(frame)))
    assert len(spool.read_text().splitlines()) == len(frame) + 1  # and a comment line

    with jy.LocalInfluxDB() as server:
        result = CliRunner().invoke(main, ["write", str(spool), "--url", server.url])
        assert result.exit_code == 0, result.output
        same_events(jy.connect(server.url).query(), jy.validate(frame))


@contextlib.contextmanager
def _no_warning():
    """Fail when a journeys warning is issued inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", jy.JourneysWarning)
        yield
