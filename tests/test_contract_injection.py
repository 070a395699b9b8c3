"""No input can add a point: every accepted event is exactly one point on a real InfluxDB.

Hypothesis puts arbitrary text, heavy in the characters line protocol gives a
meaning to (spaces, commas, equals signs, quotes, backslashes, line breaks,
NUL, lone surrogates), into every string column. Each event the contract
accepts is written through :func:`journeys.to_lines` to the throwaway server;
the server must then hold exactly one more point per accepted event, and each
point must read back with the value sent, unchanged.
"""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeys as jy
from journeys.collect.clock import parse_client_time
from journeys.collect.contract import (
    TAG_COLUMNS,
    Accepted,
    BodyError,
    Limits,
    Rejected,
    check_events,
    parse_body,
)
from journeys.lineprotocol import split_lines
from journeys.schema import COLUMNS

RECEIVED = 1_700_000_000_000
STRINGS = [c.name for c in COLUMNS if c.kind == "string"]
LIMITS = Limits(max_age=None)

# Characters with a meaning in line protocol or JSON, and some that are not text.
# (Lone surrogates written as chr(): ruff takes two surrogate literals for the same value.)
LONE_SURROGATES = {chr(0xD83D), chr(0xDE00)}
_SPECIAL = [*' ,="\\\n\r\t\x00\x0b\x1f\x7f#', *sorted(LONE_SURROGATES), "😀", "é", "\u2028"]
TEXT = st.text(st.sampled_from(_SPECIAL) | st.characters(), min_size=0, max_size=24)
_times = itertools.count(1)


def _point_count(db) -> int:
    (result,) = db.influxql("SELECT COUNT(received_at) FROM events")
    series = result.get("series")
    return series[0]["values"][0][1] if series else 0


def _stored_value(db, column: str, nanos: int):
    (result,) = db.influxql(f'SELECT received_at, "{column}" FROM events WHERE time = {nanos}')
    (values,) = result["series"][0]["values"]
    return values[2]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(st.sampled_from(STRINGS), TEXT), min_size=1, max_size=8))
def test_no_string_adds_a_point(db, pairs):
    events = []
    for column, text in pairs:
        event = {"event_type": "probe", column: text, "time": RECEIVED - next(_times)}
        events.append(event)

    results = check_events(events, received_at=RECEIVED, limits=LIMITS)
    accepted = [r for r in results if isinstance(r, Accepted)]
    for result in results:
        if isinstance(result, Rejected):
            assert result.field in STRINGS and result.reason
    if not accepted:
        return

    frame = jy.validate(pd.DataFrame([r.row for r in accepted]))
    lines = jy.to_lines(frame)
    before = _point_count(db)
    answer = db.post_lines("\n".join(lines).encode("utf-8"))

    assert answer.status_code == 204, answer.text
    assert _point_count(db) == before + len(accepted)
    for result in accepted:
        column = pairs[result.index][0]
        assert _stored_value(db, column, result.row["time"]) == result.row[column]


@pytest.mark.parametrize("column", STRINGS)
def test_every_special_character_is_one_point(db, column):
    events = [
        {"event_type": "probe", column: f"a{char}b", "time": RECEIVED - next(_times)}
        for char in _SPECIAL
    ]

    results = check_events(events, received_at=RECEIVED, limits=LIMITS)
    accepted = [r for r in results if isinstance(r, Accepted)]
    refused = {_SPECIAL[r.index] for r in results if isinstance(r, Rejected)}
    lines = jy.to_lines(jy.validate(pd.DataFrame([r.row for r in accepted])))
    answer = db.post_lines("\n".join(lines).encode("utf-8"))

    assert answer.status_code == 204, answer.text
    assert _point_count(db) == len(accepted)
    for result in accepted:
        assert _stored_value(db, column, result.row["time"]) == result.row[column]
    line_breaks = {"\n", "\r"} if column in TAG_COLUMNS else set()
    assert refused == LONE_SURROGATES | line_breaks


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=10,
)
KEYS = st.sampled_from([*(c.name for c in COLUMNS), "time", "sent_at", "other"])


# Events that are mostly right, so that many are accepted.
PLAUSIBLE = st.builds(
    lambda event_type, rest: {"event_type": event_type, **rest},
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=8),
    st.dictionaries(
        KEYS,
        st.none() | st.integers(-5, 200) | st.floats(-5, 200) | TEXT | st.just(1_699_999_999_000),
        max_size=5,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON | st.dictionaries(KEYS, JSON, max_size=6) | PLAUSIBLE, max_size=5))
def test_any_json_gets_one_result_per_item(items):
    results = check_events(items, received_at=RECEIVED, limits=Limits())

    assert [r.index for r in results] == list(range(len(items)))
    for result, item in zip(results, items, strict=True):
        if isinstance(result, Accepted):
            assert result.row["received_at"] == RECEIVED
            assert result.row["event_type"] == item["event_type"]
            (line,) = jy.to_lines(jy.validate(pd.DataFrame([result.row])))
            assert len(split_lines(line)) == 1
        else:
            assert result.reason.startswith(("is ", "has ", "holds ")), result.reason
            # Both go into a JSON answer as UTF-8: no lone surrogate may remain.
            result.reason.encode("utf-8")
            (result.field or "").encode("utf-8")
            keys = item if type(item) is dict else ()
            sent = [k.encode("utf-8", "backslashreplace").decode() for k in keys]
            assert result.field in (None, "event_type", *sent)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([None, "gzip"]))
def test_any_bytes_are_read_or_refused_with_a_status(body, encoding):
    try:
        items = parse_body(body, content_type=None, content_encoding=encoding, limits=Limits())
    except BodyError as exc:
        assert exc.status in (400, 413, 415)
        assert exc.message
    else:
        assert isinstance(items, list)


@given(
    st.datetimes(
        min_value=pd.Timestamp("1700-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
    ),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.integers(0, 999_999_999),
)
def test_iso_times_read_as_pandas_reads_them(moment, offset_minutes, nanos):
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}{sign}{hours:02d}:{minutes:02d}"

    parsed, reason = parse_client_time(text)

    assert reason == ""
    assert parsed == pd.Timestamp(text).value


@given(st.floats(-9e12, 9e12, allow_nan=False))
def test_epoch_milliseconds_keep_microseconds(ms):
    parsed, reason = parse_client_time(ms)

    assert reason == ""
    assert parsed == math.floor(ms * 1000 + 0.5) * 1000
    assert abs(parsed - ms * 1_000_000) <= 500 + abs(ms) * 1e-9
