"""Protocol only: what journeys sends to InfluxDB 3.x, and how it reads the answers.

No InfluxDB 3 runs here, so these tests talk to a recording HTTP server
(``tests/recorder.py``) that answers as 3.x Core and Enterprise do (a 200
``/ping`` with JSON, ``{"error": ..., "data": [...]}`` error bodies). They
check the exchange, not what a real 3.x server would store.
"""

from __future__ import annotations

import gzip

import pytest
from recorder import Recorder

import journeys as jy
from journeys.client import error_text

TOKEN = "apiv3_s3cr3t-t0ken"

PARTIAL = {
    "error": "partial write of line protocol occurred",
    "data": [
        {
            "original_line": "events value=x 1",
            "line_number": 2,
            "error_message": "invalid column type for column 'value', expected Integer",
        }
    ],
}


@pytest.fixture(params=["v3-core", "v3-enterprise"])
def v3(request):
    with Recorder(request.param) as server:
        yield server


def connect(server, **options):
    options.setdefault("retries", 0)
    return jy.connect(server.url, database="clicks", token=TOKEN, **options)


def test_v3_protocol_only_write_posts_gzip_body_to_write_lp_with_bearer(v3):
    """3.x Core/Enterprise get /api/v3/write_lp, nanosecond precision, partial writes, Bearer."""
    body = gzip.compress(b"events,user_id=u1 value=1i 1714521600000000000\n")

    with connect(v3) as db:
        answer = db.post_lines(body, content_encoding="gzip")
        assert db.server.generation == "v3"
        assert db.server.version == "3.2.0"

    assert answer.status_code == 204
    (write,) = v3.sent("POST", "/api/v3/write_lp")
    assert write.query == {"db": "clicks", "precision": "nanosecond", "accept_partial": "true"}
    assert write.headers["authorization"] == f"Bearer {TOKEN}"
    assert write.headers["content-encoding"] == "gzip"
    assert write.text == "events,user_id=u1 value=1i 1714521600000000000\n"
    # The ping went first, with the token in the scheme every generation accepts.
    (ping,) = v3.sent("GET", "/ping")
    assert ping.headers["authorization"] == f"Token {TOKEN}"


def test_v3_protocol_only_partial_write_lists_refused_lines(v3):
    """A 3.x partial write is returned whole; error_text names each refused line."""
    v3.answer("POST", "/api/v3/write_lp", 400, PARTIAL)

    with connect(v3) as db:
        answer = db.post_lines(b"events value=1i 1\nevents value=x 1\n")

    assert answer.status_code == 400
    assert error_text(answer) == (
        "partial write of line protocol occurred: line 2: invalid column type for column "
        "'value', expected Integer"
    )


def test_v3_protocol_only_refused_ping_is_the_answer_of_the_write():
    """Without a valid token 3.x refuses even /ping: the write gets that 401 back."""
    with Recorder(ping=None) as server:
        server.answer("GET", "/ping", 401, b"")
        with connect(server) as db:
            answer = db.post_lines(b"events value=1i 1\n")
            assert answer.status_code == 401
            with pytest.raises(jy.ServerError, match="INFLUXDB_TOKEN") as caught:
                db.server  # noqa: B018
    assert caught.value.status == 401
    assert TOKEN not in str(caught.value)


def test_v3_protocol_only_influxql_uses_query_with_bearer(v3):
    """InfluxQL goes to /query with db= the database and the Bearer token."""
    series = {"name": "events", "columns": ["time", "value"], "values": [[1, 7]]}
    v3.answer("GET", "/query", 200, {"results": [{"statement_id": 0, "series": [series]}]})

    with connect(v3) as db:
        db.post_lines(b"events value=7i 1\n")
        results = db.influxql('SELECT "value" FROM events')

    assert results[0]["series"][0]["values"] == [[1, 7]]
    (query,) = v3.sent("GET", "/query")
    assert query.query == {"db": "clicks", "epoch": "ns", "q": 'SELECT "value" FROM events'}
    assert query.headers["authorization"] == f"Bearer {TOKEN}"


def test_v3_protocol_only_query_error_message_surfaces(v3):
    """A 3.x JSON error of /query becomes ServerError.message."""
    v3.answer("GET", "/query", 404, {"error": "database not found: clicks", "data": None})

    with connect(v3) as db, pytest.raises(jy.ServerError) as caught:
        db.influxql("SELECT * FROM events")

    assert caught.value.status == 404
    assert caught.value.message == "database not found: clicks"


@pytest.mark.parametrize(("status", "body"), [(200, b""), (409, b"already exists")])
def test_v3_protocol_only_create_database_posts_configure_database(v3, status, body):
    """create_database() posts {"db": name} to /api/v3/configure/database; 409 means it exists."""
    v3.answer("POST", "/api/v3/configure/database", status, body)

    with connect(v3) as db:
        db.create_database()

    (created,) = v3.sent("POST", "/api/v3/configure/database")
    assert created.json() == {"db": "clicks"}
    assert created.headers["authorization"] == f"Bearer {TOKEN}"


def test_v3_protocol_only_create_database_refused(v3):
    """A refusal of the database creation is a ServerError with the server's message."""
    v3.answer("POST", "/api/v3/configure/database", 400, {"error": "invalid character in name"})

    with connect(v3) as db, pytest.raises(jy.ServerError) as caught:
        db.create_database()

    assert caught.value.status == 400
    assert caught.value.message == "invalid character in name"


def test_v3_protocol_only_flux_is_refused_before_sending(v3):
    """Flux on 3.x is a clear error, and nothing is sent to a Flux endpoint."""
    with connect(v3) as db, pytest.raises(jy.JourneysError, match="does not run Flux"):
        db.flux('from(bucket: "clicks")')

    assert v3.sent("POST", "/api/v2/query") == []


def test_v3_protocol_only_other_3x_builds_write_through_v2_compatible_api():
    """A 3.x build other than Core/Enterprise takes /api/v2/write with bucket and ns."""
    with Recorder(ping=None) as server:
        server.answer("GET", "/ping", 204, headers={"X-Influxdb-Version": "3.0.1"})
        server.answer("POST", "/api/v2/write", 204)
        with connect(server, org="shop") as db:
            db.post_lines(b"events value=1i 1\n")

    (write,) = server.sent("POST", "/api/v2/write")
    assert write.query == {"bucket": "clicks", "precision": "ns", "org": "shop"}
    assert write.headers["authorization"] == f"Bearer {TOKEN}"


def test_v3_protocol_only_forced_api_skips_the_ping():
    """api='v3' skips the ping; not knowing the build, it writes to /api/v2/write, which
    every 3.x server takes (Core and Enterprise as well)."""
    with Recorder(ping=None) as server:
        server.answer("POST", "/api/v2/write", 204)
        with connect(server, api="v3") as db:
            db.post_lines(b"events value=1i 1\n")
            assert db.server == jy.Server("v3")

    assert server.sent("GET", "/ping") == []
    (write,) = server.sent("POST", "/api/v2/write")
    assert write.headers["authorization"] == f"Bearer {TOKEN}"
