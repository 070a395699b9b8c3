"""The schema itself: its columns, their limits, and the layouts over them."""

from __future__ import annotations

import pandas as pd
import pytest

import journeys as jy
from journeys.schema import SHORT_TEXT


def test_collector_columns_come_last_in_schema_order():
    names = [c.name for c in jy.COLUMNS]

    assert names[-2:] == ["event_id", "received_at"]
    assert len(names) == len(set(names)) == 16


@pytest.mark.parametrize(
    ("name", "kind", "dtype"),
    [("event_id", "string", pd.StringDtype()), ("received_at", "integer", pd.Int64Dtype())],
)
def test_collector_columns_have_their_kind_and_dtype(name, kind, dtype):
    column = jy.schema.column(name)

    assert column.kind == kind
    assert jy.dtypes()[name] == dtype
    assert column.description


@pytest.mark.parametrize("layout", sorted(jy.LAYOUTS))
@pytest.mark.parametrize("name", ["event_id", "received_at"])
def test_collector_columns_are_fields_in_every_layout(layout, name):
    chosen = jy.get_layout(layout)

    assert name not in chosen.tags
    assert name in chosen.fields
    assert chosen.kind(name) == jy.schema.column(name).kind


def test_every_string_column_has_a_length_limit_and_no_number_has_one():
    limits = {c.name: c.max_length for c in jy.COLUMNS}
    expected = {
        c.name: SHORT_TEXT for c in jy.COLUMNS if c.kind == "string" and c.name != "page_url"
    }
    expected |= {"page_url": 4096, "event_id": 64}
    expected |= {c.name: None for c in jy.COLUMNS if c.kind != "string"}

    assert SHORT_TEXT == 256
    assert limits == expected


@pytest.mark.parametrize("layout", sorted(jy.LAYOUTS))
def test_tags_at_their_limits_stay_inside_the_series_key_influxdb_allows(layout):
    # A character is at most 4 bytes of UTF-8 (an escaped one is 2), and each tag adds
    # its key, "=" and ",": the longest key that valid tags can make.
    chosen = jy.get_layout(layout)
    largest = len(chosen.measurement) + sum(
        4 * jy.schema.column(t).max_length + len(t) + 2 for t in chosen.tags
    )

    assert largest < 65_535
