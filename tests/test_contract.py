"""The event contract: every shared vector through the Python collector and the JSON Schema.

``contract/vectors.json`` holds the expected results, written by hand; each
vector runs here through :func:`parse_body` and :func:`check_events`, and an
accepted event's row through :func:`journeys.validate` and
:func:`journeys.to_lines`, the path the collector's writer takes.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

import journeys as jy
from journeys.collect.contract import (
    VALID_KEYS,
    Accepted,
    BodyError,
    Limits,
    Rejected,
    check_events,
    event_json_schema,
    parse_body,
)
from journeys.schema import COLUMNS

CONTRACT = Path(__file__).resolve().parent.parent / "contract"
DOC = json.loads((CONTRACT / "vectors.json").read_text(encoding="utf-8"))
VECTORS = DOC["vectors"]
EVENTS = [v for v in VECTORS if "event" in v]
BODIES = [v for v in VECTORS if "request" in v]
REGENERATE = "python -m journeys.collect.contract > contract/events.schema.json"


def _limits(vector: dict) -> Limits:
    return Limits(**{**DOC["limits"], **vector.get("limits", {})})


def _received(vector: dict) -> int:
    return vector.get("received_at", DOC["received_at"])


def _line(row: dict) -> str:
    """The line protocol of one accepted row, as the collector's writer makes it."""
    frame = jy.validate(pd.DataFrame([row]))
    (line,) = jy.to_lines(frame, DOC["layout"])
    return line


def _assert_result(expected: dict, result: Accepted | Rejected) -> None:
    if expected["status"] == "accepted":
        assert isinstance(result, Accepted), result
        assert _line(result.row) == expected["line"]
    else:
        assert isinstance(result, Rejected), result
        assert result.field == expected["field"]
        assert expected["reason"].lower() in result.reason.lower(), result.reason


def _body(request: dict) -> bytes:
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    return request["body"].encode("utf-8")


@pytest.mark.parametrize("vector", EVENTS, ids=[v["name"] for v in EVENTS])
def test_event_vector(vector):
    (result,) = check_events(
        [vector["event"]], received_at=_received(vector), limits=_limits(vector)
    )

    assert result.index == 0
    _assert_result(vector["expect"], result)


@pytest.mark.parametrize("vector", BODIES, ids=[v["name"] for v in BODIES])
def test_body_vector(vector):
    request, expected = vector["request"], vector["expect"]
    limits = _limits(vector)

    def parse():
        return parse_body(
            _body(request),
            content_type=request["content_type"],
            content_encoding=request["content_encoding"],
            limits=limits,
        )

    if expected["http_status"] != 202:
        with pytest.raises(BodyError) as caught:
            parse()
        assert caught.value.status == expected["http_status"]
        assert expected["reason"].lower() in caught.value.message.lower(), caught.value.message
        if "position" in expected:
            assert caught.value.position == expected["position"]
        return

    results = check_events(parse(), received_at=_received(vector), limits=limits)
    assert [r.index for r in results] == list(range(len(expected["results"])))
    for want, result in zip(expected["results"], results, strict=True):
        _assert_result(want, result)


SCHEMA = event_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@pytest.mark.parametrize("vector", EVENTS, ids=[v["name"] for v in EVENTS])
def test_json_schema_agrees(vector):
    assert VALIDATOR.is_valid(vector["event"]) is vector["schema_valid"]
    if vector["expect"]["status"] == "accepted":
        assert vector["schema_valid"] is True
    elif vector["schema_valid"]:
        # A rule the JSON Schema cannot express says why.
        assert vector["note"]


def test_json_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_shipped_json_schema_is_current():
    shipped = (CONTRACT / "events.schema.json").read_text(encoding="utf-8")
    made = json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n"

    assert shipped == made, f"contract/events.schema.json is out of date: run `{REGENERATE}`"


def test_module_writes_the_schema():
    written = subprocess.run(
        [sys.executable, "-m", "journeys.collect.contract"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert json.loads(written) == event_json_schema()


def test_vectors_cover_every_column_and_have_unique_names():
    names = [v["name"] for v in VECTORS]
    sent = {key for v in EVENTS if v["expect"]["status"] == "accepted" for key in v["event"]}
    client_columns = {c.name for c in COLUMNS} - {"received_at"}

    assert len(names) == len(set(names))
    assert client_columns | {"time", "sent_at"} <= sent
    assert len(VECTORS) >= 90


def test_vectors_limits_are_the_defaults():
    assert Limits(**DOC["limits"]) == Limits()


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"max_events": 0}, "max_events"),
        ({"max_body_bytes": 1.5}, "max_body_bytes"),
        ({"skew_tolerance": -1}, "skew_tolerance"),
        ({"max_future": float("inf")}, "max_future"),
        ({"max_age": "1d"}, "max_age"),
    ],
)
def test_limits_are_validated(options, name):
    with pytest.raises(ValueError, match=name):
        Limits(**options)


def test_limits_are_keyword_only():
    with pytest.raises(TypeError):
        Limits(100)


RECEIVED = 1_700_000_000_000


def test_results_keep_their_index_and_the_good_events():
    items = [{"event_type": "a"}, {"event_type": "b", "bad": 1}, {"event_type": "c"}]

    results = check_events(items, received_at=RECEIVED, limits=Limits())

    assert [type(r) for r in results] == [Accepted, Rejected, Accepted]
    assert [r.index for r in results] == [0, 1, 2]
    assert results[2].row == {
        "event_type": "c",
        "time": RECEIVED * 1_000_000,
        "received_at": RECEIVED,
    }


def test_row_holds_python_values_of_the_column_types():
    event = {
        "event_type": "transaction",
        "purchase_value": 20,
        "rental_duration": 48.0,
        "event_id": "e-1",
        "time": "2023-11-14T22:13:19Z",
    }

    (result,) = check_events([event], received_at=RECEIVED, limits=Limits())

    assert result.row == {
        "event_type": "transaction",
        "purchase_value": 20.0,
        "rental_duration": 48,
        "event_id": "e-1",
        "time": 1_699_999_999_000_000_000,
        "received_at": RECEIVED,
    }
    assert type(result.row["purchase_value"]) is float
    assert type(result.row["rental_duration"]) is int


def test_unknown_key_is_named_and_the_valid_ones_are_valid_keys():
    # The valid keys are listed once per answer (the collector's valid_keys), not in
    # each rejection, so that an answer of many such rejections stays small.
    (result,) = check_events(
        [{"event_type": "x", "userid": "u"}], received_at=RECEIVED, limits=Limits()
    )

    assert result.field == "userid"
    assert '("userid")' in result.reason and "use one of valid_keys" in result.reason
    assert "user_id" in VALID_KEYS and "sent_at" in VALID_KEYS
    assert "received_at" not in VALID_KEYS
    assert set(VALID_KEYS) == set(event_json_schema()["properties"]) - {"received_at"}


def test_tolerance_and_max_future_are_configurable():
    late_clock = {"event_type": "x", "time": RECEIVED - 8_000, "sent_at": RECEIVED - 7_000}
    ahead = {"event_type": "x", "time": RECEIVED + 60_000}

    strict = check_events([late_clock, ahead], received_at=RECEIVED, limits=Limits())
    loose = check_events(
        [late_clock, ahead],
        received_at=RECEIVED,
        limits=Limits(skew_tolerance=10.0, max_future=30.0),
    )

    assert strict[0].row["time"] == (RECEIVED - 1_000) * 1_000_000
    assert strict[1].row["time"] == (RECEIVED + 60_000) * 1_000_000
    assert loose[0].row["time"] == (RECEIVED - 8_000) * 1_000_000
    assert isinstance(loose[1], Rejected) and loose[1].field == "time"


def test_max_age_none_takes_old_events():
    old = {"event_type": "x", "time": "1990-01-01T00:00:00Z"}

    (result,) = check_events([old], received_at=RECEIVED, limits=Limits(max_age=None))

    assert result.row["time"] == 631_152_000 * 10**9


def test_a_corrected_time_is_never_after_the_receipt():
    # The client's clock 1 hour behind, the request 3 s on the way.
    event = {
        "event_type": "x",
        "time": RECEIVED - 3_600_000 - 4_000,
        "sent_at": RECEIVED - 3_603_000,
    }

    (result,) = check_events([event], received_at=RECEIVED, limits=Limits())

    assert result.row["time"] == (RECEIVED - 1_000) * 1_000_000


def test_gzip_of_several_members_is_read_whole():
    body = gzip.compress(b'[{"event_type": "a"},') + gzip.compress(b'{"event_type": "b"}]')

    items = parse_body(body, content_type=None, content_encoding="gzip", limits=Limits())

    assert items == [{"event_type": "a"}, {"event_type": "b"}]


def test_a_zip_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b" " * 50_000_000)

    with pytest.raises(BodyError) as caught:
        parse_body(bomb, content_type=None, content_encoding="gzip", limits=Limits())

    assert caught.value.status == 413
    assert len(bomb) < Limits().max_body_bytes


def test_deep_nesting_is_a_400():
    with pytest.raises(BodyError) as caught:
        parse_body(b"[" * 200_000, content_type=None, content_encoding=None, limits=Limits())

    assert caught.value.status == 400


def test_json_error_position_and_message():
    with pytest.raises(BodyError) as caught:
        parse_body(
            b'{"event_type": x}',
            content_type="application/json",
            content_encoding=None,
            limits=Limits(),
        )

    assert caught.value.position == 15
    assert "line 1 column 16 (char 15)" in caught.value.message


@pytest.mark.parametrize(
    "event",
    [
        {"event_type": "x", **{f"key_{n}": "v" * 1000 for n in range(40)}},
        {"event_type": "x", **{f"count_{n}": 10**4000 for n in range(9)}},
        {"event_type": "x", "page_url": ["p" * 1000] * 40},
        {"event_type": "x", "page_url": "\x01" * 4000, "note": "\x01" * 2000},
    ],
    ids=["many keys", "long integers", "nested", "escaped characters"],
)
def test_event_size_is_checked_before_its_keys(event):
    (result,) = check_events([event], received_at=RECEIVED, limits=Limits())

    assert result.field is None
    assert "more than the 32,768 allowed" in result.reason


def test_the_leap_second_of_2016_is_the_last_instant_of_its_day():
    # It was refused as a time of day that does not exist.
    from journeys.collect.clock import parse_client_time

    last = pd.Timestamp("2016-12-31T23:59:59.999999999Z").value

    assert parse_client_time("2016-12-31T23:59:60Z") == (last, "")
    assert parse_client_time("2016-12-31T23:59:60.999Z") == (last, "")
    assert parse_client_time("2017-01-01T05:29:60+05:30") == (last, "")
    nanos, reason = parse_client_time("2016-12-31T23:58:60Z")
    assert nanos == 0 and "23:59:60 UTC only" in reason
    assert "does not exist" in parse_client_time("2016-12-31T23:59:61Z")[1]
