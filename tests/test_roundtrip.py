"""Writing to and reading from a real throwaway InfluxDB 1.x server."""

from __future__ import annotations

import contextlib
import re
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
    with pytest.warns(jy.StoredTypeWarning, match="also holds purchase_value as string"):
        back = db.query()
    assert back["user_id"].tolist() == ["b"]  # the foreign point has no field of ours


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
        down.write(frame, batch_size=100, retry_for=0.5)

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


def test_events_tied_across_writes_both_land_and_rewrites_store_nothing_twice(db):
    alice = events(event_type=["transaction"], user_id=["alice"], purchase_value=[9.99])
    bob = events(event_type=["transaction"], user_id=["bob"], rental_duration=[48])

    db.write(alice)
    db.write(bob)
    db.write(alice)  # the same event again is recognised, not added
    back = db.query().sort_values("user_id")

    assert back["user_id"].tolist() == ["alice", "bob"]
    assert back["purchase_value"].isna().tolist() == [False, True]
    assert back["purchase_value"].iloc[0] == 9.99
    assert back["rental_duration"].isna().tolist() == [True, False]
    assert count(db) == 2


def test_writing_back_what_was_read_changes_nothing(db):
    tied = events(
        time=[T0] * 4,
        user_id=["d", "c", "b", "a"],
        purchase_value=[4.0, 3.0, 2.0, 1.0],
        device_type=["tv"] * 4,
    )
    db.write(tied)
    first = db.query()

    db.write(first.iloc[::-1])
    db.write(first.sample(frac=1, random_state=3))

    same_events(db.query(), first)
    assert count(db) == 4


def test_mixing_layouts_in_one_database_is_refused(db):
    db.write(events(user_id=["u"]))

    refused = pytest.raises(jy.SchemaError, match="already holds events in the 'default'")
    with refused, pytest.warns(jy.CardinalityWarning):
        db.write(events(user_id=["v"]), layout="published")
    assert count(db) == 1


def test_the_published_layout_reads_back_the_same_frame(db):
    frame = jy.generate(users=15, days=2, seed=8)

    with pytest.warns(jy.CardinalityWarning):
        db.write(frame, layout="published")
    with pytest.warns(jy.CardinalityWarning):
        db.write(frame, layout="published")

    same_events(db.query(), jy.validate(frame))


def test_conflicts_on_several_fields_and_shards_name_exactly_the_refused_rows(db):
    may, june = pd.Timestamp("2024-05-01T00:00:00Z"), pd.Timestamp("2024-06-20T00:00:00Z")
    db.write_lines([f"events,event_type=x purchase_value=1i,page_url=2.5 {may.value}"])
    frame = events(
        time=[may + pd.Timedelta(seconds=1), may + pd.Timedelta(seconds=2), june, may],
        purchase_value=[1.5, None, 2.5, None],
        page_url=[None, "text", "text", None],
        user_id=["a", "b", "c", "d"],
    )

    with pytest.raises(jy.WriteError) as caught:
        db.write(frame)

    assert caught.value.rows == [0, 1]
    assert caught.value.report.written == 2
    with pytest.warns(jy.StoredTypeWarning, match="page_url as float, purchase_value as int"):
        assert sorted(db.query(may + pd.Timedelta(1, "ns"))["user_id"]) == ["c"]
    assert stored(db, "SELECT count(user_id) FROM events")[0]["count"] == 2


def test_a_refused_line_with_an_apostrophe_is_reported(db):
    db.write_lines([f"events,event_type=x page_url=1i {T0.value}"])
    frame = events(page_url=["it's", "fine"], time=[T0 + pd.Timedelta(1, "s"), T0])

    with pytest.raises(jy.WriteError, match=r"rows 0, 1"):
        db.write(frame)


def test_a_line_larger_than_the_server_accepts_is_refused_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    with jy.LocalInfluxDB(max_body_size=3_000) as server:
        db = jy.connect(server.url)
        frame = events(page_url=["x" * 4_000, "small", "small too"])

        with pytest.raises(jy.WriteError, match=r"refused 1 of 3 events \(rows 0\)") as caught:
            db.write(frame)

        assert "larger than the server accepts" in caught.value.report.rejected["reason"][0]
        assert db.query()["page_url"].tolist() == ["small", "small too"]
        assert list(tmp_path.iterdir()) == []


def test_times_at_the_edges_of_what_influxdb_stores(db):
    edges = [jy.schema.MIN_TIME, jy.schema.MAX_TIME]
    db.write(events(time=edges, user_id=["first", "last"]))

    assert db.query()["user_id"].tolist() == ["first", "last"]
    with pytest.raises(jy.ValidationError, match="row 0, column time: .* outside the times"):
        db.write(events(time=[pd.Timestamp.max.tz_localize("UTC")]))


@pytest.mark.parametrize("big", [2**53 + 1, 2**63 - 1])
def test_large_integers_come_back_exactly(db, big):
    db.write(events(rental_popularity=[big, 1]))

    assert db.query()["rental_popularity"].tolist() == [big, 1]


@pytest.mark.parametrize("text", ["a\nb", "tab\there", "it's", "back\\slash"])
def test_filters_on_awkward_values(db, text):
    db.write(events(page_url=[text, "other"]))

    assert db.query(where={"page_url": text})["page_url"].tolist() == [text]


@pytest.mark.parametrize("text", ["a\rb", "nul\x00"])
def test_filters_influxql_cannot_express_say_so(db, text):
    with pytest.raises(ValueError, match="InfluxQL strings cannot hold"):
        db.query(where={"page_url": text})


def test_a_spool_with_line_breaks_in_strings_replays_into_its_database(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from journeys.cli import main

    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    texts = ["para1\n\npara2", "win\r\nline", "sep\u2028x", 'x\n# not a comment "', "last"]
    frame = events(page_url=texts)
    with jy.LocalInfluxDB() as gone:
        url = gone.url
    with pytest.raises(jy.WriteError) as caught:
        jy.connect(url, database="shop").write(frame, retry_for=0.5)

    with jy.LocalInfluxDB(database="") as server:
        result = CliRunner().invoke(main, ["write", str(caught.value.spool), "--url", server.url])

        assert result.exit_code == 0, result.output
        assert "database        shop" in result.output
        assert re.search(r"events read\s+5\b", result.output)
        assert jy.connect(server.url, database="shop").query()["page_url"].tolist() == texts


@pytest.mark.parametrize(
    ("name", "limit"), [("location", 256), ("page_url", 4096), ("event_id", 64)]
)
def test_strings_longer_than_their_column_allows_are_refused_by_name(db, name, limit):
    # Four-byte characters: the limit counts characters, not bytes.
    fits, too_long = "\U0001f3ac" * limit, "b" * (limit + 1)

    with pytest.warns(jy.SkippedRowsWarning):
        report = db.write(events(**{name: [fits, too_long]}), on_invalid="skip")

    assert report.rejected[["row", "column"]].values.tolist() == [[1, name]]
    assert (
        f"{limit + 1:,} characters long, more than the {limit:,}" in (report.rejected["reason"][0])
    )
    assert db.query()[name].tolist() == [fits]


@pytest.mark.parametrize("layout", ["default", "published"])
def test_the_collectors_columns_round_trip_as_fields(db, layout):
    ids = ["0b7e3f5c-8f4e-4d2a-9c1e-2f6a7d8e9b01", None, 'evt 1, "quoted"\n']
    received = [1_700_000_000_123, 0, None]
    frame = events(event_id=ids, received_at=received, user_id=["u1", "u2", "u3"])

    with pytest.warns(jy.CardinalityWarning) if layout == "published" else _no_warning():
        db.write(frame, layout=layout)
    back = db.query()

    assert back["event_id"].dtype == pd.StringDtype()
    assert back["received_at"].dtype == pd.Int64Dtype()
    assert back["event_id"].tolist() == [ids[0], pd.NA, ids[2]]
    assert back["received_at"].tolist() == [1_700_000_000_123, 0, pd.NA]
    assert list(back.columns)[-2:] == ["event_id", "received_at"]
    fields = {r["fieldKey"]: r["fieldType"] for r in stored(db, "SHOW FIELD KEYS FROM events")}
    assert (fields["event_id"], fields["received_at"]) == ("string", "integer")
    tags = {r["tagKey"] for r in stored(db, "SHOW TAG KEYS FROM events")}
    assert {"event_id", "received_at"} & tags == set()
    assert db.query(columns=["event_id"])["event_id"].tolist() == [ids[0], ids[2]]
    assert db.query(columns=["received_at"])["received_at"].tolist() == [1_700_000_000_123, 0]


def test_a_negative_zero_is_written_once_however_often(db):
    frame = events(event_type=["scroll"], scroll_depth=[-0.0])

    for _ in range(3):
        db.write(frame)

    assert count(db) == 1
    assert db.query()["scroll_depth"].tolist() == [0.0]


def test_published_events_without_content_ids_still_take_the_published_layout(db):
    with pytest.warns(jy.CardinalityWarning):
        db.write(events(user_id=["u1"]), layout="published")
    with pytest.warns(jy.CardinalityWarning):
        db.write(events(user_id=["u2"], time=[T0 + pd.Timedelta(1, "s")]), layout="published")

    assert db.query()["user_id"].tolist() == ["u1", "u2"]


def test_a_database_holding_both_layouts_is_refused(db):
    db.write_lines(
        [
            f"events,event_type=x,user_id=a f=1 {T0.value}",
            f'events,event_type=x user_id="b" {T0.value + 1}',
        ]
    )

    with pytest.raises(jy.SchemaError, match="holds events in both layouts"):
        db.write(events(user_id=["c"], time=[T0 + pd.Timedelta(1, "s")]))


def test_a_foreign_type_in_another_shard_hides_nothing_of_ours(db):
    june = pd.Timestamp("2024-06-20T00:00:00Z")
    db.write(events(user_id=["ours"]))
    db.write_lines([f"events,event_type=x user_id=42i {june.value}"])

    with pytest.warns(jy.StoredTypeWarning, match="user_id as integer"):
        back = db.query()

    assert back["user_id"].tolist() == ["ours"]


def test_a_filter_on_thousands_of_values(db):
    db.write(events(user_id=["u7", "other"]))

    back = db.query(where={"user_id": [f"u{i}" for i in range(4000)]})

    assert back["user_id"].tolist() == ["u7"]


def test_a_spool_replayed_later_overwrites_no_event_stored_meanwhile(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from journeys.cli import main

    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    with jy.LocalInfluxDB() as gone:
        url = gone.url
    with pytest.raises(jy.WriteError) as caught:
        jy.connect(url, database="web shop").write(events(user_id=["bob"]), retry_for=0.5)

    spool = caught.value.spool
    assert 'database="web shop"' in spool.read_text().splitlines()[0]
    with jy.LocalInfluxDB(database="web shop") as server:
        db = jy.connect(server.url, database="web shop")
        db.write(events(user_id=["alice"]))
        result = CliRunner().invoke(main, ["write", str(spool), "--url", server.url])

        assert result.exit_code == 0, result.output
        assert sorted(db.query()["user_id"]) == ["alice", "bob"]


def test_when_the_spool_folder_cannot_be_made_another_is_used(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(blocked / "spool"))
    with jy.LocalInfluxDB() as gone:
        url = gone.url

    with pytest.raises(jy.WriteError) as caught:
        jy.connect(url).write(events(user_id=["u"]), retry_for=0.5)

    assert caught.value.spool is not None
    assert caught.value.spool.parent.name == "journeys-spool"
    caught.value.spool.unlink()


def test_floats_another_writer_stored_in_integer_fields_are_not_cut_down(db):
    db.write_lines(
        ["events,event_type=x rental_popularity=2.9,rental_duration=3.0,scroll_depth=50i 1"]
    )

    with pytest.warns(jy.StoredTypeWarning) as warned:
        back = db.query()

    messages = " ".join(str(w.message) for w in warned)
    assert "rental_popularity as floats with a fraction" in messages
    assert "also holds rental_duration as float" in messages

    assert back["rental_popularity"].isna().tolist() == [True]
    assert back["rental_duration"].tolist() == [3]
    assert back["scroll_depth"].tolist() == [50.0]
