"""Fixtures shared by the tests: a real throwaway InfluxDB and a fresh database per test.

A test that needs ``influxd`` fails under CI (``CI=true``) when it is missing,
and is skipped elsewhere, so that a developer without InfluxDB can still run
the rest.
"""

from __future__ import annotations

import os
import uuid

import pytest

import journeys as jy
from journeys.local import find_influxd


def _missing(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must install it (see scripts/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def influx_server():
    """One throwaway influxd for the whole test session."""
    try:
        find_influxd()
    except jy.LocalServerError as exc:
        _missing(str(exc))
    with jy.LocalInfluxDB(database="") as server:
        yield server


@pytest.fixture
def db(influx_server):
    """A connection to a new, empty database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    client = jy.connect(influx_server.url, database=name, retries=1)
    client.create_database()
    yield client
    client.influxql(f'DROP DATABASE "{name}"', method="POST")
    client.close()


class RunningCollector:
    """The collector (``journeys.collect.app``) served by a real uvicorn in a thread.

    Attributes
    ----------
    url : str
        The base address, ``http://127.0.0.1:PORT``.
    events_url : str
        ``POST`` address of the events, with the site's write key.
    settings : journeys.collect.settings.CollectorSettings
    """

    KEY = "jk_test_write_key_0123456789"

    def __init__(self, settings):
        import socket
        import threading

        import uvicorn
        from journeys.collect.app import create_app

        self.settings = settings
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.events_url = f"{self.url}/events?key={self.KEY}"
        config = uvicorn.Config(
            create_app(settings), log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> RunningCollector:
        import time

        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the collector did not start; see the log above")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Shut down as uvicorn does on SIGTERM: stop taking requests, flush, leave."""
        self._server.should_exit = True
        self._thread.join(60)
        self._socket.close()


@pytest.fixture
def collector(tmp_path):
    """Start collectors writing to a ``db``; each is stopped after the test.

    Call it with the connection the events go to and settings tables (as in the
    TOML file) that replace or extend the defaults: a spool folder in the
    test's temporary folder, one site ``test`` with the key
    :attr:`RunningCollector.KEY`, any origin, a rate no test reaches, and a
    forwarder that writes every 50 ms.
    """
    from journeys.collect.settings import CollectorSettings

    running = []

    def start(db, **tables) -> RunningCollector:
        defaults = {
            "influxdb": {"url": db.url, "database": db.database, "interval": 0.05},
            "spool": {"folder": str(tmp_path / f"spool{len(running)}")},
            "sites": {
                "test": {
                    "keys": [RunningCollector.KEY],
                    "origins": ["*"],
                    "rate": 1e6,
                    "burst": 1_000_000,
                }
            },
        }
        for name, table in tables.items():
            defaults[name] = {**defaults.get(name, {}), **table}
        settings = CollectorSettings.from_dict(defaults, source="tests", base=tmp_path)
        server = RunningCollector(settings)
        running.append(server)
        return server.start()

    yield start
    for server in running:
        server.stop()
