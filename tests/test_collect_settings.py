"""The collector's TOML configuration: what it holds, and the message of every mistake."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

import journeys as jy
from journeys.collect.contract import Limits
from journeys.collect.settings import CollectorSettings, load_settings

KEY = "jk_0123456789abcdefghij"

GOOD = f"""
[server]
host = "0.0.0.0"
port = 9000
forwarded_allow_ips = ["10.0.0.1", "10.0.0.2"]

[influxdb]
url = "http://influx.internal:8086"
database = "shop"
layout = "published"
batch_size = 1000

[spool]
folder = "queue"
max_events = 5000
max_bytes = "2MiB"
dedup_days = 1

[limits]
max_events = 50
max_future = 60

[sites.shop]
keys = ["{KEY}"]
origins = ["https://Shop.example.com/", "https://*.example.com"]
rate = 10
burst = 20
client_rate = 0.5
client_burst = 3

[sites.app]
keys = ["jk_another_key_0123456"]
"""


def write(tmp_path, text: str):
    path = tmp_path / "collector.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def no_influx_environment(monkeypatch):
    for name in ("INFLUXDB_URL", "INFLUXDB_V2_URL", "INFLUXDB_TOKEN", "INFLUXDB_V2_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_a_file_gives_every_setting(tmp_path):
    settings = load_settings(write(tmp_path, GOOD))

    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.forwarded_allow_ips == ("10.0.0.1", "10.0.0.2")
    assert settings.influxdb.url == "http://influx.internal:8086"
    assert settings.influxdb.database == "shop"
    assert (settings.layout, settings.batch_size) == ("published", 1000)
    assert settings.spool == tmp_path / "queue"
    assert settings.store_path == tmp_path / "queue" / "events.sqlite3"
    assert (settings.max_spool_events, settings.max_spool_bytes) == (5000, 2 * 1024 * 1024)
    assert settings.dedup_window == 86400.0
    assert settings.limits == Limits(max_events=50, max_future=60)
    shop, app = settings.sites
    assert (shop.name, shop.keys, shop.rate, shop.burst) == ("shop", (KEY,), 10, 20)
    assert shop.origins == ("https://shop.example.com", "https://*.example.com")
    assert (shop.client_rate, shop.client_burst) == (0.5, 3)
    assert (app.name, app.origins, app.rate, app.burst) == ("app", (), 200.0, 1000)
    assert app.client_rate is None
    assert settings.write_keys()[0].client_rate == 0.5
    assert [(k.site, k.key) for k in settings.write_keys()] == [
        ("shop", KEY),
        ("app", "jk_another_key_0123456"),
    ]


def test_sections_left_out_take_their_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUXDB_URL", "http://from-env:8086")
    path = write(tmp_path, f'[spool]\nfolder = "/srv/q"\n[sites.shop]\nkeys = ["{KEY}"]\n')

    settings = load_settings(path)

    assert settings.influxdb.url == "http://from-env:8086"
    assert settings.influxdb.database == "journeys"
    assert (settings.host, settings.port, settings.layout) == ("127.0.0.1", 8000, "default")
    assert settings.forwarded_allow_ips == ("127.0.0.1",)
    assert settings.limits == Limits()
    assert settings.spool == tmp_path.root / type(tmp_path)("srv/q")


def test_the_token_stays_out_of_the_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUXDB_TOKEN", "tok-very-secret-123")
    settings = load_settings(write(tmp_path, GOOD))

    assert settings.influxdb.token == "tok-very-secret-123"
    assert "tok-very-secret-123" not in repr(settings)
    assert KEY not in repr(settings)
    assert settings.secrets() == ("tok-very-secret-123",)


def test_a_token_in_a_file_others_can_read_is_warned_about(tmp_path, caplog):
    path = write(tmp_path, GOOD.replace('database = "shop"', 'token = "tok-in-file-456"'))
    path.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="journeys"):
        settings = load_settings(path)

    assert settings.influxdb.token == "tok-in-file-456"
    assert "can be read by other users: chmod 600 it" in caplog.text
    assert "tok-in-file-456" not in caplog.text


def test_a_private_file_with_a_token_is_not_warned_about(tmp_path, caplog):
    path = write(tmp_path, GOOD.replace('database = "shop"', 'token = "tok-in-file-456"'))

    with caplog.at_level(logging.WARNING, logger="journeys"):
        load_settings(path)

    assert caplog.text == ""


BASE = {
    "influxdb": {"url": "http://x:8086"},
    "spool": {"folder": "/q"},
    "sites": {"s": {"keys": [KEY]}},
}


def changed(section: str, **values):
    data = {name: dict(table) for name, table in BASE.items()}
    data[section] = {**data.get(section, {}), **values}
    return data


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (
            {**BASE, "sever": {}},
            "the file sever: unknown setting; the settings of the file are server",
        ),
        (
            changed("server", prot=1),
            "[server] prot: unknown setting; the settings of [server] are ",
        ),
        (
            changed("server", port="80"),
            "[server] port: expected a whole number, got the text '80'",
        ),
        (changed("server", port=70000), "[server] port: expected a whole number from 0 to 65535"),
        (changed("influxdb", url=None) | {"influxdb": {}}, "[influxdb] url: no InfluxDB address"),
        (
            changed("influxdb", layout="wide"),
            "[influxdb] layout: expected one of default, published",
        ),
        (changed("influxdb", api="v9"), "[influxdb] api: expected v1, v2 or v3"),
        (
            changed("influxdb", batch_size=True),
            "[influxdb] batch_size: expected a whole number, got True",
        ),
        (changed("influxdb", interval=0), "[influxdb] interval: expected a number at least 0.01"),
        ({**BASE, "spool": {}}, "[spool] folder: missing; name the folder"),
        (changed("spool", max_bytes="lots"), "[spool] max_bytes: 'lots' is not a size"),
        (
            changed("limits", max_evnts=5),
            "[limits] max_evnts: unknown setting; the settings of [limits] are max_body_bytes",
        ),
        (
            changed("limits", max_events=2.5),
            "[limits] max_events: expected a whole number, got 2.5",
        ),
        (
            changed("limits", max_events=0),
            "[limits]: Limits.max_events must be a whole number above 0",
        ),
        ({**BASE, "sites": {}}, "[sites]: no site; add a table per site"),
        (
            {**BASE, "sites": {"s": {"keys": []}}},
            "[sites.s] keys: expected a list of strings, got a list",
        ),
        ({**BASE, "sites": {"s": {"keys": "jk"}}}, "[sites.s] keys: expected a list of strings"),
        (
            {**BASE, "sites": {"s": {"origins": ["*"]}}},
            "[sites.s] keys: expected a list of strings, got nothing",
        ),
        (
            {**BASE, "sites": {"s": {"keys": ["short"]}}},
            "[sites.s] keys: the key short... is too short",
        ),
        (
            {**BASE, "sites": {"s": {"keys": [KEY], "origin": []}}},
            "[sites.s] origin: unknown setting",
        ),
        (
            {**BASE, "sites": {"s": {"keys": [KEY], "origins": ["shop.example.com"]}}},
            "[sites.s] origins: 'shop.example.com' is not an origin: write scheme://host[:port]",
        ),
        (
            {**BASE, "sites": {"s": {"keys": [KEY], "rate": 0}}},
            "[sites.s] rate: expected a number at least 0.001, got 0",
        ),
        (
            {**BASE, "sites": {"s": {"keys": [KEY]}, "t": {"keys": [KEY]}}},
            "[sites.t] keys: the key jk_0123... is also a key of [sites.s]",
        ),
        (
            {**BASE, "sites": {"a b": {"keys": [KEY]}}},
            "[sites.a b]: a site name has letters, digits",
        ),
        ({**BASE, "sites": {"s": [KEY]}}, "[sites.s]: expected a table, got a list"),
    ],
)
def test_every_mistake_is_named_by_section_and_key(data, said):
    with pytest.raises(jy.ConfigError) as caught:
        CollectorSettings.from_dict(data, source="collector.toml")

    message = str(caught.value)
    assert message.startswith("collector.toml: ")
    assert said in message


def test_a_file_that_is_not_toml_says_where(tmp_path):
    path = write(tmp_path, '[spool]\nfolder = "q"\nbad = = 1\n')

    with pytest.raises(jy.ConfigError, match=r"collector.toml: not valid TOML: .*line 3"):
        load_settings(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(jy.ConfigError, match="cannot read the collector config .*nothing.toml"):
        load_settings(tmp_path / "nothing.toml")


def test_a_spool_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "queue").write_text("")

    with pytest.raises(
        jy.ConfigError, match=r"\[spool\] folder: .*queue is a file; name a folder"
    ):
        load_settings(write(tmp_path, GOOD))


def test_the_example_of_the_module_docstring_is_a_valid_config(tmp_path, monkeypatch):
    from journeys.collect import settings as module

    example = module.__doc__.split("::", 1)[1].split("\n\n")[1:6]
    text = "\n\n".join(example).replace('"jk_..."', f'"{KEY}"')
    settings = load_settings(write(tmp_path, text))

    assert settings.sites[0].name == "shop"
    assert settings.max_spool_bytes == 2**30


def test_the_config_of_the_readme_is_valid(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    text = readme.split("# collector.toml\n", 1)[1].split("```", 1)[0]
    text = text.replace("/var/lib/journeys-collector", "spool")

    settings = load_settings(write(tmp_path, text))

    assert [site.name for site in settings.sites] == ["shop"]
    assert settings.sites[0].origins == ("https://shop.example.com", "https://*.shop.example.com")
    assert (settings.sites[0].client_rate, settings.sites[0].client_burst) == (5, 20)
    assert settings.limits == Limits()
    assert settings.max_spool_bytes == 2**30


def test_max_age_false_means_no_bound():
    data = {**BASE, "limits": {"max_age": False, "max_events": 10}}

    settings = CollectorSettings.from_dict(data)

    assert settings.limits == Limits(max_age=None, max_events=10)
