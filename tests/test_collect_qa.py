"""The collector attacked as a stranger would: inputs found to break it, over real HTTP.

Each test is a defect that was found by posting to a real uvicorn in front of a
real throwaway InfluxDB, kept here so that it stays fixed: a lone surrogate as a
key, unknown keys that grew the rejection counts without bound, a password in
the InfluxDB address, thousands of gzip members, bounds that refuse every
event, the README's own example, and identical events without an
``event_id`` that the forwarder wrote in two batches and stored once (shown on
the forwarder, where a batch boundary can be set).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from pathlib import Path

import pytest
import requests
from collect_server import KEY, running, settings_for
from test_collect_cli import config_text

from journeys.collect.contract import BodyError, Limits, parse_body
from journeys.collect.forward import Forwarder
from journeys.collect.settings import CollectorSettings, load_settings
from journeys.collect.store import EventStore
from journeys.errors import ConfigError

README = Path(__file__).parents[1] / "README.md"


def post(url: str, body: bytes | str) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(
        f"{url}/events?key={KEY}",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


def test_a_lone_surrogate_as_a_key_is_answered_and_health_stays_up(db, tmp_path):
    # json.loads makes "\ud83d" a lone surrogate, which UTF-8 cannot encode: once a
    # 500, and /health a 500 for the life of the process, since it lists the key.
    body = '[{"event_type": "x", "\\ud83d": 1}, {"event_type": "pageview"}]'

    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, body)
        health = requests.get(f"{url}/health", timeout=10)

    assert answer.status_code == 202, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert "is not a key of an event" in results[0]["reason"]
    assert health.status_code == 200, health.text


def test_unknown_keys_are_counted_together_not_one_count_each(db, tmp_path):
    # Each distinct unknown key used to get its own counter, kept for the life of
    # the process and listed in /health: memory and answers without bound.
    body = json.dumps([{"event_type": "x", f"k{n:04d}": 1} for n in range(300)])

    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, body)
        health = requests.get(f"{url}/health", timeout=10).json()

    assert answer.json()["rejected"] == 300
    assert health["rejected"] == {"(unknown key)": 300}


def test_the_settings_repr_does_not_show_a_password_in_the_address(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text(config_text("http://reader:pw-in-url-7c41@influx:8086", "shop", 9100))
    path.chmod(0o600)

    settings = load_settings(path)

    assert "pw-in-url-7c41" not in repr(settings)
    assert "url='http://reader:***@influx:8086'" in repr(settings.influxdb)


def test_a_body_of_thousands_of_gzip_members_is_refused_at_once():
    # 1 MiB of empty gzip members took the event loop two seconds to inflate.
    member = gzip.compress(b" ")
    body = member * (1_048_576 // len(member) - 2) + gzip.compress(b'{"event_type": "x"}')

    with pytest.raises(BodyError) as caught:
        parse_body(body, content_type=None, content_encoding="gzip", limits=Limits())

    assert caught.value.status == 400
    assert "more than 64 members" in caught.value.message


def test_a_body_of_a_few_gzip_members_is_read_whole():
    body = gzip.compress(b'[{"event_type": "a"},') + gzip.compress(b'{"event_type": "b"}]')

    items = parse_body(body, content_type=None, content_encoding="gzip", limits=Limits())

    assert items == [{"event_type": "a"}, {"event_type": "b"}]


@pytest.mark.parametrize(
    ("section", "key", "value", "said"),
    [
        ("spool", "max_events", 0, "[spool] max_events: expected a whole number at least 1"),
        ("spool", "max_events", -5, "[spool] max_events: expected a whole number at least 1"),
        ("spool", "max_bytes", "0B", "[spool] max_bytes: expected at least 1 byte, got '0B'"),
        ("influxdb", "batch_size", 0, "[influxdb] batch_size: expected a whole number at least 1"),
    ],
)
def test_bounds_that_would_refuse_every_event_are_config_errors(section, key, value, said):
    # Each was accepted, and the service then answered every post 503 or did not start.
    data = {
        "influxdb": {"url": "http://influx:8086"},
        "spool": {"folder": "/tmp/spool"},
        "sites": {"shop": {"keys": [KEY]}},
    }
    data[section][key] = value

    with pytest.raises(ConfigError) as caught:
        CollectorSettings.from_dict(data)

    assert said in str(caught.value)


def _readme_example() -> str:
    """The JSON body of the README's curl example, as a shell would pass it."""
    text = README.read_text(encoding="utf-8").split("## Collecting events", 1)[1]
    return re.search(r"-d '(\[.*?\])'", text, re.DOTALL).group(1)


def test_the_readme_example_is_answered_as_the_readme_shows(db, tmp_path):
    # It once sent a time older than max_age, and its first event was refused.
    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, _readme_example())

    assert answer.status_code == 202, answer.text
    results = answer.json()["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("accepted", None),
        ("rejected", "scroll_depth"),
    ]


def test_identical_events_without_an_event_id_are_all_stored(db, tmp_path):
    # Five events alike in every column and received in the same millisecond (one
    # request of a server posting {"event_type": "pageview"} five times) are five
    # events: the store keeps five, answered "accepted". A backlog puts a batch
    # boundary anywhere; batches of three split them 3 + 2.
    now = time.time_ns() // 1_000_000
    rows = [{"event_type": "pageview", "time": now * 1_000_000, "received_at": now}] * 5

    async def scenario():
        with EventStore(tmp_path / "events.sqlite3") as store:
            stored = await store.put("shop", rows)
            forwarder = Forwarder(store, db, write_size=3, batch_size=3, interval=0.05)
            assert await forwarder.flush(timeout=30)
            return stored

    assert asyncio.run(scenario()) == [True] * 5
    stored = db.query("2000-01-01", "2100-01-01", all_events=True)
    assert len(stored) == 5
    # Each has an id of the collector's own, told apart from a sender's by "c-".
    assert stored["event_id"].str.match(r"^c-[0-9a-f-]{36}$").all()
    assert stored["event_id"].nunique() == 5


def test_a_collector_made_id_is_kept_in_the_queue_and_a_sent_id_still_dedups(tmp_path):
    # The id is made once, when the row is queued: a batch taken again after a
    # crash carries the same ids, so the writer recognises it as a rewrite.
    row = {"event_type": "pageview", "time": 1_000_000, "received_at": 1}
    sent = {**row, "event_id": "client-1"}

    async def scenario():
        with EventStore(tmp_path / "events.sqlite3") as store:
            stored = await store.put("shop", [row, row, sent, sent])
            first = [r.row["event_id"] for r in await store.take(10)]  # never acked
        with EventStore(tmp_path / "events.sqlite3") as store:
            again = [r.row["event_id"] for r in await store.take(10)]
        return stored, first, again

    stored, first, again = asyncio.run(scenario())

    assert stored == [True, True, True, False]
    assert first[2] == "client-1" and first[0] != first[1]
    assert all(i.startswith("c-") for i in first[:2])
    assert again == first


def test_an_integer_of_thousands_of_digits_is_refused_in_the_collectors_words(db, tmp_path):
    # Python's own message advised the sender to call sys.set_int_max_str_digits().
    body = '[{"event_type": "scroll", "scroll_depth": ' + "9" * 5000 + "}]"

    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, body)

    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert "set_int_max_str_digits" not in error["error"]
    assert "a number of 5,000 digits at line 1 column 43 (char 42)" in error["error"]
    assert "more than the 4,300 this collector reads" in error["error"]
    assert "send it within its column's range, or leave it out" in error["error"]
    assert error["position"] == 42


def test_many_events_with_an_unknown_key_make_a_small_answer(db, tmp_path):
    # Each rejection listed every valid key: 500 tiny events made an answer of 225 KB.
    body = json.dumps([{"event_type": "x", "colour": n} for n in range(500)])

    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, body)
        good = post(url, '{"event_type": "pageview"}').json()

    assert answer.status_code == 202, answer.text
    content = answer.json()
    assert len(answer.content) < 80_000  # 160 bytes an event
    assert {r["field"] for r in content["results"]} == {"colour"}
    assert all('("colour")' in r["reason"] for r in content["results"])
    assert all("user_id" not in r["reason"] for r in content["results"])
    assert content["valid_keys"][0] == "event_type" and "user_id" in content["valid_keys"]
    assert {"time", "sent_at", "event_id"} <= set(content["valid_keys"])
    assert "received_at" not in content["valid_keys"]
    assert answer.text.count('"scroll_depth"') == 1  # listed once
    assert "valid_keys" not in good  # only when a key was unknown
