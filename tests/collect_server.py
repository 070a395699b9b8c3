"""A real collector for tests: uvicorn on a free loopback port, in a background thread.

``running(settings)`` starts :func:`journeys.collect.app.create_app` under
uvicorn with the service's own loop and parser (uvloop, httptools), waits until
it listens, and on leaving stops it the way a SIGTERM does: the lifespan's
shutdown flushes the queue to InfluxDB before the context ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from pathlib import Path

import uvicorn

from journeys.collect.app import create_app
from journeys.collect.settings import CollectorSettings

#: A key for tests, long enough for the configuration's check.
KEY = "jk_test_key_0123456789abcdef"
OTHER_KEY = "jk_other_key_0123456789abcdef"
ORIGIN = "https://shop.example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config(url: str, database: str, folder: Path, **sections) -> dict:
    """The tables of a collector configuration for tests; ``sections`` override parts."""
    data = {
        "influxdb": {"url": url, "database": database, "interval": 0.05},
        "spool": {"folder": str(folder)},
        "sites": {
            "shop": {"keys": [KEY], "origins": [ORIGIN, "https://*.shop.example.com"]},
            "app": {"keys": [OTHER_KEY]},
        },
    }
    for name, table in sections.items():
        data[name] = {**data.get(name, {}), **table}
    return data


def settings_for(db, tmp_path: Path, **sections) -> CollectorSettings:
    """Checked settings writing to the test's database ``db``."""
    spool = tmp_path / f"spool-{uuid.uuid4().hex[:6]}"
    return CollectorSettings.from_dict(config(db.url, db.database, spool, **sections))


@contextlib.contextmanager
def running(settings: CollectorSettings):
    """The collector's base URL while it runs; the app is ``server.config.app``."""
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the collector did not start; see the log above")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app.state.collector
    finally:
        server.should_exit = True
        thread.join(30)
