"""Which server answers, how to reach it, and the behaviour against a real InfluxDB 1.x.

Detection is checked on the ``/ping`` headers of each generation as they
send them; the connection's behaviour on the throwaway influxd the test
session starts (1.x is the only generation installed here; 2.x and 3.x are
covered, protocol only, by test_protocol_v2.py and test_servers_protocol_v3.py).
"""

from __future__ import annotations

import logging

import pytest
import requests
from helpers import stored
from recorder import PINGS, Recorder

import journeys as jy
from journeys.client import _normalise_url, _shown, database_missing, error_text
from journeys.config import Settings

TOKEN = "tok-3n-s3cr3t"


@pytest.mark.parametrize(
    ("ping", "expected"),
    [
        ("v1", jy.Server("v1", "1.8.10", "OSS")),
        ("v1-enterprise", jy.Server("v1", "1.11.8", "ENT")),
        ("v2", jy.Server("v2", "2.7.11", "OSS")),
        ("cloud", jy.Server("v2", "", "Cloud")),
        ("v3-core", jy.Server("v3", "3.2.0", "Core")),
        ("v3-enterprise", jy.Server("v3", "3.2.0", "Enterprise")),
    ],
)
def test_detect_server_from_ping_of_each_generation(ping, expected):
    """The /ping headers (and 3.x's JSON body) name the generation, version and build."""
    status, headers, body = PINGS[ping]

    assert jy.detect_server(headers, body) == expected


@pytest.mark.parametrize(
    ("headers", "body", "generation", "version"),
    [
        (
            {"x-influxdb-version": "2.0.0-beta.16", "x-influxdb-build": "OSS"},
            b"",
            "v2",
            "2.0.0-beta.16",
        ),
        ({"X-Influxdb-Version": "1.6.7~rc0"}, b"", "v1", "1.6.7~rc0"),
        ({"X-Influxdb-Build": "cloud2", "X-Influxdb-Version": ""}, b"", "v2", ""),
        ({}, b'{"version":"3.0.0","revision":"a","process_id":"b"}', "v3", "3.0.0"),
        ({"X-Influxdb-Build": "Core"}, b"", "v3", ""),
        ({"X-Influxdb-Version": "unknown"}, b"", "v1", ""),
        ({}, b"", "v1", ""),
    ],
)
def test_detect_server_edge_cases(headers, body, generation, version):
    """Lower-case names, pre-releases, Cloud's empty version, a version only in the body."""
    server = jy.detect_server(headers, body)

    assert (server.generation, server.version) == (generation, version)


def test_server_is_frozen_and_says_what_it_is():
    server = jy.Server("v2", "", "Cloud")

    with pytest.raises(AttributeError):
        server.generation = "v1"
    assert server.cloud
    assert str(server) == "InfluxDB Cloud"
    assert str(jy.Server("v2", "", "cloud2")) == "InfluxDB Cloud (cloud2)"
    assert str(jy.Server("v1", "1.8.10", "OSS")) == "InfluxDB 1.8.10 OSS"


def test_unknown_api_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"api='v4'.*'v1', 'v2', 'v3'"):
        jy.connect("http://127.0.0.1:1", api="v4")


def test_settings_come_from_influxdb_client_variables(monkeypatch):
    """INFLUXDB_V2_* fill what the INFLUXDB_* names leave out; arguments come first."""
    for name in ("INFLUXDB_URL", "INFLUXDB_DATABASE", "INFLUXDB_TOKEN", "INFLUXDB_ORG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INFLUXDB_V2_URL", "https://eu-central-1-1.aws.cloud2.influxdata.com")
    monkeypatch.setenv("INFLUXDB_V2_BUCKET", "clicks")
    monkeypatch.setenv("INFLUXDB_V2_TOKEN", TOKEN)
    monkeypatch.setenv("INFLUXDB_V2_ORG", "shop")
    monkeypatch.setenv("INFLUXDB_API", "v2")

    settings = Settings.resolve(org="lab")

    assert settings.url == "https://eu-central-1-1.aws.cloud2.influxdata.com"
    assert (settings.database, settings.token, settings.org, settings.api) == (
        "clicks",
        TOKEN,
        "lab",
        "v2",
    )
    with jy.connect() as db:
        assert db.url == "https://eu-central-1-1.aws.cloud2.influxdata.com"
        assert db.server == jy.Server("v2")
        assert db.org == "shop"


def test_credentials_never_in_reprs_or_messages():
    """Neither a token nor a password shows in the repr of settings or connection."""
    settings = Settings(url="http://h:8086", token=TOKEN, username="ann", password="pw-s3cr3t")
    url = "http://ann:pw-s3cr3t@127.0.0.1:1"

    with jy.connect(url, token=TOKEN, password="pw-s3cr3t", retries=0) as db:
        shown = [repr(settings), repr(db)]
        with pytest.raises(jy.ServerError) as caught:
            db.influxql("SHOW DATABASES")
    shown.append(str(caught.value))

    assert "ann" in repr(settings)
    assert all(TOKEN not in text and "pw-s3cr3t" not in text for text in shown)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("localhost", "http://localhost:8086"),
        ("http://10.0.0.5/", "http://10.0.0.5:8086"),
        (
            "https://us-west-2-1.aws.cloud2.influxdata.com",
            "https://us-west-2-1.aws.cloud2.influxdata.com",
        ),
        ("http://127.0.0.1:8181", "http://127.0.0.1:8181"),
    ],
)
def test_addresses_get_the_port_of_their_kind(url, expected):
    """Plain http gets InfluxDB's 8086; https (Cloud) keeps TLS's 443."""
    assert _normalise_url(url) == expected


def test_passwords_in_addresses_are_hidden():
    assert _shown("http://ann:pw@h:8086") == "http://ann:***@h:8086"
    assert _shown("http://h:8086") == "http://h:8086"


def _answer(status: int, body: bytes) -> requests.Response:
    answer = requests.Response()
    answer.status_code, answer._content, answer.reason = status, body, "Bad Request"
    return answer


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"error":"partial write: field type conflict dropped=1"}\n',
            "partial write: field type conflict dropped=1",
        ),
        (
            b'{"code":"invalid","message":"partial write: x dropped=2"}',
            "partial write: x dropped=2",
        ),
        (b"404 page not found\n", "404 page not found"),
        (b"", "Bad Request"),
        (b"[1, 2]", "[1, 2]"),
    ],
)
def test_error_text_reads_each_generations_body(body, message):
    """1.x's {"error"}, 2.x's {"code", "message"}, plain text, an empty body."""
    assert error_text(_answer(400, body)) == message


def test_a_web_page_instead_of_influxdb_is_named_in_one_line():
    """A proxy's or another service's HTML page is not pasted into the error."""
    page = b"<!DOCTYPE html>\n<html><head><title>Sign in\n - Portal</title></head>\n</html>"
    with Recorder(ping=None) as server:
        server.answer("GET", "/ping", 404, page, headers={"Content-Type": "text/html"})
        with pytest.raises(jy.ServerError) as caught:
            jy.connect(server.url).ping()

    message = str(caught.value)
    assert "\n" not in message
    assert "a web page (Sign in - Portal) instead of an InfluxDB answer" in message
    assert error_text(_answer(502, b"<html><body>Bad gateway</body></html>")) == (
        "a web page instead of an InfluxDB answer: check that the address is InfluxDB's, "
        "not a proxy's or another service's"
    )


# Behaviour against the real throwaway InfluxDB 1.x.


def test_real_1x_is_detected_as_v1(influx_server):
    with jy.connect(influx_server.url, database="x") as db:
        server = db.server
        assert db.ping() == server.version

    assert server.generation == "v1"
    assert server.version.startswith("1.")
    assert server.build == "OSS"
    assert str(server) in repr(db)


def test_real_1x_post_lines_writes_through_v1_api(db):
    """post_lines stores a nanosecond point in the connection's database."""
    answer = db.post_lines(b"events,user_id=u1 value=3i 1714521600000000001\n")

    assert answer.status_code == 204
    assert stored(db, "SELECT * FROM events") == [
        {"time": 1714521600000000001, "user_id": "u1", "value": 3}
    ]


def test_real_1x_partial_write_message_is_read(db):
    """A type conflict on 1.x is a 400 whose message error_text gives, dropped count and all."""
    db.post_lines(b"events value=3i 1\n")

    answer = db.post_lines(b"events value=2.5 2\n")

    assert answer.status_code == 400
    assert "field type conflict" in error_text(answer)
    assert error_text(answer).endswith("dropped=1")


def test_real_1x_token_is_never_logged(influx_server, caplog):
    """A connection with a token to a 1.x without auth works, and logs no token."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    name = "test_token_log"

    with jy.connect(influx_server.url, database=name, token=TOKEN) as db:
        db.create_database()
        assert db.post_lines(b"events value=1i 1\n").status_code == 204
        db.influxql(f'DROP DATABASE "{name}"', method="POST")

    assert "GET /ping" in caplog.text
    assert TOKEN not in caplog.text


def test_real_1x_forced_v1_sends_no_ping(db, caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")

    with jy.connect(db.url, database=db.database, api="v1") as forced:
        assert forced.post_lines(b"events value=1i 1\n").status_code == 204
        assert forced.server == jy.Server("v1")

    assert "POST /write" in caplog.text
    assert "/ping" not in caplog.text


def test_real_1x_has_no_flux(db):
    with pytest.raises(jy.JourneysError, match="does not run Flux"):
        db.flux('from(bucket: "journeys")')


def test_recorded_1x_write_goes_to_write_with_db_and_ns():
    """Protocol only: the v1 write is /write?db=&precision=ns, with the token header."""
    with Recorder("v1") as server, jy.connect(server.url, database="clicks", token=TOKEN) as db:
        db.post_lines(b"events value=1i 1\n", content_encoding="gzip")

    (write,) = server.sent("POST", "/write")
    assert write.query == {"db": "clicks", "precision": "ns"}
    assert write.headers["authorization"] == f"Token {TOKEN}"
    assert write.headers["content-encoding"] == "gzip"


def test_recorded_1x_user_password_token_is_basic_auth():
    """Protocol only: a user:password token, as 1.x takes it, is HTTP basic authentication."""
    with Recorder("v1") as server, jy.connect(server.url, token="ann:pw") as db:
        db.post_lines(b"events value=1i 1\n")

    (write,) = server.sent("POST", "/write")
    assert write.headers["authorization"] == "Basic YW5uOnB3"


V2_PARTIAL = (
    "failure writing points to database: partial write: field type conflict: input field "
    '"value" on measurement "events" is type float, already exists as type integer dropped=1'
)

#: Refusals as each generation words them: ping, write path, status, body, headers, message.
REFUSALS = [
    ("v1", "/write", 400, {"error": "partial write: dropped=1"}, {}, "partial write: dropped=1"),
    ("v1", "/write", 413, b"", {}, "Request Entity Too Large"),
    (
        "v2",
        "/api/v2/write",
        422,
        {"code": "unprocessable entity", "message": V2_PARTIAL},
        {},
        V2_PARTIAL,
    ),
    (
        "v2",
        "/api/v2/write",
        400,
        {"code": "invalid", "message": "unable to parse 'x'"},
        {},
        "unable to parse 'x'",
    ),
    (
        "v2",
        "/api/v2/write",
        401,
        {"code": "unauthorized", "message": "unauthorized access"},
        {},
        "unauthorized access",
    ),
    (
        "v2",
        "/api/v2/write",
        404,
        {"code": "not found", "message": 'bucket "c" not found'},
        {},
        'bucket "c" not found',
    ),
    (
        "v2",
        "/api/v2/write",
        413,
        {"code": "request too large", "message": "too large"},
        {},
        "too large",
    ),
    (
        "v2",
        "/api/v2/write",
        429,
        {"code": "too many requests", "message": "limit"},
        {"Retry-After": "30"},
        "limit",
    ),
    ("cloud", "/api/v2/write", 429, b"", {"Retry-After": "7"}, "Too Many Requests"),
    ("v3-core", "/api/v3/write_lp", 401, b"", {}, "Unauthorized"),
    (
        "v3-core",
        "/api/v3/write_lp",
        413,
        b"max request size (10 bytes) exceeded",
        {},
        "max request size (10 bytes) exceeded",
    ),
    (
        "v3-core",
        "/api/v3/write_lp",
        422,
        {"error": "too many tables", "data": None},
        {},
        "too many tables",
    ),
    ("v3-enterprise", "/api/v3/write_lp", 429, b"overloaded", {"Retry-After": "5"}, "overloaded"),
]


@pytest.mark.parametrize(("ping", "path", "status", "body", "headers", "message"), REFUSALS)
def test_protocol_only_refusals_of_each_generation_come_back_once_whole(
    ping, path, status, body, headers, message
):
    """Protocol only: post_lines returns each refusal as it came after one attempt, even with
    retries set, with its Retry-After; error_text reads the message out of its body."""
    with Recorder(ping) as server:
        server.answer("POST", path, status, body, headers=headers)
        with jy.connect(server.url, database="c", org="o", token=TOKEN, retries=3) as db:
            answer = db.post_lines(b"events value=1i 1\n")

    assert answer.status_code == status
    assert error_text(answer) == message
    # Read as any requests answer is, whether requests or influxdb-client fetched it.
    assert b"".join(answer.iter_content(7)) == answer.content
    answer.close()
    for name, value in headers.items():
        assert answer.headers[name] == value
    assert len(server.sent("POST", path)) == 1


@pytest.mark.parametrize(
    ("status", "body", "missing"),
    [
        (404, b'{"error":"database not found: \\"clicks\\""}', True),
        (404, b'{"code":"not found","message":"bucket \\"clicks\\" not found"}', True),
        (404, b'{"error":"Database not found: clicks","data":null}', True),
        (404, b"404 page not found", False),
        (400, b'{"error":"database not found: x"}', False),
    ],
)
def test_database_missing_in_each_generations_words(status, body, missing):
    assert database_missing(_answer(status, body)) is missing
    assert database_missing(None) is False


def test_real_1x_missing_database_is_recognised(influx_server):
    with jy.connect(influx_server.url, database="test_never_created") as db:
        answer = db.post_lines(b"events value=1i 1\n")

    assert database_missing(answer)


def test_protocol_only_ping_before_a_write_is_tried_once():
    """Protocol only: a busy server's 503 to /ping is the write's answer, after one ping,
    since the writer does its own retries around post_lines."""
    with Recorder(ping=None) as server:
        server.answer("GET", "/ping", 503, b"busy", headers={"Retry-After": "1"})
        with jy.connect(server.url, retries=3) as db:
            answer = db.post_lines(b"events value=1i 1\n")

    assert (answer.status_code, answer.text) == (503, "busy")
    assert len(server.sent("GET", "/ping")) == 1
    assert server.sent("POST") == []


def test_protocol_only_ping_names_the_version_and_keeps_a_forced_api():
    with Recorder("v2") as server, jy.connect(server.url, api="v1") as db:
        assert db.ping() == "2.7.11"
        assert db.server == jy.Server("v1")


def test_journeys_ping_names_the_real_1x(influx_server):
    from click.testing import CliRunner

    from journeys.cli import main

    result = CliRunner().invoke(main, ["ping", "--url", influx_server.url, "-d", "x"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("server          InfluxDB 1.")
    assert lines[1:] == ["api             v1", "database        x"]


def test_journeys_ping_of_a_refusing_3x_is_one_line_error():
    """Protocol only: a 3.x that wants a token gives a one-line error saying so."""
    from click.testing import CliRunner

    from journeys.cli import main

    with Recorder(ping=None) as server:
        server.answer("GET", "/ping", 401, b"")
        result = CliRunner().invoke(main, ["ping", "--url", server.url, "--retries", "0"])

    assert result.exit_code == 1
    assert "InfluxDB answered 401" in result.output
    assert "token=" in result.output
