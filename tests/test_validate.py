"""Validation: what is coerced, what is refused, and how times are read."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import journeys as jy


def raw(**columns) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    columns.setdefault("time", ["2023-05-17T00:00:00Z"] * rows)
    columns.setdefault("event_type", ["transaction"] * rows)
    return pd.DataFrame(columns)


def test_result_has_the_schema_columns_dtypes_and_a_utc_index():
    events = jy.validate(raw(purchase_value=[1.5]))

    assert list(events.columns) == [c.name for c in jy.COLUMNS]
    assert dict(events.dtypes) == jy.dtypes()
    assert events.index.name == "time"
    assert str(events.index.dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    "column, given, expected",
    [
        ("purchase_value", [20], [20.0]),
        ("purchase_value", ["19.99"], [19.99]),
        ("rental_duration", [48.0], [48]),
        ("rental_duration", ["72"], [72]),
        ("rental_popularity", [np.int32(7)], [7]),
        ("scroll_depth", [0], [0.0]),
        ("content_id", [12345], ["12345"]),
        ("content_id", [12345.0], ["12345"]),
        ("user_id", ["00123"], ["00123"]),
    ],
)
def test_values_are_coerced_when_nothing_is_lost(column, given, expected):
    events = jy.validate(raw(**{column: given}))

    assert events[column].tolist() == expected


@pytest.mark.parametrize(
    "column, given, reason",
    [
        ("purchase_value", "abc", "is not a number"),
        ("purchase_value", True, "is a boolean"),
        ("purchase_value", float("inf"), "is infinite"),
        ("purchase_value", -1.0, r"-1.0 is negative\."),
        ("scroll_depth", 100.5, "outside the range 0 to 100"),
        ("rental_duration", 2.5, "is not a whole number"),
        ("rental_duration", 1e30, "does not fit a 64-bit integer"),
        ("location", "ends\\", "backslash at its end"),
        ("device_type", "two\nlines", "holds a line break"),
        ("page_url", "\ud83c", "lone surrogate"),
    ],
)
def test_values_that_cannot_be_stored_are_named(column, given, reason):
    frame = raw(**{column: pd.Series([None, given], dtype=object)})

    with pytest.raises(jy.ValidationError, match=f"row 1, column {column}: .*{reason}") as caught:
        jy.validate(frame)

    assert caught.value.rows == [1]
    assert caught.value.problems["column"].tolist() == [column]


def test_split_valid_keeps_every_valid_row_and_lists_every_problem():
    frame = raw(
        purchase_value=["1", "x", "2", "3"],
        rental_duration=[1, 2, 3.5, 4],
        user_id=["a", "b", "c", "d"],
    )

    valid, problems = jy.split_valid(frame)

    assert valid["user_id"].tolist() == ["a", "d"]
    assert problems[["row", "column"]].values.tolist() == [
        [1, "purchase_value"],
        [2, "rental_duration"],
    ]


def test_required_columns_and_unknown_columns():
    with pytest.raises(jy.SchemaError, match="no event_type column"):
        jy.validate(pd.DataFrame({"time": ["2023-01-01"]}))
    with pytest.raises(jy.SchemaError, match="no time column"):
        jy.validate(pd.DataFrame({"event_type": ["x"]}))
    with pytest.raises(jy.SchemaError, match="outside the events schema: .colour."):
        jy.validate(raw(colour=["red"]))

    assert "colour" not in jy.validate(raw(colour=["red"]), extra_columns="drop").columns


def test_missing_event_type_or_time_is_an_error_naming_the_row():
    frame = pd.DataFrame({"time": ["2023-01-01", None], "event_type": [None, "x"]})

    _, problems = jy.split_valid(frame)

    assert problems[["row", "column"]].values.tolist() == [[0, "event_type"], [1, "time"]]


def test_empty_tags_are_missing_tags():
    events = jy.validate(raw(location=["", "Oslo"]))

    assert events["location"].isna().tolist() == [True, False]


def test_the_event_type_vocabulary_is_open():
    events = jy.validate(raw(event_type=["newsletter_signup"]))

    assert events["event_type"].tolist() == ["newsletter_signup"]


@pytest.mark.parametrize(
    "given, expected",
    [
        ("2023-05-17T00:05:00Z", "2023-05-17T00:05:00Z"),
        ("2023-05-17T02:05:00+02:00", "2023-05-17T00:05:00Z"),
        ("2023-05-16T19:05:00-05:00", "2023-05-17T00:05:00Z"),
        ("2023-05-17T00:05:00", "2023-05-17T00:05:00Z"),
        ("2023-05-17 00:05:00.123456789", "2023-05-17T00:05:00.123456789Z"),
        (pd.Timestamp("2023-05-17 00:05"), "2023-05-17T00:05:00Z"),
        (pd.Timestamp("2023-05-17 02:05", tz="Europe/Berlin"), "2023-05-17T00:05:00Z"),
        ("1969-07-20T20:17:40Z", "1969-07-20T20:17:40Z"),
    ],
)
def test_times_are_normalised_to_utc_nanoseconds(given, expected):
    events = jy.validate(raw(time=[given]))

    assert events.index[0] == pd.Timestamp(expected)


def test_mixed_offsets_in_one_column():
    events = jy.validate(raw(time=["2023-05-17T00:00:00+01:00", "2023-05-17T00:00:00-01:00"]))

    assert [t.hour for t in events.index] == [23, 1]


@pytest.mark.parametrize(
    "unit, value", [("s", 1684281900), ("ms", 1684281900000), ("ns", 1684281900000000000)]
)
def test_numeric_epochs_in_the_unit_given(unit, value):
    events = jy.validate(raw(time=[value]), epoch_unit=unit)

    assert events.index[0] == pd.Timestamp("2023-05-17T00:05:00Z")


def test_epochs_that_look_like_seconds_read_as_nanoseconds_warn():
    with pytest.warns(jy.TimeUnitWarning, match="epoch_unit='s'"):
        jy.validate(raw(time=[1684281900]))


def test_unparsable_time_is_named():
    with pytest.raises(jy.ValidationError, match="row 0, column time: 'yesterday'"):
        jy.validate(raw(time=["yesterday"]))


def test_a_datetime_index_serves_as_the_time():
    frame = pd.DataFrame({"event_type": ["x"]}, index=pd.DatetimeIndex(["2023-05-17"], tz="UTC"))

    assert jy.validate(frame).index[0] == pd.Timestamp("2023-05-17", tz="UTC")


def test_validation_is_idempotent():
    events = jy.generate(users=30, days=3, seed=4)

    pd.testing.assert_frame_equal(jy.validate(jy.validate(events)), jy.validate(events))


@pytest.mark.parametrize(
    "column, given, expected",
    [
        (
            "rental_popularity",
            pd.Series(["9007199254740993", None], dtype=object),
            [9007199254740993, None],
        ),
        ("rental_popularity", pd.Series([2**63 - 1, None], dtype=object), [2**63 - 1, None]),
        ("rental_popularity", pd.Series([2**53 + 1, 2], dtype="uint64"), [2**53 + 1, 2]),
        ("purchase_value", pd.Series(["4.8e1", " 19.99 "], dtype=object), [48.0, 19.99]),
        ("purchase_value", pd.Series([Decimal("19.99"), None], dtype=object), [19.99, None]),
        ("purchase_value", pd.Series([1, 2], dtype="int32"), [1.0, 2.0]),
        ("user_id", pd.Series([b"abc", None], dtype=object), ["abc", None]),
    ],
)
def test_exact_conversions(column, given, expected):
    events = jy.validate(raw(**{column: given}))

    assert [None if v is pd.NA else v for v in events[column].tolist()] == expected


@pytest.mark.parametrize(
    "column, given, reason",
    [
        ("purchase_value", Decimal("0.1000000000000000000001"), "more digits than a float"),
        ("purchase_value", "0.1000000000000000000001", "more digits than a float"),
        ("purchase_value", 2**53 + 1, "more digits than a float"),
        ("purchase_value", 1 + 2j, "is not a number"),
        ("rental_popularity", 2**63, "does not fit a 64-bit integer"),
        ("rental_popularity", "1e30", "does not fit a 64-bit integer"),
        ("user_id", 1.2345678901234567e19, "beyond 2\\*\\*53"),
        ("user_id", b"\xff", "not UTF-8"),
        ("user_id", True, "is a boolean"),
    ],
)
def test_conversions_that_would_change_a_value_are_refused(column, given, reason):
    frame = raw(**{column: pd.Series([None, given], dtype=object)})

    with pytest.raises(jy.ValidationError, match=f"row 1, column {column}: .*{reason}"):
        jy.validate(frame)


@pytest.mark.parametrize(
    "values, reason",
    [
        (pd.Series([2**63 + 5], dtype="uint64"), "does not fit a 64-bit integer"),
        (pd.Series([1 + 1j], dtype="complex128"), "is not a number"),
    ],
)
def test_numeric_dtypes_that_cannot_be_stored(values, reason):
    with pytest.raises(jy.ValidationError, match=reason):
        jy.validate(raw(rental_popularity=values))


def test_a_lone_surrogate_in_a_python_string_column_is_named():
    column = pd.Series(["ok", "\ud83c"], dtype=pd.StringDtype("python"))

    with pytest.raises(jy.ValidationError, match="row 1, column page_url: .*lone surrogate"):
        jy.validate(raw(page_url=column))


@pytest.mark.parametrize(
    "times, reason",
    [
        (pd.Series([pd.Timestamp("2300-01-01")]).astype("datetime64[s]"), "outside the times"),
        (pd.Series([True]), "is not a time"),
        (pd.Series(["2262-04-12T00:00:00Z"]), "outside the times|not an ISO"),
    ],
)
def test_times_that_cannot_be_stored_are_named(times, reason):
    with pytest.raises(jy.ValidationError, match=f"row 0, column time: .*({reason})"):
        jy.validate(raw(time=times))


def test_epoch_text_mixed_with_iso_text_keeps_nanoseconds():
    times = pd.Series(["1684282300123456789", "2023-05-17T00:00:00Z", None], dtype=object)

    events, problems = jy.split_valid(raw(time=times))

    assert problems["row"].tolist() == [2]

    assert events.index.asi8.tolist() == [1684282300123456789, 1684281600000000000]


def test_tag_rules_apply_only_to_the_tags_of_the_layout():
    frame = raw(user_id=["", "two\nlines"])

    assert jy.validate(frame)["user_id"].tolist() == ["", "two\nlines"]
    with pytest.raises(jy.ValidationError, match="row 1, column user_id: .*line break"):
        jy.validate(frame, layout="published")


def test_a_time_column_and_a_time_index_together_are_refused():
    frame = raw(user_id=["u"]).set_index(pd.DatetimeIndex(["2023-01-01"], tz="UTC"))

    with pytest.raises(jy.SchemaError, match="both a time column and a time index"):
        jy.validate(frame)


def test_datetime_objects_in_an_object_column():
    import datetime

    berlin = datetime.timezone(datetime.timedelta(hours=2))
    times = pd.Series(
        [
            datetime.datetime(2023, 5, 17, 2, 5, tzinfo=berlin),
            datetime.datetime(2023, 5, 17, 0, 5),
            pd.Timestamp("2023-05-17T00:05:00.000000001Z"),
            "2023-05-17T00:05:00Z",
            datetime.date(2023, 5, 17),
        ],
        dtype=object,
    )

    events = jy.validate(raw(time=times))

    base = pd.Timestamp("2023-05-17T00:05:00Z").value
    assert events.index.asi8.tolist() == [base, base, base + 1, base, base - 5 * 60 * 10**9]


def test_the_second_before_influxdbs_first_is_refused_not_wrapped():
    before = pd.Series([pd.Timestamp("1677-09-21T00:12:43")]).astype("datetime64[s]")

    with pytest.raises(jy.ValidationError, match="outside the times"):
        jy.validate(raw(time=before))


def test_a_float_holding_a_large_whole_number_keeps_its_exact_value():
    events = jy.validate(raw(rental_popularity=pd.Series([2.0**60, None], dtype=object)))

    assert events["rental_popularity"].iloc[0] == 2**60


def test_a_fraction_of_a_nanosecond_is_refused():
    with pytest.raises(jy.ValidationError, match="fraction of a nanosecond"):
        jy.validate(raw(time=pd.Series(["1684282300.1234567891"], dtype=object)), epoch_unit="s")


@pytest.mark.parametrize(
    "given",
    [
        np.array([19.99, 0.1], dtype="float32"),
        pd.array([19.99, 0.1], dtype="Float32"),
        pd.Series([19.99, 0.1], dtype="float32[pyarrow]"),
        pd.Series([np.float32(19.99), np.float32(0.1)], dtype=object),
    ],
)
def test_float32_values_become_their_shortest_text(given):
    events = jy.validate(raw(purchase_value=given))

    assert events["purchase_value"].tolist() == [19.99, 0.1]


def test_extra_columns_cannot_be_kept():
    with pytest.raises(ValueError, match="'keep': columns outside the schema cannot be kept"):
        jy.validate(raw(colour=["red"]), extra_columns="keep")


@pytest.mark.parametrize("storage", ["pyarrow", "python"])
def test_a_string_over_its_columns_limit_is_named_with_the_limit(storage):
    urls = pd.Series(["https://example.com/" + "x" * 4_076, "y" * 4_097, None])
    frame = raw(page_url=urls.astype(pd.StringDtype(storage)))

    with pytest.raises(jy.ValidationError) as caught:
        jy.validate(frame)

    assert str(caught.value).startswith(
        f"1 row(s) cannot be stored: row 1, column page_url: '{'y' * 40}...' is 4,097 "
        "characters long, more than the 4,096 the schema allows for page_url; "
        "shorten it (frame['page_url'].str.slice(0, 4096))"
    )
    valid, problems = jy.split_valid(frame)
    assert valid["page_url"].str.len().tolist() == [4_096, pd.NA]
    assert problems[["row", "column"]].values.tolist() == [[1, "page_url"]]


def test_a_tag_too_long_and_with_line_breaks_is_one_problem():
    frame = raw(location=["a\n" * 200])

    problems = jy.split_valid(frame)[1]

    assert problems[["row", "column"]].values.tolist() == [[0, "location"]]
    assert "is 400 characters long, more than the 256" in problems["reason"][0]
