"""The throwaway InfluxDB: its own ports and folder, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import journeys as jy


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_starts_on_a_free_loopback_port_and_cleans_up(influx_server):
    with jy.LocalInfluxDB() as server:
        pid, root = server.pid, server.root
        assert server.url.startswith("http://127.0.0.1:")
        assert not server.url.endswith(":8086")
        assert server.url != influx_server.url
        assert jy.connect(server.url).ping().startswith("1.")
        config = (root / "influxdb.conf").read_text()
        assert "8086" not in config and "8088" not in config

    assert not alive(pid)
    assert not root.exists()
    assert not server.running


def test_restart_keeps_the_port_and_the_points(influx_server):
    frame = jy.generate(users=5, days=1, seed=3)
    with jy.LocalInfluxDB(database="kept") as server:
        url, root, pid = server.url, server.root, server.pid
        db = jy.connect(server.url, database="kept")
        db.write(frame)

        server.restart(down_for=0.5)

        assert server.running and server.pid != pid and not alive(pid)
        assert server.url == url and server.root == root
        assert len(db.query()) == len(frame)

    with pytest.raises(jy.LocalServerError, match="not running"):
        server.restart()


def test_a_missing_binary_says_how_to_install_it():
    with pytest.raises(jy.LocalServerError, match="apt-get install influxdb"):
        jy.LocalInfluxDB(influxd="/nonexistent/influxd")


def test_connect_or_start_stops_the_server_it_started(monkeypatch, influx_server):
    monkeypatch.delenv("INFLUXDB_URL", raising=False)
    monkeypatch.delenv("INFLUXDB_V2_URL", raising=False)

    db = jy.connect_or_start(database="scratch")
    pid = db.local.pid
    db.write(jy.generate(users=5, days=1, seed=1))
    db.close()

    assert not alive(pid)


def test_demo_command_leaves_no_process_behind(influx_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
    env["TMPDIR"] = str(tmp_path)  # so that its influxd can be told from any other

    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "journeys.cli",
            "demo",
            "--users",
            "100",
            "--days",
            "3",
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stderr
    assert "(all equal)" in finished.stdout
    assert _influxd_started_in(tmp_path) == []


def _influxd_started_in(folder) -> list[int]:
    """The influxd processes whose configuration lies below ``folder``."""
    found = subprocess.run(["pgrep", "-x", "influxd"], capture_output=True, text=True)
    running = []
    for pid in found.stdout.split():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if str(folder).encode() in cmdline.read():
                    running.append(int(pid))
        except FileNotFoundError:
            continue
    return running


def test_server_command_serves_until_interrupted(influx_server, tmp_path):
    command = subprocess.Popen(
        [sys.executable, "-m", "journeys.cli", "server", "--database", "shop"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        first = command.stdout.readline()
        url = first.split(" at ")[1].split(",")[0]
        export = command.stdout.readline()

        assert first.startswith("InfluxDB running at http://127.0.0.1:")
        assert f"INFLUXDB_URL={url} INFLUXDB_DATABASE=shop" in export
        assert jy.connect(url, database="shop").write(jy.generate(users=3, days=1, seed=2))
        assert len(_influxd_started_in(tmp_path)) == 1
    finally:
        command.send_signal(signal.SIGINT)
        rest = command.communicate(timeout=60)[0]

    assert command.returncode == 0
    assert rest.strip().endswith("stopped")
    assert _influxd_started_in(tmp_path) == []


def test_server_command_ends_with_an_error_when_influxd_dies(influx_server, tmp_path):
    command = subprocess.Popen(
        [sys.executable, "-m", "journeys.cli", "server"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    command.stdout.readline()
    (pid,) = _influxd_started_in(tmp_path)

    os.kill(pid, signal.SIGKILL)
    _, errors = command.communicate(timeout=60)

    assert command.returncode == 1
    assert "influxd ended by itself" in errors
    assert list(tmp_path.glob("journeys-influxd-*")) == []


def stopped(pid: int) -> bool:
    """Whether a process has ended: gone, or a zombie nobody has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except FileNotFoundError:
        return True


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_influxd_stops_when_the_python_that_started_it_is_killed(influx_server, tmp_path):
    script = (
        "import os, signal, journeys as jy\n"
        "server = jy.LocalInfluxDB(database='')\n"
        "server.start()\n"
        "print(server.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}

    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    pid = int(finished.stdout.split()[0])

    for _ in range(100):
        if stopped(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"influxd {pid} kept running after the Python that started it was killed")
    assert finished.returncode == -signal.SIGKILL
