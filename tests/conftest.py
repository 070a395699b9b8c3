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


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium_path():
    """Debian's chromium, which the browser tests drive through playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is not installed (Debian package chromium)")
    return CHROMIUM


@pytest.fixture
def start_collector(tmp_path):
    """Start collectors (a real uvicorn each, see ``collect_server``), stopped after the test.

    Call it with the connection the events go to and settings sections that
    replace parts of ``collect_server.config``; by default the site ``shop``
    has a rate no test reaches. It returns a :class:`types.SimpleNamespace`
    with ``url``, ``events_url`` (with the key), ``settings`` and ``state``
    (the running :class:`journeys.collect.app.Collector`).
    """
    import contextlib
    import types

    from collect_server import KEY, running, settings_for

    with contextlib.ExitStack() as stack:

        def start(db, **sections):
            sections.setdefault("sites", {"shop": {"keys": [KEY], "rate": 1e6, "burst": 10**6}})
            settings = settings_for(db, tmp_path, **sections)
            url, state = stack.enter_context(running(settings))
            return types.SimpleNamespace(
                url=url, events_url=f"{url}/events?key={KEY}", settings=settings, state=state
            )

        yield start
