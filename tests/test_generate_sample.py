"""data/sample.csv is exactly what the command in data/README.md makes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

import journeys as jy
from journeys.cli import main

DATA = Path(__file__).resolve().parent.parent / "data"


def documented_command() -> list[str]:
    """The ``journeys generate`` command of data/README.md, as arguments."""
    text = (DATA / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^journeys generate .*$", text, flags=re.MULTILINE)
    assert len(commands) == 1, commands
    return shlex.split(commands[0])[1:]


def test_the_sample_is_what_the_documented_command_makes(tmp_path):
    arguments = documented_command()
    target = arguments.index("data/sample.csv")
    arguments[target] = str(tmp_path / "sample.csv")

    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 0, result.output
    assert (tmp_path / "sample.csv").read_bytes() == (DATA / "sample.csv").read_bytes()


def test_the_sample_is_about_a_week_of_a_thousand_users():
    events = jy.read_events(DATA / "sample.csv")

    assert (events.index.max() - events.index.min()).days == 6
    assert 500 <= events["user_id"].nunique() <= 1000
    assert set(events["event_type"]) == set(jy.EVENT_TYPES)


def test_the_readme_describes_every_column():
    text = (DATA / "README.md").read_text(encoding="utf-8")

    for name in ["time", *(c.name for c in jy.COLUMNS)]:
        assert f"| `{name}` |" in text, name
