"""`journeys write`: the report it prints, streamed files, and a spool when the server is gone."""

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


def test_a_server_that_is_gone_gets_a_spool_the_report_names(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path / "spool"))
    path = jy.save_events(jy.generate(users=5, days=1, seed=2), tmp_path / "events.jsonl")
    with jy.LocalInfluxDB() as gone:
        url = gone.url

    result = CliRunner().invoke(
        main, ["write", str(path), "--url", url, "--retries", "1", "--retry-for", "0.5"]
    )

    assert result.exit_code == 1
    spooled = list((tmp_path / "spool").iterdir())
    assert len(spooled) == 1
    assert f"spool file      {spooled[0]}" in result.output
    assert f"journeys write {spooled[0]}" in result.output
