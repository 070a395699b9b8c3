"""Protocol only: the writer's exchanges with InfluxDB 2.x, against a recording server.

No InfluxDB 2.x runs here (see ``tests/recorder.py``). These tests check that
the writer reads 2.x's answers as it reads 1.x's: a 422 partial write splits
the batch down to the refused line, and a missing bucket is created once.
"""

from __future__ import annotations

import pandas as pd
import pytest
from recorder import Recorder

import journeys as jy

EMPTY = {"results": [{"statement_id": 0}]}
CONFLICT = {
    "code": "unprocessable entity",
    "message": "failure writing points to database: partial write: field type conflict: "
    'input field "scroll_depth" on measurement "events" is type float, already exists as '
    "type integer dropped=1",
}


@pytest.fixture
def v2():
    with Recorder("v2") as server:
        for method in ("GET", "POST"):
            server.answer(method, "/query", 200, EMPTY)
        yield server


def events(rows: int) -> pd.DataFrame:
    times = pd.date_range("2024-05-01", periods=rows, freq="s", tz="UTC")
    return pd.DataFrame(
        {"event_type": "scroll", "user_id": [f"u{i}" for i in range(rows)], "scroll_depth": 50.0},
        index=pd.Index(times, name="time"),
    )


def test_v2_protocol_only_writer_splits_a_422_partial_write_down_to_the_line(v2):
    """A 422 that names a type conflict is bisected like 1.x's 400; the rest is sent.

    The recorder refuses the first three requests: the batch, its first half, and
    that half's first line, which is therefore the line reported as refused.
    """
    v2.answer("POST", "/api/v2/write", 422, CONFLICT, times=3)

    with jy.connect(v2.url, database="clicks", token="t", org="shop", retries=0) as db:
        report = db.write(events(4), on_invalid="skip", progress=False)

    posts = v2.sent("POST", "/api/v2/write")
    assert [len(p.text.splitlines()) for p in posts] == [4, 2, 1, 1, 2]
    assert report.written == 3
    assert report.rejected["row"].tolist() == [0]
    assert "field type conflict" in report.rejected["reason"].iloc[0]


def test_v2_protocol_only_writer_creates_a_missing_bucket_once(v2):
    """2.x's 404 'bucket not found' makes the writer create the bucket, then write."""
    v2.answer(
        "POST",
        "/api/v2/write",
        404,
        {"code": "not found", "message": 'bucket "clicks" not found'},
        times=1,
    )
    v2.answer("GET", "/api/v2/orgs", 200, {"orgs": [{"id": "0a1b2c3d4e5f6a7b", "name": "shop"}]})
    v2.answer("GET", "/api/v2/buckets", 200, {"buckets": []})
    v2.answer("POST", "/api/v2/buckets", 201, {"id": "b1", "name": "clicks", "retentionRules": []})

    with jy.connect(v2.url, database="clicks", token="t", org="shop", retries=0) as db:
        report = db.write(events(3), progress=False)

    assert report.written == 3
    assert len(v2.sent("POST", "/api/v2/buckets")) == 1
    assert len(v2.sent("POST", "/api/v2/write")) == 2
