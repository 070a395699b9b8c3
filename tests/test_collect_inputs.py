"""The inputs that reports on event collectors say break them, each sent over HTTP.

Every test posts to the collector served by a real uvicorn and then reads what
reached a real InfluxDB, after the collector's queue has emptied: each input is
either stored exactly as sent, or refused with a status and a reason that names
the problem, and never adds, loses or doubles a point. Besides the list of the
reports (JSON as text/plain, an empty body, an event or body over the limits, a
truncated emoji, a batch retried after a timeout, a client clock 30 s behind
over a slow network, a second line through a tag or field value): retries
racing each other, and a client gone in the middle of its body. The rules themselves
(one vector per rule) are in ``contract/vectors.json``; these tests follow a
few of them through the whole service.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import socket
import time
import uuid

import pytest
import requests
from collect_server import KEY
from helpers import drained, event_ids, stored

SECOND_NS = 1_000_000_000


def new_id() -> str:
    return uuid.uuid4().hex


def points(db) -> list[dict]:
    """Every point of ``events`` with all its columns."""
    return stored(db, "SELECT * FROM events")


def post(collector, body, *, content_type="application/json", **headers):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    headers = {"Content-Type": content_type, **headers}
    return requests.post(collector.events_url, data=body, headers=headers, timeout=30)


# A JSON body sent as text/plain: what navigator.sendBeacon sends without a preflight.


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8"])
def test_json_sent_as_text_plain_is_taken_like_json(db, start_collector, content_type):
    server = start_collector(db)
    event = {"event_type": "pageview", "event_id": new_id(), "user_id": "u1", "scroll_depth": 0}

    answer = post(server, [event], content_type=content_type)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 1
    drained(server)

    [point] = points(db)
    assert point["event_id"] == event["event_id"]
    assert point["user_id"] == "u1"
    assert point["scroll_depth"] == 0  # a zero is a value, kept


def test_a_form_content_type_is_refused_and_nothing_is_stored(db, start_collector):
    server = start_collector(db)
    event = {"event_type": "pageview", "event_id": new_id()}

    answer = post(server, event, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 415, answer.text
    drained(server)
    assert points(db) == []


# An empty body.


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_an_empty_body_is_a_400_that_says_so(db, start_collector, content_type):
    server = start_collector(db)

    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = requests.post(server.events_url, data=b"", headers=headers, timeout=30)
    assert answer.status_code == 400, answer.text
    assert "empty" in answer.json()["error"].lower()
    drained(server)
    assert points(db) == []


def test_an_empty_array_is_answered_with_nothing_accepted(db, start_collector):
    server = start_collector(db)

    answer = post(server, [])
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}


# An event over the size limit, and a body over it.


def test_an_event_over_the_size_limit_is_refused_alone(db, start_collector):
    server = start_collector(db)
    limit = server.settings.limits.max_event_bytes
    small = [{"event_type": "pageview", "event_id": new_id()} for _ in range(2)]
    big = {"event_type": "pageview", "event_id": new_id(), "page_url": "x" * limit}

    answer = post(server, [small[0], big, small[1]])
    assert answer.status_code == 202, answer.text
    content = answer.json()
    assert (content["accepted"], content["rejected"]) == (2, 1)
    refusal = content["results"][1]
    assert refusal["status"] == "rejected" and refusal["field"] is None
    assert f"{limit:,}" in refusal["reason"] or str(limit) in refusal["reason"]
    drained(server)
    assert event_ids(db) == sorted(e["event_id"] for e in small)


def test_a_body_over_the_size_limit_is_a_413_and_nothing_is_stored(db, start_collector):
    server = start_collector(db, limits={"max_body_bytes": 10_000})
    events = [{"event_type": "pageview", "event_id": new_id()} for _ in range(400)]
    body = json.dumps(events).encode()
    assert len(body) > 10_000

    answer = post(server, body)
    assert answer.status_code == 413, answer.text
    assert "10,000" in answer.json()["error"]

    # Told by Content-Length, or found while reading a chunked body: the same answer.
    chunked = requests.post(
        server.events_url,
        data=iter([body[:5000], body[5000:]]),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert chunked.status_code == 413, chunked.text
    drained(server)
    assert points(db) == []


def test_a_gzip_body_that_inflates_past_the_limit_is_a_413(db, start_collector):
    server = start_collector(db, limits={"max_body_bytes": 10_000})
    event = {"event_type": "pageview", "event_id": new_id(), "page_url": "/" + "a" * 200}
    body = gzip.compress(json.dumps([event] * 400).encode())
    assert len(body) < 10_000

    answer = post(server, body, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 413, answer.text
    drained(server)
    assert points(db) == []


# An unpaired surrogate, from a truncated emoji.


def test_an_unpaired_surrogate_escape_is_refused_naming_the_field(db, start_collector):
    server = start_collector(db)
    good = {"event_type": "pageview", "event_id": new_id(), "user_id": "anna \U0001f600"}
    # The first half of the emoji's surrogate pair, as a JSON escape.
    cut = json.dumps({"event_type": "pageview", "event_id": new_id(), "user_id": "anna "})
    cut = cut.replace('anna "', 'anna \\ud83d"')
    body = f"[{json.dumps(good)}, {cut}]".encode()

    answer = post(server, body)
    assert answer.status_code == 202, answer.text
    content = answer.json()
    assert [r["status"] for r in content["results"]] == ["accepted", "rejected"]
    assert content["results"][1]["field"] == "user_id"
    assert "surrogate" in content["results"][1]["reason"]
    drained(server)
    [point] = points(db)
    assert point["user_id"] == "anna \U0001f600"  # the whole emoji, stored as sent


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param("\U0001f600".encode()[:2] + b'"}]', id="cut inside the text"),
        pytest.param("\U0001f600".encode()[:3], id="cut at the end of the body"),
        pytest.param(b"\xed\xa0\xbd" + b'"}]', id="a lone surrogate encoded"),
    ],
)
def test_a_cut_utf8_sequence_is_a_400_with_its_byte_position(db, start_collector, tail):
    server = start_collector(db)
    head = b'[{"event_type": "pageview", "user_id": "anna '
    body = head + tail

    answer = post(server, body, content_type="text/plain")
    assert answer.status_code == 400, answer.text
    content = answer.json()
    assert content["position"] == len(head)
    assert "UTF-8" in content["error"]
    drained(server)
    assert points(db) == []


# A batch retried after the client timed out.


def _raw_post(server, body: bytes, *, delay: float = 0.0, read: bool = True):
    """Post over a socket: the headers and the body's first bytes, ``delay`` seconds
    later the rest (a slow network); then read the answer, or leave without reading
    it after half a second (a client that timed out). The answer's JSON, or None.
    """
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"POST /events?key={KEY} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body[:10])
        time.sleep(delay)
        sock.sendall(body[10:])
        if not read:
            # The collector answers once the events are on disk; nobody reads it.
            time.sleep(0.5)
            return None
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status == 202, answer
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_a_batch_retried_after_a_client_timeout_is_stored_once(db, start_collector):
    server = start_collector(db)
    batch = [{"event_type": "pageview", "event_id": new_id(), "user_id": "u"} for _ in range(20)]
    body = json.dumps(batch).encode()

    _raw_post(server, body, read=False)
    retry = post(server, body)
    assert retry.status_code == 202, retry.text
    assert (retry.json()["accepted"], retry.json()["duplicates"]) == (0, 20)

    # A retry that carries new events too stores those, and the old ones once.
    more = [{"event_type": "pageview", "event_id": new_id()} for _ in range(5)]
    again = post(server, batch[:10] + more)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (5, 10)

    drained(server)
    assert event_ids(db) == sorted(e["event_id"] for e in batch + more)


def test_the_same_event_twice_in_one_batch_is_stored_once(db, start_collector):
    server = start_collector(db)
    event = {"event_type": "pageview", "event_id": new_id()}

    answer = post(server, [event, event])
    assert [r["status"] for r in answer.json()["results"]] == ["accepted", "duplicate"]
    drained(server)
    assert event_ids(db) == [event["event_id"]]


def test_retries_racing_each_other_store_each_event_once(db, start_collector):
    server = start_collector(db)
    batch = [{"event_type": "pageview", "event_id": new_id()} for _ in range(20)]
    body = json.dumps(batch).encode()

    # Eight copies of one batch at once: the store sees them in one commit or in
    # several, and must answer each event accepted exactly once over all of them.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(server, body).json(), range(8)))
    assert sum(a["accepted"] for a in answers) == 20
    assert sum(a["duplicates"] for a in answers) == 7 * 20
    drained(server)
    assert event_ids(db) == sorted(e["event_id"] for e in batch)


def test_a_client_gone_mid_body_leaves_nothing_and_the_service_answering(db, start_collector):
    server = start_collector(db)
    event = {"event_type": "pageview", "event_id": new_id()}
    body = json.dumps([event] + [{"event_type": "pageview"}] * 50).encode()

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /events?key={KEY} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        time.sleep(0.2)

    assert post(server, {"event_type": "pageview"}).json()["accepted"] == 1
    drained(server)
    (point,) = points(db)  # the one posted whole, with the collector's id
    assert point["event_id"].startswith("c-")


# A client clock 30 s behind, over a slow network.


def _iso(ns: int) -> str:
    seconds, rest = divmod(ns, SECOND_NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 10**6:03d}Z"


def test_a_client_clock_30s_behind_over_a_slow_network_is_corrected(db, start_collector):
    server = start_collector(db)
    behind, latency = 30 * SECOND_NS, 1.0

    # The event happens at true time `happened`; the client's clock says 30 s less.
    happened = time.time_ns()
    time.sleep(0.2)
    sent = time.time_ns()
    event = {
        "event_type": "pageview",
        "event_id": new_id(),
        "time": _iso(happened - behind),  # to the millisecond
        "sent_at": (sent - behind) // 10**6,  # epoch milliseconds
    }
    # The network: a second before the request arrives, then a slow body.
    time.sleep(latency)
    assert _raw_post(server, json.dumps(event).encode(), delay=0.3)["accepted"] == 1
    arrived = time.time_ns()
    drained(server)

    # time = client time + (received - sent_at), exactly, in milliseconds ...
    [point] = stored(db, "SELECT event_id, received_at FROM events")
    stored_ns, received_ns = _point_time(db), point["received_at"] * 10**6
    client_ns = (happened - behind) // 10**6 * 10**6
    sent_at_ns = (sent - behind) // 10**6 * 10**6
    assert stored_ns == client_ns + received_ns - sent_at_ns
    # ... which is the true time moved later by the network's delay (at least the
    # second of latency), and never later than the receipt; give or take the
    # milliseconds the three times were rounded down to.
    slack = 2 * 10**6
    assert sent + latency * SECOND_NS - slack <= received_ns <= arrived
    delayed = (happened + latency * SECOND_NS, happened + (arrived - sent))
    assert delayed[0] - slack <= stored_ns <= delayed[1] + slack
    assert stored_ns <= received_ns


def test_a_client_clock_within_the_tolerance_is_trusted(db, start_collector):
    server = start_collector(db)
    ahead = 2 * SECOND_NS  # under the default tolerance of a few seconds
    happened = time.time_ns() - 5 * SECOND_NS

    event = {
        "event_type": "pageview",
        "event_id": new_id(),
        "time": (happened + ahead) // 10**6,
        "sent_at": (time.time_ns() + ahead) // 10**6,
    }
    assert post(server, event).json()["accepted"] == 1
    drained(server)
    assert _point_time(db) == (happened + ahead) // 10**6 * 10**6


def _point_time(db) -> int:
    """The time of the only point, in nanoseconds (the client asks with epoch=ns)."""
    [point] = stored(db, "SELECT event_id FROM events")
    return point["time"]


# A second line (a forged point) injected through a tag value or a field value.


FORGED = 'events,event_type=transaction purchase_value=999,user_id="victim"'


def assert_nothing_forged(db) -> None:
    """No point of the forged line: no transaction, no purchase_value field at all."""
    tags = stored(db, "SHOW TAG VALUES FROM events WITH KEY = event_type")
    fields = stored(db, "SHOW FIELD KEYS FROM events")
    assert "transaction" not in {row["value"] for row in tags}
    assert "purchase_value" not in {row["fieldKey"] for row in fields}


@pytest.mark.parametrize("cut", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("column", ["location", "device_type", "event_type", "user_id"])
def test_a_line_break_in_a_tag_value_is_refused_adding_no_point(db, start_collector, column, cut):
    server = start_collector(db)
    event = {"event_type": "pageview", "event_id": new_id(), column: f"Berlin{cut}{FORGED}"}
    innocent = {"event_type": "pageview", "event_id": new_id(), "location": "Berlin"}

    answer = post(server, [event, innocent])
    assert answer.status_code == 202, answer.text
    refusal = answer.json()["results"][0]
    assert refusal["status"] == "rejected" and refusal["field"] == column
    drained(server)
    assert [(p["event_id"], p["event_type"]) for p in points(db)] == [
        (innocent["event_id"], "pageview")
    ]
    assert_nothing_forged(db)


@pytest.mark.parametrize(
    "value",
    [
        f'u1"\n{FORGED}',  # close the string field, start a new line
        f'u1\\" {FORGED}',  # an escaped quote that the escaping must not undo
        f"u1\n{FORGED}\n",
        f"u1 {FORGED.replace(' ', ',')}",
    ],
)
def test_a_second_line_through_a_field_value_is_stored_as_text(db, start_collector, value):
    server = start_collector(db)
    # page_url is a field in every layout, as the free-text columns are.
    event = {"event_type": "pageview", "event_id": new_id(), "page_url": value}

    answer = post(server, event)
    assert answer.status_code == 202, answer.text
    content = answer.json()
    drained(server)

    stored_points = points(db)
    if content["accepted"] == 1:
        [point] = stored_points
        assert point["page_url"] == value
        assert point["event_type"] == "pageview"
    else:
        assert content["results"][0]["field"] == "page_url" and stored_points == []
    assert_nothing_forged(db)


@pytest.mark.parametrize("value", ["Berlin,event_type=transaction", "New York", 'a"b', "a=b"])
def test_commas_spaces_quotes_and_equals_in_a_tag_are_kept_in_that_tag(db, start_collector, value):
    server = start_collector(db)
    event = {"event_type": "pageview", "event_id": new_id(), "location": value}

    assert post(server, event).json()["accepted"] == 1
    drained(server)
    [point] = points(db)
    assert (point["location"], point["event_type"]) == (value, "pageview")
