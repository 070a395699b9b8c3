"""`journeys write`: the report it prints, streamed files, and a server that is gone."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner
from helpers import same_events

import journeys as jy
from journeys.cli import main


def test_write_prints_the_report_of_a_streamed_file(db, tmp_path):
    frame = jy.generate(users=30, days=2, seed=9)
    path = jy.save_events(frame, tmp_path / "events.parquet")

    result = CliRunner().invoke(
        main,
        ["write", str(path), "--url", db.url, "-d", db.database, "--chunk-rows", "100"],
    )

    assert result.exit_code == 0, result.output
    for line in (
        f"events read     {len(frame):>10,}",
        f"written         {len(frame):>10,}",
        "rejected                 0",
        "retried                  0  requests",
        "spooled                  0",
    ):
        assert line in result.output
    same_events(db.query(), jy.validate(frame))


def test_rejected_rows_are_counted_by_reason_with_the_first_rows(db, tmp_path):
    frame = pd.DataFrame(
        {
            "time": ["2024-05-01T00:00:00Z", "soon", "2024-05-01T00:00:01Z", "later"],
            "event_type": ["pageview"] * 4,
        }
    )
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)

    result = CliRunner().invoke(
        main, ["write", str(path), "--url", db.url, "-d", db.database, "--on-invalid", "skip"]
    )

    assert result.exit_code == 0, result.output
    assert "rejected                 2" in result.output
    assert "rejected: 2 × " in result.output
    assert "  row 1, column time: 'soon'" in result.output
    assert "  row 3, column time: 'later'" in result.output


def test_a_server_gone_before_the_write_is_said_at_once_without_a_spool(tmp_path, monkeypatch):
    """The file is still on disk: nothing is read, validated or copied into the spool."""
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path / "spool"))
    path = jy.save_events(jy.generate(users=5, days=1, seed=2), tmp_path / "events.jsonl")
    with jy.LocalInfluxDB() as gone:
        url = gone.url

    result = CliRunner().invoke(main, ["write", str(path), "--url", url, "--retries", "1"])

    assert result.exit_code == 1
    assert f"could not reach InfluxDB at {url}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "spool").exists()
