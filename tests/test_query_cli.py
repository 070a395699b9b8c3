"""The `query` and `count` commands: selected columns, slices and counts as CSV."""

from __future__ import annotations

import io

import pandas as pd
from click.testing import CliRunner

import journeys as jy
from journeys.cli import main

START = pd.Timestamp("2024-05-01T00:00:00Z")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_query_reads_selected_columns_in_slices(db):
    frame = jy.generate(users=15, start=START, days=2, seed=2)
    db.write(frame)
    connection = ["--url", db.url, "--database", db.database]

    result = run(
        "query", *connection, "--columns", "event_type,user_id", "--slice", "6h", "--workers", "2"
    )

    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output), dtype=str)
    assert list(table.columns) == ["time", "event_type", "user_id"]
    assert sorted(table["user_id"]) == sorted(frame["user_id"])
    assert pd.DatetimeIndex(table["time"]).equals(jy.validate(frame).index.rename(None))


def test_count_prints_counts_per_interval_and_tag(db):
    frame = jy.generate(users=15, start=START, days=2, seed=2)
    db.write(frame)

    result = run(
        "count", "--url", db.url, "-d", db.database, "--every", "1D", "--by", "event_type"
    )

    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output))
    assert list(table.columns) == ["time", "event_type", "count"]
    assert table["count"].sum() == len(frame)
    days = ["2024-05-01T00:00:00.000000000Z", "2024-05-02T00:00:00.000000000Z"]
    assert sorted(set(table["time"])) == days


def test_count_by_a_field_is_a_one_line_error(db):
    db.write(jy.generate(users=3, start=START, days=1, seed=2))

    result = run("count", "--url", db.url, "-d", db.database, "--by", "user_id")

    assert result.exit_code == 1
    assert "in the 'default' layout" in result.output


def test_saving_selected_columns_needs_event_type(db, tmp_path):
    db.write(jy.generate(users=3, start=START, days=1, seed=2))
    target = tmp_path / "users.csv"
    connection = ["--url", db.url, "-d", db.database]

    refused = run("query", *connection, "--columns", "user_id", "-o", str(target))
    saved = run("query", *connection, "--columns", "event_type,user_id", "-o", str(target))

    assert refused.exit_code == 2
    assert "needs event_type" in refused.output
    assert saved.exit_code == 0, saved.output
    assert jy.read_events(target)["content_id"].isna().all()
