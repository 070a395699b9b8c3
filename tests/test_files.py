"""Events files: every format gives back exactly the frame that was saved."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import same_events

import journeys as jy

AWKWARD = [
    "a, b",
    'say "hi"',
    "line\nbreak",
    "win\r\nline",
    "lone\rcr",
    "tab\tx",
    "東京 🎬",
    "trailing\\",
    "NA",
    "null",
    "00123",
]


def awkward_frame() -> pd.DataFrame:
    rows = len(AWKWARD)
    return jy.validate(
        pd.DataFrame(
            {
                "time": pd.date_range("1969-12-31T23:59:59.123456789Z", periods=rows, freq="37h"),
                "event_type": ["scroll"] * rows,
                "page_url": AWKWARD,
                "user_id": AWKWARD,
                "scroll_depth": [
                    1 / 3,
                    1e-11,
                    0.0,
                    100.0,
                    5e-324,
                    None,
                    12.5,
                    1.7,
                    99.9,
                    0.1,
                    None,
                ],
                "rental_popularity": pd.array(
                    [2**60 + 1, None, 0, 2**63 - 1, 7, None, 1, 2, 3, 4, 5], dtype="Int64"
                ),
            }
        )
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_format_round_trips_exactly(tmp_path, suffix):
    events = awkward_frame()

    path = jy.save_events(events, tmp_path / f"events{suffix}")

    same_events(jy.read_events(path), events)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_an_empty_frame_round_trips(tmp_path, suffix):
    empty = awkward_frame().iloc[:0]

    path = jy.save_events(empty, tmp_path / f"empty{suffix}")

    assert len(jy.read_events(path)) == 0


def test_an_empty_string_survives_parquet_and_json_lines_but_not_csv(tmp_path):
    events = jy.validate(pd.DataFrame({"time": [0], "event_type": ["x"], "page_url": [""]}))

    for suffix, expected in ((".parquet", [""]), (".jsonl", [""]), (".csv", [None])):
        back = jy.read_events(jy.save_events(events, tmp_path / f"e{suffix}"))
        assert [None if v is pd.NA else v for v in back["page_url"]] == expected, suffix


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("semi.csv", b"time;event_type\n2024-06-01T00:00:00Z;pageview\n", "separated by commas"),
        (
            "more.csv",
            b"time,event_type\n2024-06-01T00:00:00Z,pageview,u9\n",
            r"line 2 holds more fields than the header's 2 \(time, event_type\)",
        ),
        (
            "later.csv",
            b"time,event_type\n2024-06-01T00:00:00Z,pageview\n2024-06-01T00:00:01Z,view,u9\n",
            "not valid CSV: Error tokenizing data. Expected 2 fields in line 3, saw 3",
        ),
        (
            "twice.csv",
            b"time,event_type,user_id,user_id\n2024-06-01T00:00:00Z,pageview,u1,u2\n",
            r"names the column\(s\) \['user_id'\] more than once",
        ),
        ("open.csv", b'time,event_type\n2024-06-01T00:00:00Z,"pageview\n', "EOF inside string"),
        ("latin.csv", "time,event_type\n2024,München\n".encode("latin-1"), "is not UTF-8 text"),
        ("utf16.csv", "time,event_type\n".encode("utf-16"), "is not UTF-8 text"),
        ("bad.jsonl", b'{"time": "2024-06-01"}\n{"time": 20\n', "line 2: not JSON"),
        ("list.jsonl", b'{"time": "2024-06-01"}\n[1]\n', "line 2: expected one"),
    ],
)
@pytest.mark.parametrize(
    "read", [jy.read_events, lambda path: list(jy.iter_events(path, chunk_rows=1))]
)
def test_a_file_pandas_would_misread_is_refused_by_line(tmp_path, name, content, message, read):
    """Whole or in chunks (as `journeys write` streams it), the same refusal."""
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(jy.SchemaError, match=message):
        read(path)


def test_an_empty_csv_file_and_a_bom_read_as_expected(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "bom.csv").write_bytes(
        b"\xef\xbb\xbftime,event_type,user_id\r\n2024-06-01T00:00:00Z,pageview,u1\r\n"
    )

    assert len(jy.read_events(tmp_path / "empty.csv")) == 0
    bom = jy.read_events(tmp_path / "bom.csv")
    assert bom["user_id"].tolist() == ["u1"]
    assert bom.index.tolist() == [pd.Timestamp("2024-06-01", tz="UTC")]
