"""``journeys collect``: keys, the config check, and the service run as a real process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import requests
from click.testing import CliRunner
from collect_server import KEY, free_port

from journeys.cli import main

TOKEN = "tok-cli-never-shown-77e0"


def config_text(url: str, database: str, port: int) -> str:
    return f"""
[server]
host = "127.0.0.1"
port = {port}

[influxdb]
url = "{url}"
database = "{database}"
interval = 0.1

[spool]
folder = "spool"

[sites.shop]
keys = ["{KEY}"]
origins = ["https://shop.example.com"]
"""


def test_new_key_prints_a_fresh_key():
    runner = CliRunner()

    first = runner.invoke(main, ["collect", "--new-key"])
    second = runner.invoke(main, ["collect", "--new-key"])

    assert first.exit_code == 0
    key = first.output.strip()
    assert key.startswith("jk_") and len(key) == 35
    assert second.output.strip() != key


def test_check_says_what_the_config_holds(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text(config_text("http://influx:8086", "shop", 9100))

    result = CliRunner().invoke(
        main, ["collect", "--config", str(path), "--check", "--port", "9200"]
    )

    assert result.exit_code == 0, result.output
    assert "site            shop: 1 key(s), origins https://shop.example.com" in result.output
    assert "<InfluxDB http://influx:8086 database='shop'>" in result.output
    assert "does not answer: could not reach InfluxDB" in result.output
    assert f"queue           {tmp_path / 'spool' / 'events.sqlite3'}" in result.output
    assert "listen          http://127.0.0.1:9200" in result.output
    assert KEY not in result.output


def test_check_says_whether_influxdb_answers(db, tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text(config_text(db.url, db.database, 9100))

    result = CliRunner().invoke(main, ["collect", "--config", str(path), "--check"])

    assert result.exit_code == 0, result.output
    assert "answers: InfluxDB 1." in result.output


def test_a_bad_config_is_one_line_and_exit_1(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text(config_text("http://influx:8086", "shop", 9100).replace("origins", "orgins"))

    result = CliRunner().invoke(main, ["collect", "--config", str(path)])

    assert result.exit_code == 1
    assert "[sites.shop] orgins: unknown setting" in result.output
    assert "Traceback" not in result.output


def test_without_a_config_it_says_to_name_one():
    result = CliRunner().invoke(main, ["collect"])

    assert result.exit_code == 2
    assert "--config FILE" in result.output


@contextlib.contextmanager
def collect_process(path, port: int):
    """``journeys collect --config path`` as a real process; its output once it ended."""
    environment = {**os.environ, "INFLUXDB_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "journeys.cli", "collect", "--config", str(path)],
        cwd=path.parent,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ended = {}
    try:
        _wait_for_health(f"http://127.0.0.1:{port}", process)
        yield process, ended
        process.send_signal(signal.SIGTERM)
        ended["output"], _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_the_service_takes_an_event_into_influxdb_and_flushes_on_sigterm(db, tmp_path):
    port = free_port()
    path = tmp_path / "collector.toml"
    path.write_text(config_text(db.url, db.database, port))

    with collect_process(path, port) as (process, ended):
        answer = requests.post(
            f"http://127.0.0.1:{port}/events?key={KEY}",
            json={"event_type": "transaction", "user_id": "cli", "purchase_value": 0.0},
            headers={"Origin": "https://shop.example.com"},
            timeout=10,
        )
        second = CliRunner().invoke(main, ["collect", "--config", str(path), "--port", "1"])

    assert answer.status_code == 202, answer.text
    assert process.returncode == 0, ended["output"]
    assert "collecting for 1 site(s)" in ended["output"]
    assert TOKEN not in ended["output"]
    stored = db.query("2000-01-01", "2100-01-01")
    assert list(stored["user_id"]) == ["cli"]
    assert list(stored["purchase_value"]) == [0.0]
    # A second collector on the same queue is refused in one line, before it listens.
    assert second.exit_code == 1
    assert "is in use by another process" in second.output
    assert "Traceback" not in second.output


def _wait_for_health(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"journeys collect ended: {process.communicate()[0]}")
        try:
            if requests.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("journeys collect did not answer /health within 30 s")


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    # uvicorn found out after the app's startup, and ended with status 3 and its lines.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = tmp_path / "collector.toml"
        path.write_text(config_text("http://127.0.0.1:9", "shop", port))
        ended = subprocess.run(
            [sys.executable, "-m", "journeys.cli", "collect", "--config", str(path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert ended.returncode == 1, ended.stderr
    lines = ended.stderr.strip().splitlines()
    assert lines == [
        f"Error: port {port} on 127.0.0.1 is in use by another program: stop it, or give "
        "the collector another with --port (or port in [server])"
    ]
