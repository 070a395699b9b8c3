"""Protocol only: what journeys sends to InfluxDB 2.x and Cloud, and how it reads the answers.

No InfluxDB 2.x runs here, so these tests talk to a recording HTTP server
(``tests/recorder.py``) that answers as 2.x does. They check the exchange
(URL, query parameters, headers, body, error bodies), not what a real 2.x
server would store.
"""

from __future__ import annotations

import gzip
import logging

import pandas as pd
import pytest
from recorder import Recorder

import journeys as jy
from journeys.client import error_text

TOKEN = "s3cr3t-t0ken-v2=="
UNAUTHORIZED = {"code": "unauthorized", "message": "unauthorized access"}
ORGS = {"orgs": [{"id": "0a1b2c3d4e5f6a7b", "name": "shop"}]}


@pytest.fixture
def v2():
    with Recorder("v2") as server:
        yield server


def connect(server, **options):
    options.setdefault("org", "shop")
    options.setdefault("retries", 0)
    return jy.connect(server.url, database="clicks", token=TOKEN, **options)


def test_v2_protocol_only_write_posts_gzip_body_with_token(v2):
    """A gzip body goes to /api/v2/write with org, bucket, ns precision and the token."""
    body = gzip.compress(b"events,user_id=u1 value=1i 1714521600000000000\n")

    with connect(v2) as db:
        answer = db.post_lines(body, content_encoding="gzip")

    assert answer.status_code == 204
    (write,) = v2.sent("POST", "/api/v2/write")
    assert write.query == {"org": "shop", "bucket": "clicks", "precision": "ns"}
    assert write.headers["authorization"] == f"Token {TOKEN}"
    assert write.headers["content-encoding"] == "gzip"
    assert write.headers["content-type"].startswith("text/plain")
    assert write.body == body
    assert write.text == "events,user_id=u1 value=1i 1714521600000000000\n"


def test_v2_protocol_only_plain_body_is_sent_as_it_is(v2):
    """Without content_encoding the bytes go uncompressed and without Content-Encoding."""
    with connect(v2) as db:
        db.post_lines(b"events value=1i 1\n")

    (write,) = v2.sent("POST", "/api/v2/write")
    assert write.body == b"events value=1i 1\n"
    assert "content-encoding" not in write.headers


def test_v2_protocol_only_server_is_detected_once_from_ping(v2):
    """The first write asks /ping once; the generation comes from its headers."""
    with connect(v2) as db:
        db.post_lines(b"events value=1i 1\n")
        db.post_lines(b"events value=2i 2\n")
        assert db.server == jy.Server("v2", "2.7.11", "OSS")

    assert len(v2.sent("GET", "/ping")) == 1
    assert len(v2.sent("POST", "/api/v2/write")) == 2


PARTIAL = {
    "code": "unprocessable entity",
    "message": "failure writing points to database: partial write: field type conflict: "
    'input field "value" on measurement "events" is type float, already exists as type '
    "integer dropped=1",
}


def test_v2_protocol_only_writer_import_reads_json_message(v2):
    """The name write.py imports reads the message out of a 2.x JSON error body."""
    from journeys.client import _error_text

    v2.answer("POST", "/api/v2/write", 422, PARTIAL)
    with connect(v2) as db:
        answer = db.post_lines(b"events value=1.5 1\n")

    assert _error_text(answer).endswith("dropped=1")


def test_v2_protocol_only_no_answer_raises_server_error():
    """A server that went away gives ServerError, with no status, not an answer."""
    with Recorder("v2") as server:
        db = connect(server)
        assert db.server.generation == "v2"
    with pytest.raises(jy.ServerError) as caught, db:
        db.post_lines(b"events value=1i 1\n")
    assert caught.value.status is None
    assert TOKEN not in str(caught.value)


def test_v2_protocol_only_org_is_the_only_one_the_token_sees(v2):
    """Without org, the token's only organisation (GET /api/v2/orgs) is written to."""
    v2.answer("GET", "/api/v2/orgs", 200, ORGS)

    with connect(v2, org=None) as db:
        db.post_lines(b"events value=1i 1\n")
        db.post_lines(b"events value=1i 2\n")

    assert len(v2.sent("GET", "/api/v2/orgs")) == 1
    assert [w.query["org"] for w in v2.sent("POST", "/api/v2/write")] == ["shop", "shop"]


def test_v2_protocol_only_many_orgs_ask_which_one(v2):
    """A token that sees several organisations gives an error naming them and what to set."""
    orgs = [{"id": "0a1b2c3d4e5f6a7b", "name": "shop"}, {"id": "1a1b2c3d4e5f6a7b", "name": "lab"}]
    v2.answer("GET", "/api/v2/orgs", 200, {"orgs": orgs})

    with connect(v2, org=None) as db, pytest.raises(jy.JourneysError, match=r"2 \(lab, shop\)"):
        db.post_lines(b"events value=1i 1\n")
    assert v2.sent("POST", "/api/v2/write") == []


def test_v2_protocol_only_create_database_creates_the_missing_bucket(v2):
    """create_database() asks for the bucket by name, and posts a new one when missing."""
    v2.answer("GET", "/api/v2/buckets", 200, {"buckets": []})
    v2.answer("GET", "/api/v2/orgs", 200, ORGS)
    created = {"id": "b1", "name": "clicks", "orgID": "0a1b", "retentionRules": []}
    v2.answer("POST", "/api/v2/buckets", 201, created)

    with connect(v2) as db:
        db.create_database()

    (lookup,) = v2.sent("GET", "/api/v2/buckets")
    assert lookup.query["name"] == "clicks"
    (created,) = v2.sent("POST", "/api/v2/buckets")
    assert created.json()["name"] == "clicks"
    assert created.json()["orgID"] == "0a1b2c3d4e5f6a7b"
    assert created.headers["authorization"] == f"Token {TOKEN}"


def test_v2_protocol_only_create_database_keeps_an_existing_bucket(v2):
    """An existing bucket is left alone: nothing is posted."""
    bucket = {"id": "b1", "name": "clicks", "retentionRules": []}
    v2.answer("GET", "/api/v2/buckets", 200, {"buckets": [bucket]})

    with connect(v2) as db:
        db.create_database()

    assert v2.sent("POST", "/api/v2/buckets") == []


FORBIDDEN = {"code": "forbidden", "message": "insufficient permissions"}


def test_v2_protocol_only_create_database_refused_says_what_to_do(v2):
    """A token that may not create buckets gives a ServerError with the server's message."""
    v2.answer("GET", "/api/v2/buckets", 200, {"buckets": []})
    v2.answer("GET", "/api/v2/orgs", 200, ORGS)
    v2.answer(
        "POST",
        "/api/v2/buckets",
        403,
        {"code": "forbidden", "message": "insufficient permissions"},
    )

    with connect(v2) as db, pytest.raises(jy.ServerError) as caught:
        db.create_database()

    assert caught.value.status == 403
    assert caught.value.message == "insufficient permissions"
    assert "influx bucket create --name clicks --org shop" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_v2_protocol_only_influxql_reads_bucket_through_query_with_token(v2):
    """InfluxQL goes to /query with db= the bucket, epoch=ns and the token header."""
    v2.answer(
        "GET",
        "/query",
        200,
        {
            "results": [
                {
                    "statement_id": 0,
                    "series": [{"name": "events", "columns": ["time", "n"], "values": [[1, 2]]}],
                }
            ]
        },
    )

    with connect(v2) as db:
        results = db.influxql("SELECT count(*) AS n FROM events")

    assert results[0]["series"][0]["values"] == [[1, 2]]
    (query,) = v2.sent("GET", "/query")
    assert query.query["db"] == "clicks"
    assert query.query["epoch"] == "ns"
    assert query.headers["authorization"] == f"Token {TOKEN}"


def test_v2_protocol_only_query_error_message_surfaces_in_server_error(v2):
    """A 2.x JSON error of /query becomes ServerError.message."""
    v2.answer("GET", "/query", 404, {"code": "not found", "message": "database not found: clicks"})

    with connect(v2) as db, pytest.raises(jy.ServerError) as caught:
        db.influxql("SELECT * FROM events")

    assert caught.value.status == 404
    assert caught.value.message == "database not found: clicks"


FLUX_CSV = (
    "#datatype,string,long,dateTime:RFC3339,double,string,string\r\n"
    "#group,false,false,false,false,true,true\r\n"
    "#default,_result,,,,,\r\n"
    ",result,table,_time,_value,_field,_measurement\r\n"
    ",,0,2024-05-01T10:00:00Z,12.5,purchase_value,events\r\n"
    ",,0,2024-05-01T11:00:00Z,3.25,purchase_value,events\r\n"
    "\r\n"
)


def test_v2_protocol_only_flux_posts_query_and_returns_frame(v2):
    """db.flux posts the script to /api/v2/query of the org and reads the CSV into a frame."""
    v2.answer("POST", "/api/v2/query", 200, FLUX_CSV, headers={"Content-Type": "text/csv"})
    script = (
        'from(bucket: "clicks") |> range(start: 0) |> filter(fn: (r) => r._field == field)'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    )

    with connect(v2) as db:
        frame = db.flux(script, params={"field": "purchase_value"})

    assert list(frame["_value"]) == [12.5, 3.25]
    assert list(frame["_time"]) == [
        pd.Timestamp("2024-05-01T10:00:00Z"),
        pd.Timestamp("2024-05-01T11:00:00Z"),
    ]
    (query,) = v2.sent("POST", "/api/v2/query")
    assert query.query["org"] == "shop"
    assert query.json()["query"] == script
    (option,) = query.json()["extern"]["body"]
    assert option["assignment"]["id"]["name"] == "field"
    assert option["assignment"]["init"]["value"] == "purchase_value"
    assert query.headers["authorization"] == f"Token {TOKEN}"


def test_v2_protocol_only_flux_raw_csv_and_error(v2):
    """output='csv' gives the annotated CSV; a refused script gives its message."""
    v2.answer("POST", "/api/v2/query", 200, FLUX_CSV, headers={"Content-Type": "text/csv"})
    with connect(v2) as db:
        assert db.flux('from(bucket: "clicks")', output="csv") == FLUX_CSV

        v2.answer("POST", "/api/v2/query", 400, {"code": "invalid", "message": "error @1:1-1:5"})
        with pytest.raises(jy.ServerError) as caught:
            db.flux("frm(", output="tables")
        assert caught.value.message == "error @1:1-1:5"

        with pytest.raises(ValueError, match="output='table'"):
            db.flux("x", output="table")


def test_v2_protocol_only_username_and_password_sign_in(v2):
    """Without a token, influxdb-client signs in with the username and password first."""
    v2.answer("POST", "/api/v2/signin", 204, headers={"Set-Cookie": "session=abc; Path=/"})
    v2.answer("POST", "/api/v2/signout", 204)

    with jy.connect(v2.url, database="clicks", org="shop", username="ann", password="pw") as db:
        db.post_lines(b"events value=1i 1\n")

    (signin,) = v2.sent("POST", "/api/v2/signin")
    assert signin.headers["authorization"].startswith("Basic ")
    (write,) = v2.sent("POST", "/api/v2/write")
    assert write.headers["cookie"].startswith("session=abc")
    assert len(v2.sent("POST", "/api/v2/signout")) == 1


def test_v2_protocol_only_cloud_writes_through_v2_api():
    """Cloud (build header Cloud, no version) is written to as 2.x is."""
    with Recorder("cloud") as cloud, connect(cloud) as db:
        db.post_lines(b"events value=1i 1\n")
        assert db.server.cloud
        assert db.server.generation == "v2"
        assert len(cloud.sent("POST", "/api/v2/write")) == 1


def test_v2_protocol_only_token_never_in_logs_or_repr(v2, caplog):
    """The token appears in no log line, repr or error message of a whole exchange."""
    v2.answer(
        "POST", "/api/v2/write", 401, {"code": "unauthorized", "message": "unauthorized access"}
    )
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")

    with connect(v2) as db:
        answer = db.post_lines(b"events value=1i 1\n")
        shown = [repr(db), str(db.server), repr(db._settings), error_text(answer)]
        with pytest.raises(jy.ServerError) as caught:
            v2.answer(
                "GET", "/query", 401, {"code": "unauthorized", "message": "unauthorized access"}
            )
            db.influxql("SELECT * FROM events")
        shown.append(str(caught.value))

    assert "INFLUXDB_TOKEN" in shown[-1]
    assert all(TOKEN not in text for text in shown)
    assert "POST /api/v2/write" in caplog.text
    assert TOKEN not in caplog.text


def test_v2_protocol_only_logging_levels_are_left_alone(v2):
    """Making influxdb-client's client leaves the level of urllib3's logger as it was."""
    urllib3_logger = logging.getLogger("urllib3")
    before = urllib3_logger.level
    urllib3_logger.setLevel(logging.INFO)
    try:
        with connect(v2) as db:
            db.post_lines(b"events value=1i 1\n")
            assert urllib3_logger.level == logging.INFO
    finally:
        urllib3_logger.setLevel(before)


def test_v2_protocol_only_refused_org_lookup_is_the_answer_of_the_write(v2):
    """A token that may not list organisations: the write gets that 401 back, unsent;
    Flux, which needs the organisation too, a ServerError saying so."""
    v2.answer("GET", "/api/v2/orgs", 401, UNAUTHORIZED)

    with connect(v2, org=None) as db:
        answer = db.post_lines(b"events value=1i 1\n")
        with pytest.raises(jy.ServerError) as caught:
            db.flux('from(bucket: "clicks")', output="csv")

    assert answer.status_code == 401
    assert error_text(answer) == "unauthorized access"
    assert v2.sent("POST", "/api/v2/write") == []
    assert caught.value.status == 401
    assert "could not list the organisations" in str(caught.value)
