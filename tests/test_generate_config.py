"""SimulationConfig: defaults, files, and errors that name what is wrong."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest
from click.testing import CliRunner

import journeys as jy
from journeys.cli import main

TOML = """
users = 120
days = 3
weekend_factor = 1.5
price_mix = { "1.99" = 1, "5.99" = 3 }
duration_mix = { "12" = 1 }
hourly_profile = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]

[transitions.transaction]
pageview = 0.5
interaction = 0.5

[end_probability]
transaction = 0.9

[locations]
Chicago = [2746388, "America/Chicago"]
"San Diego" = [1386932, "America/Los_Angeles"]
"""

EXPECTED = {
    "users": 120,
    "days": 3,
    "weekend_factor": 1.5,
    "price_mix": {1.99: 1, 5.99: 3},
    "duration_mix": {12: 1},
    "locations": {
        "Chicago": (2746388, "America/Chicago"),
        "San Diego": (1386932, "America/Los_Angeles"),
    },
}


def test_a_config_cannot_be_changed_once_checked():
    config = jy.SimulationConfig()

    with pytest.raises(TypeError):
        config.device_mix["tv"] = 0.9
    with pytest.raises(TypeError):
        config.transitions["scroll"]["scroll"] = 2.0
    assert config.device_mix == jy.SimulationConfig().device_mix
    assert set(config.transitions) == set(config.end_probability)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_file_overrides_what_it_names(tmp_path, suffix):
    path = tmp_path / f"config{suffix}"
    if suffix == ".toml":
        path.write_text(TOML)
    else:
        values = jy.SimulationConfig.from_dict(_toml_values()).to_dict()
        changed = {k: v for k, v in values.items() if v != jy.SimulationConfig().to_dict()[k]}
        path.write_text(json.dumps(changed))

    config = jy.load_config(path)
    default = jy.SimulationConfig()

    for name, value in EXPECTED.items():
        assert getattr(config, name) == value, name
    assert config.hourly_profile[-1] == 2 and len(config.hourly_profile) == 24
    assert config.transitions["transaction"] == {"pageview": 0.5, "interaction": 0.5}
    assert config.transitions["pageview"] == default.transitions["pageview"]
    assert config.end_probability["transaction"] == 0.9
    assert config.end_probability["scroll"] == default.end_probability["scroll"]
    assert config.zipf_exponent == default.zipf_exponent


def _toml_values():
    import tomllib

    return tomllib.loads(TOML)


def test_a_config_round_trips_through_plain_data_and_pickle():
    config = jy.SimulationConfig(users=5, weekend_factor=2.0, scroll_beta=[2.0, 3.0])

    assert jy.SimulationConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert pickle.loads(pickle.dumps(config)) == config
    assert config.scroll_beta == (2.0, 3.0)


def test_the_file_settings_shape_the_events(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML)

    events = jy.generate(config=jy.load_config(path), seed=3)
    rentals = events[events["event_type"] == "transaction"]

    assert set(events["location"]) <= {"Chicago", "San Diego"}
    assert set(rentals["purchase_value"]) <= {1.99, 5.99}
    assert set(rentals["rental_duration"]) == {12}
    assert events["user_id"].nunique() <= 120


def test_keywords_of_generate_override_the_config():
    config = jy.SimulationConfig(users=50, days=2)

    events = jy.generate(config=config, users=80, seed=1)
    _, truth = jy.generate(config=config, users=80, seed=1, return_truth=True)

    assert len(truth.users) == 80
    assert events.index.max() < pd.Timestamp("2024-05-03", tz="UTC")
    assert len(jy.generate(config=config, seed=1, days=1)) < len(events)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"transitions.scroll": {"pageview": 0.5, "scroll": 0.4}},
            "transitions row 'scroll' sums to 0.9, not 1",
        ),
        (
            {"transitions.pageview": {"pageview": 0.5, "checkout": 0.5}},
            r"transitions row 'pageview': the next event must be one of .*'checkout'",
        ),
        ({"end_probability.view": 0.5}, r"end_probability: unknown keys \['view'\]"),
        (
            {"transitions.pagevew": {"pageview": 0.5, "scroll": 0.5}},
            r"transitions: unknown rows \['pagevew'\]: the rows are the event types .*spelling",
        ),
        ({"end_probability.scroll": 1.5}, r"end_probability\['scroll'\] must be at most 1"),
        ({"users": -1}, "users must be an int of at least 0, got -1"),
        ({"days": 0}, "days must be an int of at least 1, got 0"),
        ({"users": 2.5}, "users must be an int"),
        ({"start": "yesterday-ish"}, "start must be an ISO 8601 date"),
        ({"start": "2262-04-05", "days": 10}, "outside the times nanoseconds can hold"),
        ({"days": 10**12}, r"start 2024-05-01T00:00:00\+00:00 and days 1000000000000 make"),
        ({"start": "1677-09-21"}, "start on or after 1677-09-22 and end by 2262-04-11"),
        ({"initial_user_share": 1.2}, "initial_user_share must be at most 1"),
        ({"sessions_per_day_median": 0}, "sessions_per_day_median must be above 0"),
        ({"hourly_profile": (1.0,) * 23}, "hourly_profile must hold 24 numbers"),
        ({"hourly_profile": (0.0,) * 24}, "hourly_profile must have some hour above 0"),
        ({"device_mix": {}}, "device_mix must be a non-empty table"),
        ({"device_mix": {"tv": -1}}, r"device_mix\['tv'\] must be at least 0"),
        ({"scroll_zero_share": 0.6, "scroll_end_share": 0.6}, "must be at most 1, got 0.6"),
        ({"scroll_beta": (1.0, 0.0)}, r"scroll_beta\[1\] must be above 0"),
        ({"locations": {"Atlantis": [10, "Ocean/Deep"]}}, "'Ocean/Deep' is not a time zone"),
        ({"locations": {"Paris": 2_000_000}}, r"locations\['Paris'\] must be \[population"),
        ({"weekend_factor": float("nan")}, "weekend_factor must be a finite number"),
    ],
)
def test_bad_settings_are_refused_by_name(changes, message):
    values = {}
    for key, value in changes.items():
        table, _, row = key.partition(".")
        if row:
            values.setdefault(table, {})[row] = value
        else:
            values[key] = value

    with pytest.raises(jy.ConfigError, match=message):
        jy.SimulationConfig.from_dict(values)


def test_a_chain_without_a_row_names_the_missing_row():
    rows = dict(jy.SimulationConfig().transitions)
    del rows["button_click"]

    with pytest.raises(jy.ConfigError, match=r"transitions: rows \['button_click'\] missing"):
        jy.SimulationConfig(transitions=rows)


def test_a_chain_that_never_ends_is_refused():
    never = {s: 0.0 for s in jy.SimulationConfig().end_probability}

    with pytest.raises(jy.ConfigError, match="never ends"):
        jy.SimulationConfig(end_probability=never)


def test_unknown_keys_are_refused_with_the_known_ones(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("user = 10\n")

    with pytest.raises(jy.ConfigError, match=r"typo.toml: unknown config key\(s\) \['user'\]"):
        jy.load_config(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", "users = = 3", "cannot parse the config"),
        ("bad.json", "{users: 3}", "cannot parse the config"),
        ("bad.yaml", "users: 3", "use a .toml or .json file"),
        ("bad.json", "[1, 2]", "a config must be a table of settings"),
        ("bad.toml", "[price_mix]\nfree = 1", "price_mix: the key 'free' is not a float"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(jy.ConfigError, match=message):
        jy.load_config(path)


def test_the_command_reads_a_config_and_writes_the_truth(tmp_path):
    config, out, truth = tmp_path / "c.toml", tmp_path / "e.csv", tmp_path / "truth.json"
    config.write_text(TOML)

    result = CliRunner().invoke(
        main,
        ["generate", str(out), "--config", str(config), "--seed", "4", "--truth", str(truth)],
    )

    assert result.exit_code == 0, result.output
    expected = jy.generate(config=jy.load_config(config), seed=4)
    assert jy.read_events(out).equals(expected)
    written = json.loads(truth.read_text())
    assert written["config"]["users"] == 120
    implied = jy.GroundTruth(jy.load_config(config)).session_funnel()
    assert written["session_funnel"]["transaction"] == implied["step_conversion"][2]


def test_the_command_names_a_bad_config(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[transitions.scroll]\npageview = 2\n")

    result = CliRunner().invoke(
        main, ["generate", str(tmp_path / "e.csv"), "--config", str(config)]
    )

    assert result.exit_code == 1
    assert "transitions['scroll']['pageview'] must be at most 1" in result.output
    assert "Traceback" not in result.output


def test_a_start_given_as_a_time_is_kept_as_iso_text():
    config = jy.SimulationConfig(start=pd.Timestamp("2024-05-01T02:00", tz="Europe/Paris"))

    assert config.start == "2024-05-01T02:00:00+02:00"
    assert json.loads(json.dumps(config.to_dict()))["start"] == config.start
