"""The command line, run in-process with click's runner against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import same_events

import journeys as jy
from journeys.cli import main

README = Path(__file__).parents[1] / "README.md"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_and_is_in_the_readme(name):
    command = main.commands[name]

    assert command.help and len(command.help.split()) >= 4
    assert run(name, "--help").exit_code == 0
    assert re.search(rf"`journeys {name}\b", README.read_text()), f"README lacks journeys {name}"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_generate_is_byte_identical_for_a_seed_and_reads_back(tmp_path, suffix):
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"

    assert (
        run("generate", str(first), "--users", "40", "--days", "3", "--seed", "9").exit_code == 0
    )
    assert (
        run("generate", str(second), "--users", "40", "--days", "3", "--seed", "9").exit_code == 0
    )

    assert first.read_bytes() == second.read_bytes()
    same_events(jy.read_events(first), jy.generate(users=40, days=3, seed=9))


def test_write_then_query_to_a_file(db, tmp_path):
    source, target = tmp_path / "events.csv", tmp_path / "back.parquet"
    run("generate", str(source), "--users", "30", "--days", "2", "--seed", "3")
    connection = ["--url", db.url, "--database", db.database]

    written = run("write", str(source), *connection)
    queried = run(
        "query", *connection, "--start", "2024-05-01", "--stop", "2024-05-03", "-o", str(target)
    )

    assert written.exit_code == 0 and queried.exit_code == 0, written.output + queried.output
    same_events(jy.read_events(target), jy.read_events(source))


def test_connection_settings_come_from_the_environment(db, tmp_path):
    source = tmp_path / "events.jsonl"
    run("generate", str(source), "--users", "10", "--days", "1", "--seed", "1")
    env = {"INFLUXDB_URL": db.url, "INFLUXDB_DATABASE": db.database}

    result = run("write", str(source), env=env)
    printed = run("query", "--event-type", "pageview", env=env)

    assert result.exit_code == 0, result.output
    table = pd.read_csv(__import__("io").StringIO(printed.output))
    expected = jy.read_events(source)
    assert len(table) == (expected["event_type"] == "pageview").sum()
    assert set(table["event_type"]) == {"pageview"}


def test_write_with_bad_rows_is_a_one_line_error_or_skips_them(db, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(
        "time,event_type,purchase_value\n"
        "2023-05-17T00:00:00Z,transaction,4.99\n"
        "2023-05-17T00:01:00Z,transaction,abc\n"
    )
    connection = ["--url", db.url, "--database", db.database]

    refused = run("write", str(source), *connection)
    skipped = run("write", str(source), *connection, "--on-invalid", "skip")

    assert refused.exit_code == 1
    assert (
        "Error: 1 row(s) cannot be stored: row 1, column purchase_value: 'abc'" in refused.output
    )
    assert "Traceback" not in refused.output
    assert skipped.exit_code == 0
    assert re.search(r"written\s+1\b", skipped.output)
    assert "rejected: 1 × is not a number" in skipped.output


def test_no_server_configured_is_a_clear_error(tmp_path, monkeypatch):
    for name in ("INFLUXDB_URL", "INFLUXDB_V2_URL"):
        monkeypatch.delenv(name, raising=False)
    source = tmp_path / "events.csv"
    run("generate", str(source), "--users", "5", "--days", "1", "--seed", "1")

    result = run("write", str(source))

    assert result.exit_code == 1
    assert "no InfluxDB address" in result.output


def test_an_unknown_file_format_names_the_known_ones(tmp_path):
    result = run("generate", str(tmp_path / "events.xlsx"))

    assert result.exit_code == 1
    assert ".csv, .parquet" in result.output


def test_demo_against_a_given_server(db, tmp_path):
    result = run(
        "demo",
        "--url",
        db.url,
        "--database",
        db.database,
        "--users",
        "200",
        "--days",
        "7",
        "--out",
        str(tmp_path),
    )

    assert result.exit_code == 0, result.output
    counts = re.search(
        r"generated ([\d,]+), written ([\d,]+), read back ([\d,]+) \(all equal\)", result.output
    )
    assert counts, result.output
    generated = len(jy.generate(users=200, days=7, seed=7))
    assert [int(c.replace(",", "")) for c in counts.groups()] == [generated] * 3
    for name in ("Funnel", "Rental lag", "Scroll depth"):
        assert name in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "funnel.png",
        "rental_lag.png",
        "scroll_depth.png",
    ]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in tmp_path.iterdir())


@pytest.mark.parametrize("args", [["--event-type", "nosuch"], ["--start", "2030-01-01"]])
def test_a_query_without_results_prints_the_header(db, args):
    db.write(jy.generate(users=5, days=1, seed=1))

    result = run("query", "--url", db.url, "--database", db.database, *args)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == ",".join(["time", *(c.name for c in jy.COLUMNS)])


def test_generate_with_no_users_writes_an_empty_file(tmp_path):
    result = run("generate", str(tmp_path / "none.csv"), "--users", "0")

    assert result.exit_code == 0, result.output
    assert len(jy.read_events(tmp_path / "none.csv")) == 0


def test_the_skip_report_names_rows_and_columns(db, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("time,event_type,purchase_value\n2023-05-17T00:00:00Z,transaction,abc\n")

    result = run("write", str(source), "--url", db.url, "-d", db.database, "--on-invalid", "skip")

    assert "row 0, column purchase_value: 'abc' is not a number" in result.output


def test_options_that_do_not_apply_to_line_protocol_are_refused(tmp_path):
    spool = tmp_path / "spool.lp"
    spool.write_text("events,event_type=x f=1 1\n")

    result = CliRunner().invoke(main, ["write", str(spool), "--layout", "published"])

    assert result.exit_code == 2
    assert "--layout does not apply to a .lp file" in result.output


def test_an_address_without_a_scheme_means_http(db):
    bare = db.url.removeprefix("http://")

    assert jy.connect(bare).ping().startswith("1.")


def test_a_time_that_is_not_a_time_is_a_one_line_error(db):
    result = run("query", "--url", db.url, "--start", "yesterday")

    assert result.exit_code == 1
    assert "'yesterday' is not a time: give ISO 8601" in result.output
