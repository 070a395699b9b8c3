"""Line protocol as text: the exact lines expected for each kind of value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeys as jy
from journeys.lineprotocol import (
    escape_key,
    escape_measurement,
    escape_string_field,
    field_sets,
    series_keys,
)

T = 1684281600000000000  # 2023-05-17T00:00:00Z in nanoseconds


def lines(layout="default", **columns) -> list[str]:
    rows = len(next(iter(columns.values())))
    columns.setdefault("time", [T] * rows)
    columns.setdefault("event_type", ["pageview"] * rows)
    return jy.to_lines(jy.validate(pd.DataFrame(columns)), layout)


def test_tags_sorted_fields_in_schema_order_integers_suffixed():
    got = lines(
        event_type=["transaction"],
        location=["San Diego"],
        device_type=["mobile"],
        user_id=["67890"],
        purchase_value=[20],
        rental_duration=[48.0],
    )

    assert got == [
        "events,device_type=mobile,event_type=transaction,location=San\\ Diego "
        'user_id="67890",purchase_value=20.0,rental_duration=48i ' + str(T)
    ]


def test_published_layout_makes_ids_tags():
    got = lines("published", user_id=["67890"], content_id=["12345"], page_url=["/"])

    assert got == [f'events,content_id=12345,event_type=pageview,user_id=67890 page_url="/" {T}']


def test_missing_values_are_left_out_row_by_row():
    got = lines(scroll_depth=[None, 50.0], page_url=["/a", None], time=[T, T + 1])

    assert got == [
        f'events,event_type=pageview page_url="/a" {T}',
        f"events,event_type=pageview scroll_depth=50.0 {T + 1}",
    ]


def test_an_event_without_fields_gets_the_marker_field():
    assert lines(device_type=["tv"]) == [
        f"events,device_type=tv,event_type=pageview no_fields=true {T}"
    ]


def test_ties_get_a_sequence_tag_from_the_second_on():
    got = lines(user_id=["a", "b", "c"], device_type=["tv", "tv", "mobile"])

    assert got == [
        f'events,device_type=tv,event_type=pageview user_id="a" {T}',
        f'events,device_type=tv,event_type=pageview,event_seq=1 user_id="b" {T}',
        f'events,device_type=mobile,event_type=pageview user_id="c" {T}',
    ]


@pytest.mark.parametrize(
    "value, text",
    [(19.99, "19.99"), (0.1, "0.1"), (1e20, "1e+20"), (0.0, "0.0"), (1 / 3, "0.3333333333333333")],
)
def test_floats_are_written_exactly(value, text):
    assert lines(purchase_value=[value])[0].split(" ")[1] == f"purchase_value={text}"


def test_string_fields_escape_quotes_and_backslashes_and_keep_newlines():
    got = lines(page_url=['say "hi" \\ bye\nnext'])

    assert got == [f'events,event_type=pageview page_url="say \\"hi\\" \\\\ bye\nnext" {T}']


@pytest.mark.parametrize(
    "function, given, expected",
    [
        (escape_measurement, "my events,2", "my\\ events\\,2"),
        (escape_key, "a b,c=d", "a\\ b\\,c\\=d"),
        (escape_string_field, 'a"b\\c', 'a\\"b\\\\c'),
    ],
)
def test_escaping(function, given, expected):
    assert function(given) == expected


def test_tag_values_escape_commas_equals_and_spaces():
    got = lines(location=["a b,c=d"])

    assert got == [f"events,event_type=pageview,location=a\\ b\\,c\\=d no_fields=true {T}"]


def test_serialising_an_unvalidated_infinite_value_names_the_row():
    frame = jy.validate(pd.DataFrame({"time": [T, T], "event_type": ["a", "b"]}))
    frame["purchase_value"] = pd.array([1.0, float("inf")], dtype="Float64")

    with pytest.raises(jy.LineProtocolError, match="row 1, column purchase_value"):
        jy.to_lines(frame)


def test_an_empty_frame_gives_no_lines():
    assert jy.to_lines(jy.validate(pd.DataFrame({"time": [], "event_type": []}))) == []


def test_floats_of_every_magnitude_are_written_as_python_writes_them():
    rng = np.random.default_rng(5)
    values = rng.uniform(1, 10, 3000) * 10.0 ** rng.integers(-30, 30, 3000)
    values = np.concatenate([values, np.round(values, 2), np.floor(values), [5e-324, 1e300]])
    frame = jy.validate(pd.DataFrame({"time": T, "event_type": "a", "purchase_value": values}))

    written = [line.split(" ")[1] for line in jy.to_lines(frame)]

    assert written == [f"purchase_value={value!r}" for value in values.tolist()]


def test_serialising_an_unvalidated_tag_line_protocol_cannot_carry_names_the_row():
    frame = jy.validate(pd.DataFrame({"time": [T, T + 1], "event_type": ["a", "b"]}))
    frame["location"] = pd.array(["Oslo", "C:\\"], dtype="string")

    with pytest.raises(
        jy.LineProtocolError, match=r"row 1, column location: 'C:\\\\' has a backslash at its end"
    ):
        jy.to_lines(frame)


def test_an_empty_frame_has_no_keys_or_field_sets():
    empty = jy.validate(pd.DataFrame({"time": [], "event_type": []}))

    assert series_keys(empty).tolist() == []
    assert field_sets(empty).tolist() == []
