"""Inputs that have broken other InfluxDB writers, each checked twice.

DataFrame writers for InfluxDB have, over the years, sent ``nan`` as a value,
left a stray comma where a missing first field was, turned a nullable integer
into ``<NA>i``, written float32 values as strings, shifted times by a time
zone, rounded nanoseconds through a float, let tied events overwrite each
other, and dropped events that had tags only. For each such input a test
here states

- the exact line journeys makes of it (:func:`journeys.to_lines`), and
- what the real InfluxDB 1.x server stores from ``db.write``: read raw with
  InfluxQL, and back through ``db.query``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import stored

import journeys as jy
from journeys.schema import MAX_TIME, MIN_TIME

T = pd.Timestamp("2023-05-17T00:00:00Z")
NS = T.value  # 1684281600000000000
SECOND = 1_000_000_000


def raw(**columns) -> pd.DataFrame:
    """A raw frame of pageviews, one second apart from T unless ``time`` is given."""
    rows = len(next(iter(columns.values())))
    columns.setdefault("time", [NS + i * SECOND for i in range(rows)])
    columns.setdefault("event_type", ["pageview"] * rows)
    return pd.DataFrame(columns)


def lines_of(frame: pd.DataFrame, **options) -> list[str]:
    return jy.to_lines(jy.validate(frame, **options))


def select(db, fields: str, where: str = "") -> list[dict]:
    """Stored points, oldest first, over the whole time range InfluxDB keeps."""
    condition = f"time >= {MIN_TIME} AND time <= {MAX_TIME}" + (f" AND {where}" if where else "")
    return stored(db, f"SELECT {fields} FROM events WHERE {condition}")


def field_types(db) -> dict[str, str]:
    return {row["fieldKey"]: row["fieldType"] for row in stored(db, "SHOW FIELD KEYS")}


# Missing values ------------------------------------------------------------------------------


def test_nan_in_a_column_after_the_first_leaves_only_that_value_out(db):
    frame = raw(scroll_depth=[10.0, np.nan, 30.0], purchase_value=[np.nan, 2.5, np.nan])

    assert lines_of(frame) == [
        f"events,event_type=pageview scroll_depth=10.0 {NS}",
        f"events,event_type=pageview purchase_value=2.5 {NS + SECOND}",
        f"events,event_type=pageview scroll_depth=30.0 {NS + 2 * SECOND}",
    ]
    assert db.write(frame).written == 3
    assert select(db, "scroll_depth, purchase_value") == [
        {"time": NS, "scroll_depth": 10, "purchase_value": None},
        {"time": NS + SECOND, "scroll_depth": None, "purchase_value": 2.5},
        {"time": NS + 2 * SECOND, "scroll_depth": 30, "purchase_value": None},
    ]
    back = db.query()
    assert back["scroll_depth"].tolist() == [10.0, pd.NA, 30.0]
    assert back["purchase_value"].tolist() == [pd.NA, 2.5, pd.NA]


@pytest.mark.parametrize(
    "missing, present, line_fields",
    [
        # button_clicked sorts first of the fields, content_id is written first.
        ("button_clicked", "content_id", 'content_id="0042"'),
        ("content_id", "button_clicked", 'button_clicked="share"'),
    ],
)
def test_nan_in_the_first_field_leaves_no_stray_comma(db, missing, present, line_fields):
    values = {"content_id": "0042", "button_clicked": "share"}
    frame = raw(**{missing: [np.nan], present: [values[present]]})

    assert lines_of(frame) == [f"events,event_type=pageview {line_fields} {NS}"]
    assert db.write(frame).written == 1
    assert select(db, f"{missing}, {present}") == [
        {"time": NS, missing: None, present: values[present]}
    ]
    back = db.query()
    assert back[missing].isna().tolist() == [True]
    assert back[present].tolist() == [values[present]]


def test_nullable_int_float_and_string_columns_holding_na(db):
    frame = raw(
        rental_duration=pd.array([48, pd.NA, 0], dtype="Int64"),
        purchase_value=pd.array([pd.NA, 3.99, 0.0], dtype="Float64"),
        page_url=pd.array([pd.NA, "/movie/7", pd.NA], dtype="string"),
        user_id=pd.array(["u1", pd.NA, "u3"], dtype="string[python]"),
    )

    assert lines_of(frame) == [
        f'events,event_type=pageview user_id="u1",rental_duration=48i {NS}',
        f'events,event_type=pageview page_url="/movie/7",purchase_value=3.99 {NS + SECOND}',
        f'events,event_type=pageview user_id="u3",purchase_value=0.0,rental_duration=0i '
        f"{NS + 2 * SECOND}",
    ]
    assert db.write(frame).written == 3
    assert select(db, "user_id, page_url, purchase_value, rental_duration") == [
        {"time": NS, "user_id": "u1", "page_url": None, "purchase_value": None,
         "rental_duration": 48},
        {"time": NS + SECOND, "user_id": None, "page_url": "/movie/7", "purchase_value": 3.99,
         "rental_duration": None},
        {"time": NS + 2 * SECOND, "user_id": "u3", "page_url": None, "purchase_value": 0,
         "rental_duration": 0},
    ]  # fmt: skip
    assert field_types(db)["rental_duration"] == "integer"
    assert field_types(db)["purchase_value"] == "float"
    back = db.query()
    assert back["rental_duration"].tolist() == [48, pd.NA, 0]
    assert back["purchase_value"].tolist() == [pd.NA, 3.99, 0.0]
    assert back["page_url"].tolist() == [pd.NA, "/movie/7", pd.NA]


def test_a_boolean_column_holding_na_is_missing_where_na_and_refused_where_true(db):
    # The schema has no boolean column: a boolean is no number or text to store,
    # but NA in a boolean column is simply a missing value.
    frame = raw(
        rental_duration=pd.array([True, pd.NA, False], dtype="boolean"),
        page_url=pd.array([pd.NA, pd.NA, pd.NA], dtype="boolean"),
    )

    with pytest.raises(jy.ValidationError, match="row 0, column rental_duration: True is a boo"):
        jy.validate(frame)
    only_na = frame.iloc[[1]]
    assert lines_of(only_na) == [f"events,event_type=pageview no_fields=true {NS + SECOND}"]

    with pytest.warns(jy.SkippedRowsWarning):
        report = db.write(frame, on_invalid="skip")
    assert report.written == 1
    assert report.rejected[["row", "column"]].values.tolist() == [
        [0, "rental_duration"],
        [2, "rental_duration"],
    ]
    assert select(db, "*") == [
        {"time": NS + SECOND, "event_type": "pageview", "no_fields": True}
        | {name: None for name in field_types(db) if name != "no_fields"}
    ]
    back = db.query()
    assert back.index.asi8.tolist() == [NS + SECOND]
    assert back.drop(columns="event_type").isna().all(axis=None)


def test_an_integer_column_holding_nan_stays_integer_without_the_nan(db):
    # pandas turns an int column with a gap into float64: 48.0, NaN, 72.0.
    frame = raw(rental_duration=[48.0, np.nan, 72.0])

    assert lines_of(frame) == [
        f"events,event_type=pageview rental_duration=48i {NS}",
        f"events,event_type=pageview no_fields=true {NS + SECOND}",
        f"events,event_type=pageview rental_duration=72i {NS + 2 * SECOND}",
    ]
    assert db.write(frame).written == 3
    assert field_types(db) == {"no_fields": "boolean", "rental_duration": "integer"}

    # Integers written later, from an Int64 column, meet no type conflict.
    later = raw(rental_duration=pd.array([24], dtype="Int64"), time=[NS + 3 * SECOND])
    assert db.write(later).written == 1
    assert [p["rental_duration"] for p in select(db, "rental_duration")] == [48, 72, 24]
    assert db.query()["rental_duration"].tolist() == [48, pd.NA, 72, 24]


# Names and types -----------------------------------------------------------------------------


def test_columns_outside_the_schema_are_refused_by_name_or_dropped(db):
    frame = raw(page_url=["/a"], **{"1st_visit": [1.0], "été": ["oui"], "2 col": [2]})

    with pytest.raises(jy.SchemaError, match="outside the events schema: '1st_visit', 'été', "):
        db.write(frame)
    with pytest.raises(ValueError, match="'keep': columns outside the schema cannot be kept"):
        db.write(frame, extra_columns="keep")
    assert stored(db, "SHOW MEASUREMENTS") == []

    dropped = lines_of(frame, extra_columns="drop")
    assert dropped == [f'events,event_type=pageview page_url="/a" {NS}']
    assert db.write(frame, extra_columns="drop").written == 1
    assert field_types(db) == {"page_url": "string"}
    assert list(db.query().columns) == [c.name for c in jy.COLUMNS]


def test_float32_values_are_stored_as_the_shortest_text_that_reads_back_as_them(db):
    # np.float32(19.99) is exactly 19.9899997711181640625; it prints as 19.99,
    # and 19.99 rounds back to the same float32. The shortest text is stored.
    given = np.array([19.99, 0.1, 1 / 3, 3.4e38], dtype="float32")
    frame = raw(purchase_value=given)

    assert [line.split(" ")[1] for line in lines_of(frame)] == [
        "purchase_value=19.99",
        "purchase_value=0.1",
        "purchase_value=0.33333334",
        "purchase_value=3.4e+38",
    ]
    assert db.write(frame).written == 4
    values = [p["purchase_value"] for p in select(db, "purchase_value")]
    assert values == [19.99, 0.1, 0.33333334, 3.4e38]
    assert (np.array(values, dtype="float32") == given).all()
    assert field_types(db) == {"purchase_value": "float"}
    assert db.query()["purchase_value"].tolist() == [19.99, 0.1, 0.33333334, 3.4e38]


@pytest.mark.parametrize("dtype", ["float64", "Float64"])
def test_infinite_values_are_refused_by_row_or_skipped(db, dtype):
    frame = raw(purchase_value=pd.array([1.5, np.inf, -np.inf], dtype=dtype))

    with pytest.raises(jy.ValidationError, match="row 1, column purchase_value: inf is infinite"):
        db.write(frame)
    assert stored(db, "SHOW MEASUREMENTS") == []

    with pytest.warns(jy.SkippedRowsWarning):
        report = db.write(frame, on_invalid="skip")
    assert report.written == 1
    assert report.rejected["row"].tolist() == [1, 2]
    assert set(report.rejected["reason"]) == {"is infinite, which InfluxDB cannot store"}
    assert select(db, "purchase_value") == [{"time": NS, "purchase_value": 1.5}]


# Times ---------------------------------------------------------------------------------------


def test_events_sharing_tags_and_time_are_all_kept(db):
    frame = raw(user_id=["b", "a", "c", "d"], device_type=["tv"] * 3 + ["mobile"], time=[NS] * 4)

    # Numbered within the tie by their fields, so that the order of rows does not matter.
    assert lines_of(frame) == [
        f'events,device_type=tv,event_type=pageview,event_seq=1 user_id="b" {NS}',
        f'events,device_type=tv,event_type=pageview user_id="a" {NS}',
        f'events,device_type=tv,event_type=pageview,event_seq=2 user_id="c" {NS}',
        f'events,device_type=mobile,event_type=pageview user_id="d" {NS}',
    ]
    assert db.write(frame).written == 4
    assert db.write(frame).written == 4  # the same events again: replaced by themselves
    points = select(db, "user_id, device_type, event_seq")
    assert sorted((p["user_id"], p["event_seq"]) for p in points) == [
        ("a", None),
        ("b", "1"),
        ("c", "2"),
        ("d", None),
    ]
    back = db.query()
    assert sorted(back["user_id"]) == ["a", "b", "c", "d"]
    assert jy.schema.SEQUENCE_TAG not in back.columns


@pytest.mark.parametrize(
    "given, epoch_unit, nanoseconds",
    [
        ("2023-05-17T00:00:00.123456789Z", "ns", NS + 123_456_789),
        ("2023-05-17T02:00:00.123456789+02:00", "ns", NS + 123_456_789),
        (pd.Timestamp("2023-05-17T00:00:00.123456789Z"), "ns", NS + 123_456_789),
        (1684281600123456789, "ns", NS + 123_456_789),
        ("1684281600.123456789", "s", NS + 123_456_789),
        (1684281600, "s", NS),
        (1684281600123, "ms", NS + 123_000_000),
        (1684281600123456, "us", NS + 123_456_000),
        (1684281600.123456, "s", NS + 123_456_000),
        (1684281600123.456, "ms", NS + 123_456_000),
        (1684281600123456.0, "us", NS + 123_456_000),
    ],
)
def test_times_are_stored_and_read_back_to_the_nanosecond(db, given, epoch_unit, nanoseconds):
    frame = raw(page_url=["/"], time=pd.Series([given], dtype=object))

    assert lines_of(frame, epoch_unit=epoch_unit) == [
        f'events,event_type=pageview page_url="/" {nanoseconds}'
    ]
    assert db.write(frame, epoch_unit=epoch_unit).written == 1
    assert select(db, "page_url", f"time = {nanoseconds}") == [
        {"time": nanoseconds, "page_url": "/"}
    ]
    assert db.query().index.asi8.tolist() == [nanoseconds]


def test_a_float_nanosecond_epoch_is_refused_since_its_nanosecond_is_lost():
    # 1684281600123456789 as a float is 1684281600123456768: no float holds the time.
    frame = raw(time=[1684281600123456789.0, 1684281600123000000.0])

    valid, problems = jy.split_valid(frame)

    assert problems["row"].tolist() == [0]
    assert "more digits than a float holds" in problems["reason"][0]
    # A float made from milliseconds in nanoseconds gives them back exactly.
    assert valid.index.asi8.tolist() == [1684281600123000000]


@pytest.mark.parametrize("zone", ["Europe/Oslo", "America/New_York", "Asia/Kolkata"])
def test_a_time_zone_aware_index_is_converted_to_utc(db, zone):
    local = pd.DatetimeIndex([T + pd.Timedelta(nanoseconds=123_456_789)]).tz_convert(zone)
    frame = pd.DataFrame({"event_type": ["pageview"], "page_url": ["/"]}, index=local)

    assert lines_of(frame) == [f'events,event_type=pageview page_url="/" {NS + 123_456_789}']
    assert db.write(frame).written == 1
    assert [p["time"] for p in select(db, "page_url")] == [NS + 123_456_789]
    back = db.query()
    assert back.index.asi8.tolist() == [NS + 123_456_789]
    assert back.index[0] == local[0]


def test_times_before_1970_down_to_the_earliest_influxdb_keeps(db):
    times = [
        "1677-09-21T00:12:43.145224194Z",  # MIN_TIME, the earliest InfluxDB stores
        "1900-01-01T00:00:00.000000001Z",
        "1969-12-31T23:59:59.999999999Z",
        "2262-04-11T23:47:16.854775806Z",  # MAX_TIME, the latest
    ]
    expected = [MIN_TIME, -2208988799999999999, -1, MAX_TIME]
    frame = raw(page_url=["/a", "/b", "/c", "/d"], time=times)

    assert [int(line.rsplit(" ", 1)[1]) for line in lines_of(frame)] == expected
    assert db.write(frame).written == 4
    assert [p["time"] for p in select(db, "page_url")] == expected
    assert db.query().index.asi8.tolist() == expected

    too_early = raw(time=["1677-09-21T00:12:43.145224193Z", -1])
    with pytest.raises(jy.ValidationError, match="row 0, column time: .* outside the times"):
        jy.validate(too_early)


# Text ----------------------------------------------------------------------------------------


def test_an_event_with_tags_only_is_stored_with_the_marker_field(db):
    frame = raw(device_type=["tv"], location=["San Diego"], referral_source=["Google"])

    assert lines_of(frame) == [
        "events,device_type=tv,event_type=pageview,location=San\\ Diego,referral_source=Google "
        f"no_fields=true {NS}"
    ]
    assert db.write(frame).written == 1
    assert select(db, "*") == [
        {
            "time": NS,
            "device_type": "tv",
            "event_type": "pageview",
            "location": "San Diego",
            "no_fields": True,
            "referral_source": "Google",
        }
    ]
    back = db.query()
    assert "no_fields" not in back.columns
    assert back[["device_type", "location"]].values.tolist() == [["tv", "San Diego"]]


TEXTS = [
    ("Portland, OR", '"Portland, OR"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("C:\\Users\\ann", '"C:\\\\Users\\\\ann"'),
    ("line one\nline two", '"line one\nline two"'),
    ("🎬 film — ✓", '"🎬 film — ✓"'),
    ("ends in a backslash\\", '"ends in a backslash\\\\"'),
    ('\\"', '"\\\\\\""'),
]


@pytest.mark.parametrize("text, written", TEXTS)
def test_string_fields_keep_every_character(db, text, written):
    frame = raw(page_url=[text], user_id=["u1"])

    assert lines_of(frame) == [f'events,event_type=pageview user_id="u1",page_url={written} {NS}']
    assert db.write(frame).written == 1
    assert select(db, "page_url, user_id") == [{"time": NS, "page_url": text, "user_id": "u1"}]
    assert db.query()["page_url"].tolist() == [text]


@pytest.mark.parametrize(
    "text, written",
    [("Portland, OR", "Portland\\,\\ OR"), ("São Paulo", "São\\ Paulo"), ("a=b", "a\\=b"),
     ("🎬", "🎬"), ('say "hi"', 'say\\ "hi"')],
)  # fmt: skip
def test_tags_keep_commas_spaces_equals_quotes_and_emoji(db, text, written):
    frame = raw(location=[text])

    assert lines_of(frame) == [
        f"events,event_type=pageview,location={written} no_fields=true {NS}"
    ]
    assert db.write(frame).written == 1
    assert [p["location"] for p in select(db, "*")] == [text]
    assert db.query()["location"].tolist() == [text]


@pytest.mark.parametrize("text", ["C:\\", "two\nlines", "a\\ b"])
def test_tags_that_line_protocol_cannot_carry_are_refused_not_changed(db, text):
    frame = raw(location=["Oslo", text])

    with pytest.raises(jy.ValidationError, match="row 1, column location: .*which a tag cannot"):
        db.write(frame)
    assert stored(db, "SHOW MEASUREMENTS") == []
