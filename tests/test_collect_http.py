"""The collector over HTTP: a real uvicorn on a free port, a real throwaway InfluxDB.

Every answer of ``POST /events`` (202, 400, 401, 403, 413, 415, 429, 503), the
CORS preflight, ``/health`` with InfluxDB up and down, ``/journeys.js``, and the
queue flushed to InfluxDB on shutdown.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import requests
from collect_server import KEY, ORIGIN, OTHER_KEY, free_port, running, settings_for

import journeys as jy
from journeys.collect import app as app_module
from journeys.collect.app import HEALTH_CACHE, STATIC

TOKEN = "tok-never-shown-5b1d"


def events_in(db) -> pd.DataFrame:
    return db.query("2000-01-01", "2100-01-01")


def post(url, body, *, key=KEY, headers=None, **options):
    """POST ``body`` (an object: sent as JSON; bytes: as they are) to /events."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    data = json.dumps(body).encode() if isinstance(body, dict | list) else body
    target = f"{url}/events" if key is None else f"{url}/events?key={key}"
    return requests.post(target, data=data, headers=headers, timeout=10, **options)


@pytest.fixture
def collector(db, tmp_path):
    with running(settings_for(db, tmp_path)) as (url, state):
        yield url


def test_an_event_is_accepted_and_arrives_in_influxdb(db, tmp_path):
    # An hour ago, to the second: a fixed date would pass Limits.max_age one day.
    sent = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(hours=1)
    event = {
        "event_type": "scroll",
        "user_id": "u1",
        "scroll_depth": 0,
        "location": "New York",
        "event_id": "6f1c2d9e-0000-4000-8000-000000000001",
        "time": sent.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, event)

    assert answer.status_code == 202
    assert answer.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"index": 0, "status": "accepted"}],
    }
    stored = events_in(db)
    assert len(stored) == 1
    row = stored.iloc[0]
    assert stored.index[0] == sent
    assert (row["event_type"], row["user_id"], row["location"]) == ("scroll", "u1", "New York")
    assert row["scroll_depth"] == 0
    assert row["event_id"] == event["event_id"]
    assert row["received_at"] > pd.Timestamp("2026-01-01").value // 1_000_000


def test_a_batch_is_answered_event_by_event(db, tmp_path):
    batch = [
        {"event_type": "pageview", "user_id": "a"},
        {"event_type": "scroll", "user_id": "b", "scroll_depth": 150},
        {"event_type": "pageview", "user_id": "c", "colour": "red"},
        "not an event",
        {"event_type": "pageview", "user_id": "d"},
    ]
    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, batch)
        health = requests.get(f"{url}/health", timeout=10).json()

    assert answer.status_code == 202
    content = answer.json()
    assert (content["accepted"], content["duplicates"], content["rejected"]) == (2, 0, 3)
    results = content["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert [r.get("field") for r in results] == [None, "scroll_depth", "colour", None, None]
    assert all(r["reason"] for r in results if r["status"] == "rejected")
    assert health["rejected"] == {"scroll_depth": 1, "(unknown key)": 1, "(event)": 1}
    assert sorted(events_in(db)["user_id"]) == ["a", "d"]


def test_a_retried_batch_stores_each_event_once(db, tmp_path):
    batch = [
        {"event_type": "pageview", "user_id": "a", "event_id": "id-1"},
        {"event_type": "pageview", "user_id": "b", "event_id": "id-2"},
    ]
    with running(settings_for(db, tmp_path)) as (url, _):
        first = post(url, batch)
        again = post(url, [*batch, {"event_type": "pageview", "user_id": "c", "event_id": "id-3"}])
        other_site = post(url, batch, key=OTHER_KEY)

    assert first.json()["accepted"] == 2
    assert (again.json()["accepted"], again.json()["duplicates"]) == (1, 2)
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate", "accepted"]
    # Ids are the sender's: another site's events with the same ids are its own.
    assert other_site.json()["accepted"] == 2
    assert sorted(events_in(db)["user_id"]) == ["a", "a", "b", "b", "c"]


def test_a_body_that_is_not_json_is_400_with_the_position(collector):
    body = b'{"event_type": pageview}'

    answer = post(collector, body)

    assert answer.status_code == 400
    assert answer.json()["position"] == body.index(b"pageview")
    assert "JSON" in answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 400), (b"\xff\xfe{}", 400), (b"42", 400), (b"[{}", 400)],
)
def test_a_body_that_holds_no_events_is_refused(collector, body, status):
    answer = post(collector, body)

    assert answer.status_code == status
    assert answer.json()["error"]


def test_an_empty_array_is_nothing_to_do(collector):
    answer = post(collector, b"[]")

    assert answer.status_code == 202
    assert answer.json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}


def test_json_sent_as_text_plain_is_taken(db, tmp_path):
    # What navigator.sendBeacon sends for a string: no preflight needed.
    body = json.dumps([{"event_type": "pageview", "user_id": "beacon"}]).encode()
    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, body, headers={"Content-Type": "text/plain;charset=UTF-8"})

    assert answer.status_code == 202
    assert list(events_in(db)["user_id"]) == ["beacon"]


def test_a_content_type_other_than_json_or_text_is_415(collector):
    answer = post(collector, b"<event/>", headers={"Content-Type": "application/xml"})

    assert answer.status_code == 415


def test_gzip_bodies_are_inflated(db, tmp_path):
    body = gzip.compress(json.dumps({"event_type": "pageview", "user_id": "zipped"}).encode())
    with running(settings_for(db, tmp_path)) as (url, _):
        answer = post(url, body, headers={"Content-Encoding": "gzip"})
        broken = post(url, body[:-10], headers={"Content-Encoding": "gzip"})

    assert answer.status_code == 202
    assert broken.status_code == 400
    assert list(events_in(db)["user_id"]) == ["zipped"]


def test_too_large_bodies_and_batches_are_413(db, tmp_path):
    limits = {"max_body_bytes": 2000, "max_events": 3}
    big = [{"event_type": "pageview", "user_id": "x" * 200}] * 9
    four = [{"event_type": "pageview"}] * 4
    bomb = gzip.compress(json.dumps([{"event_type": "pageview", "page_url": "a" * 3000}]).encode())

    with running(settings_for(db, tmp_path, limits=limits)) as (url, _):
        declared = post(url, big)
        chunked = post(url, iter([json.dumps(big).encode()]))
        too_many = post(url, four)
        inflated = post(url, bomb, headers={"Content-Encoding": "gzip"})
        fits = post(url, four[:3])

    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert "more than the 2,000 allowed" in declared.json()["error"]
    assert too_many.status_code == 413
    assert inflated.status_code == 413
    assert fits.status_code == 202
    assert len(events_in(db)) == 3


def test_posts_without_a_configured_key_are_401(collector):
    event = {"event_type": "pageview"}

    missing = post(collector, event, key=None)
    unknown = post(collector, event, key="jk_nobody_has_this_key_000")
    prefix = post(collector, event, key=KEY[:-1])

    assert [a.status_code for a in (missing, unknown, prefix)] == [401, 401, 401]
    assert "no write key" in missing.json()["error"]
    assert "not configured" in unknown.json()["error"]


def test_a_401_can_be_read_by_a_page_some_key_allows(collector):
    from_a_page = post(collector, {"event_type": "pageview"}, key="x", headers={"Origin": ORIGIN})
    from_elsewhere = post(
        collector, {"event_type": "pageview"}, key="x", headers={"Origin": "https://evil.test"}
    )

    assert (from_a_page.status_code, from_elsewhere.status_code) == (401, 401)
    assert from_a_page.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in from_elsewhere.headers


@pytest.mark.parametrize("headers", [{"X-Journeys-Key": KEY}, {"Authorization": f"Bearer {KEY}"}])
def test_the_key_may_come_in_a_header(collector, headers):
    answer = post(collector, {"event_type": "pageview"}, key=None, headers=headers)

    assert answer.status_code == 202


def test_origins_are_checked_per_key(collector):
    event = {"event_type": "pageview"}

    allowed = post(collector, event, headers={"Origin": ORIGIN})
    subdomain = post(collector, event, headers={"Origin": "https://m.shop.example.com"})
    foreign = post(collector, event, headers={"Origin": "https://evil.example.org"})
    app_key_in_a_page = post(collector, event, key=OTHER_KEY, headers={"Origin": ORIGIN})
    app_key_from_a_server = post(collector, event, key=OTHER_KEY)

    assert allowed.status_code == 202
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert allowed.headers["Vary"] == "Origin"
    assert subdomain.headers["Access-Control-Allow-Origin"] == "https://m.shop.example.com"
    assert foreign.status_code == 403
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "add it to the origins of [sites.shop]" in foreign.json()["error"]
    assert app_key_in_a_page.status_code == 403
    assert app_key_from_a_server.status_code == 202


def test_a_key_over_its_rate_is_429_with_retry_after(db, tmp_path):
    sites = {"shop": {"keys": [KEY], "origins": [ORIGIN], "rate": 0.25, "burst": 2}}
    with running(settings_for(db, tmp_path, sites=sites)) as (url, _):
        answers = [
            post(url, {"event_type": "pageview"}, headers={"Origin": ORIGIN}) for _ in range(3)
        ]
        other = post(url, {"event_type": "pageview"}, key=OTHER_KEY)

    assert [a.status_code for a in answers] == [202, 202, 429]
    refused = answers[2]
    assert refused.headers["Retry-After"] == "4"
    assert refused.json()["retry_after"] == 4
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert other.status_code == 202
    assert len(events_in(db)) == 3


def test_one_client_over_its_rate_leaves_the_others_their_budget(db, tmp_path):
    # uvicorn trusts X-Forwarded-For from 127.0.0.1, as from a reverse proxy there.
    sites = {"shop": {"keys": [KEY], "client_rate": 0.25, "client_burst": 2}}

    def from_(address):
        return post(url, {"event_type": "pageview"}, headers={"X-Forwarded-For": address})

    with running(settings_for(db, tmp_path, sites=sites)) as (url, _):
        flood = [from_("203.0.113.7").status_code for _ in range(4)]
        other = from_("198.51.100.1")
        refused = from_("203.0.113.7")

    assert flood == [202, 202, 429, 429]
    assert other.status_code == 202
    assert refused.headers["Retry-After"] == "4"
    assert "from this address" in refused.json()["error"]
    assert len(events_in(db)) == 3


def test_a_full_queue_is_503_with_retry_after_and_keeps_nothing(tmp_path):
    # InfluxDB is away, so the queue cannot drain: it takes two events, then refuses.
    dead = jy.connect(f"http://127.0.0.1:{free_port()}", database="nowhere")
    settings = settings_for(dead, tmp_path, spool={"max_events": 2}, server={"flush_timeout": 0.5})
    with running(settings) as (url, state):
        first = post(url, [{"event_type": "pageview"}] * 2)
        refused = post(url, [{"event_type": "pageview"}])
        health = requests.get(f"{url}/health", timeout=10)
        pending = state.store.stats()["pending"]

    assert first.status_code == 202
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1
    assert "nothing of this request was kept" in refused.json()["error"]
    assert pending == 2
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"


def test_preflights_are_answered_for_allowed_origins_only(collector):
    def preflight(origin, query=""):
        return requests.options(
            f"{collector}/events{query}",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=10,
        )

    allowed = preflight(ORIGIN, f"?key={KEY}")
    any_key = preflight("https://m.shop.example.com")
    refused = preflight("https://evil.example.org", f"?key={KEY}")
    refused_by_every_key = preflight("https://evil.example.org")
    not_for_this_key = preflight(ORIGIN, f"?key={OTHER_KEY}")
    unknown_key = preflight(ORIGIN, "?key=jk_nobody_has_this_key_000")

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Content-Encoding" in allowed.headers["Access-Control-Allow-Headers"]
    assert int(allowed.headers["Access-Control-Max-Age"]) > 0
    assert any_key.status_code == 204
    assert [r.status_code for r in (refused, refused_by_every_key, not_for_this_key)] == [403] * 3
    assert unknown_key.status_code == 401
    for answer in (refused, refused_by_every_key, not_for_this_key, unknown_key):
        assert "Access-Control-Allow-Origin" not in answer.headers


def test_other_methods_are_405(collector):
    assert requests.get(f"{collector}/events", timeout=10).status_code == 405


def test_health_says_the_queue_and_influxdb_are_fine(collector):
    answer = requests.get(f"{collector}/health", timeout=10)

    assert answer.status_code == 200
    content = answer.json()
    assert content["status"] == "ok"
    assert content["influxdb"]["reachable"] is True
    assert content["store"]["pending"] >= 0
    assert content["sites"] == 2  # how many, not which: /health is public
    assert '"shop"' not in answer.text and '"app"' not in answer.text
    assert content["forwarder"]["healthy"] is True
    assert "url" not in content["influxdb"]
    assert "path" not in content["store"]


def test_with_influxdb_stopped_events_wait_and_the_token_is_never_shown(tmp_path, caplog):
    with jy.LocalInfluxDB(database="collected") as server:
        db = jy.connect(server.url, database="collected", token=TOKEN, retries=0)
        settings = settings_for(db, tmp_path, influxdb={"token": TOKEN})
        answers = []
        with caplog.at_level(logging.DEBUG, logger="journeys"), running(settings) as (url, _):
            answers.append(post(url, {"event_type": "pageview", "user_id": "before"}))
            down = threading.Thread(target=server.restart, kwargs={"down_for": 3.0})
            down.start()
            _wait_until_down(db)
            answers.append(post(url, {"event_type": "pageview", "user_id": "during"}))
            answers.append(requests.get(f"{url}/health", timeout=10))
            answers.append(post(url, {"event_type": "pageview", "user_id": "during"}, key="x"))
            down.join()
            time.sleep(HEALTH_CACHE)
            answers.append(requests.get(f"{url}/health", timeout=10))
        stored = sorted(events_in(db)["user_id"])

    assert [a.status_code for a in answers] == [202, 202, 200, 401, 200]
    assert answers[2].json()["status"] == "degraded"
    while_down = answers[2].json()["influxdb"]
    assert while_down["reachable"] is False
    assert "could not reach InfluxDB" in while_down["reason"]
    assert answers[4].json()["influxdb"]["reachable"] is True
    assert stored == ["before", "during"]
    for answer in answers:
        assert TOKEN not in answer.text
        assert TOKEN not in str(answer.headers)
    assert TOKEN not in caplog.text


def _wait_until_down(db) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            db.ping()
        except jy.ServerError:
            return
        time.sleep(0.02)
    raise AssertionError("InfluxDB did not stop")


def test_shutdown_writes_the_queue_to_influxdb(db, tmp_path):
    # The forwarder waits a minute for more events; stopping must not wait for it.
    settings = settings_for(db, tmp_path, influxdb={"interval": 60.0})
    with running(settings) as (url, state):
        answer = post(url, [{"event_type": "pageview", "user_id": f"u{i}"} for i in range(20)])
        answer.raise_for_status()

    assert len(events_in(db)) == 20


def test_the_snippet_is_served(collector):
    answer = requests.get(f"{collector}/journeys.js", timeout=10)

    snippet = STATIC / "journeys.js"
    if snippet.is_file():
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/javascript")
        assert answer.content == snippet.read_bytes()
    else:
        assert answer.status_code == 404


def test_a_body_that_does_not_come_is_408(db, tmp_path, monkeypatch):
    monkeypatch.setattr(app_module, "BODY_TIMEOUT", 0.5)
    head = (
        f"POST /events?key={KEY} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    with running(settings_for(db, tmp_path)) as (url, _):
        port = int(url.rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head.encode() + b'{"event_')
            began = time.monotonic()
            answer = sock.recv(65536).decode()
            waited = time.monotonic() - began
        after = post(url, {"event_type": "pageview"})

    assert answer.startswith("HTTP/1.1 408 ")
    assert "did not come whole within 0.5 s" in answer
    assert 0.4 < waited < 5
    assert after.status_code == 202


def test_a_queue_that_fails_is_503_and_said_once_in_the_log(db, tmp_path, caplog):
    settings = settings_for(db, tmp_path, server={"flush_timeout": 0.5})
    with (
        caplog.at_level(logging.ERROR, logger="journeys.collect"),
        running(settings) as (url, state),
    ):
        state.store.close()  # every later put fails as a broken disk would
        answers = [post(url, {"event_type": "pageview"}) for _ in range(3)]
        health = requests.get(f"{url}/health", timeout=10)

    assert [a.status_code for a in answers] == [503] * 3
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers)
    assert "cannot keep events on disk" in answers[0].json()["error"]
    assert health.status_code == 503
    assert "the queue failed to write to disk" in health.json()["problems"][0]
    assert caplog.text.count("the queue refuses events") == 1


def test_concurrent_requests_each_get_their_own_answers(db, tmp_path):
    # Requests of one turn of the event loop share a put; each still gets its own results.
    def send(i):
        batch = [
            {"event_type": "pageview", "user_id": f"u{i}", "event_id": f"own-{i}"},
            {"event_type": "pageview", "user_id": "same", "event_id": "shared"},
            {"event_type": "scroll", "scroll_depth": -1},
        ]
        return post(url, batch).json()

    with running(settings_for(db, tmp_path)) as (url, _), ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(48)))

    assert all(a["accepted"] + a["duplicates"] == 2 and a["rejected"] == 1 for a in answers)
    assert all(a["results"][0]["status"] == "accepted" for a in answers)
    shared = [a["results"][1]["status"] for a in answers]
    assert shared.count("accepted") == 1
    assert shared.count("duplicate") == 47
    assert all(a["results"][2]["field"] == "scroll_depth" for a in answers)
    stored = events_in(db)["user_id"]
    assert len(stored) == 49
    assert sorted(stored) == sorted([f"u{i}" for i in range(48)] + ["same"])


def test_the_answer_to_one_new_event_is_encoded_once_and_is_the_general_answer(db, tmp_path):
    # The 202 to a request of one new event is sent from bytes made once; they
    # must be what the general path makes of the same result.
    from journeys.collect.contract import Accepted

    events = app_module._Events(app_module.Collector(settings_for(db, tmp_path)))
    general = events._results([Accepted(index=0, row={})], [True])

    assert json.loads(app_module._ONE_ACCEPTED) == general
    assert app_module._encode(general) == app_module._ONE_ACCEPTED
