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
