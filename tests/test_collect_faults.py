"""The collector loses nothing when InfluxDB goes away: every event answered 202 arrives once.

A dedicated ``influxd`` is stopped and started again on the same port and data
while several clients post batches to the collector, served by a real uvicorn
(once with a queue small enough to fill up meanwhile); a collector is shut
down with events still queued, to be replaced by a new one on the same spool
folder; and ``journeys collect``, a process of its own, is killed (SIGKILL)
under load and started again. Afterwards the events in
InfluxDB are exactly the events answered ``accepted``: none lost, none twice,
and none of those answered ``rejected`` or refused as a whole (of a request the
kill cut off, with no answer, each event is stored once or not at all).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
import requests
from collect_server import KEY, free_port, running, settings_for
from helpers import drained, event_ids, wait_until

import journeys as jy


@pytest.fixture
def own_server(influx_server):
    """A throwaway influxd of this test alone, which the test may stop and start."""
    with jy.LocalInfluxDB(database="faults") as server:
        yield server


@dataclass
class Load:
    """Clients posting batches in threads, with every answer kept.

    Each batch holds ``size - 1`` valid events and one out of range
    (``scroll_depth`` 150), so each answer has events to store and one not to.
    """

    url: str
    clients: int = 3
    size: int = 10
    answers: list[tuple[float, list[str], int | None, dict | None]] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client) for _ in range(self.clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _client(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                ids = [uuid.uuid4().hex for _ in range(self.size)]
                batch = [{"event_type": "pageview", "event_id": i, "user_id": "u"} for i in ids]
                batch[-1]["scroll_depth"] = 150
                try:
                    answer = session.post(self.url, json=batch, timeout=10)
                    status = answer.status_code
                    content = answer.json() if status == 202 else None
                except requests.RequestException:
                    status = content = None
                with self._lock:
                    self.answers.append((time.monotonic(), ids, status, content))
                time.sleep(0.05)

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def by_result(self) -> tuple[list[str], list[str]]:
        """The ids answered ``accepted``, and those answered anything else."""
        accepted, others = [], []
        for _, ids, status, content in self.answers:
            results = content["results"] if content else [{"status": status}] * len(ids)
            for event_id, result in zip(ids, results, strict=True):
                (accepted if result["status"] == "accepted" else others).append(event_id)
        return sorted(accepted), others


@pytest.mark.parametrize(
    "down_for",
    [
        pytest.param(1.0, id="the writer retries through"),
        pytest.param(7.0, id="the forwarder keeps the batch and backs off"),
    ],
)
def test_influxdb_restarted_under_load_gets_every_accepted_event_once(
    own_server, start_collector, down_for
):
    db = jy.connect(own_server.url, database="faults", timeout=10, retries=0)
    server = start_collector(db, influxdb={"timeout": 2.0, "batch_size": 200})
    forwarder = server.state.forwarder
    unhealthy = threading.Event()

    def watch():
        while not stopped.is_set():
            if not forwarder.healthy:
                unhealthy.set()
            time.sleep(0.02)

    stopped = threading.Event()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with Load(server.events_url) as load:
            wait_until(lambda: load.count() >= 20, what="the first answers")
            down_from = time.monotonic()
            own_server.restart(down_for=down_for)
            back_at = time.monotonic()
            count = load.count()
            wait_until(lambda: load.count() >= count + 20, what="answers after the restart")
        drained(server, timeout=60)
    finally:
        stopped.set()
        watcher.join()

    # Events were taken while InfluxDB was down: they waited in the queue. A short
    # outage is ridden out by the writer's retries within one write (retry_for, 5 s);
    # a longer one fails the write, and the forwarder keeps the batch until it passes.
    during = [a for a in load.answers if down_from + 0.2 < a[0] < back_at and a[2] == 202]
    assert during, "no post was answered while InfluxDB was stopped"
    assert {a[2] for a in load.answers} == {202}
    assert unhealthy.is_set() == (down_for > forwarder.retry_for)

    accepted, others = load.by_result()
    assert len(others) == len(load.answers)  # the one event out of range in each batch
    stored = event_ids(db)
    assert stored == accepted  # every accepted event, each once
    assert not set(others) & set(stored)


def test_a_full_queue_while_influxdb_is_down_is_a_503_that_keeps_nothing(
    own_server, start_collector
):
    db = jy.connect(own_server.url, database="faults", timeout=10, retries=0)
    server = start_collector(db, spool={"max_events": 200})

    with Load(server.events_url) as load:
        wait_until(lambda: load.count() >= 10, what="the first answers")
        own_server.restart(down_for=2.0)
        count = load.count()
        wait_until(lambda: load.count() >= count + 20, what="answers after the restart")
    drained(server, timeout=60)

    # The queue filled up while InfluxDB was away: posts were refused whole with 503
    # and Retry-After, and none of their events was kept; the rest arrived once.
    refused = [ids for _, ids, status, _ in load.answers if status == 503]
    assert refused, "the queue never filled"
    assert {status for _, _, status, _ in load.answers} == {202, 503}
    accepted, _ = load.by_result()
    stored = event_ids(db)
    assert stored == accepted
    assert not {i for ids in refused for i in ids} & set(stored)


def test_events_queued_at_shutdown_are_written_by_the_next_collector(own_server, tmp_path):
    db = jy.connect(own_server.url, database="faults", timeout=10, retries=0)
    settings = settings_for(db, tmp_path, influxdb={"timeout": 1.0}, server={"flush_timeout": 0.5})
    ids = [uuid.uuid4().hex for _ in range(30)]
    events = [{"event_type": "pageview", "event_id": i} for i in ids]

    # InfluxDB stops; the collector takes the events, cannot flush them, and stops.
    outage = threading.Thread(target=own_server.restart, kwargs={"down_for": 3.0})
    outage.start()
    wait_until(lambda: not own_server.running, what="influxd stopping")
    with running(settings) as (url, _):
        answer = requests.post(f"{url}/events?key={KEY}", json=events, timeout=10)
        assert answer.json()["accepted"] == 30
    assert settings.store_path.exists()

    # A new collector on the same spool folder writes them once InfluxDB is back,
    # and still knows their ids: sent again, they are duplicates.
    with running(settings) as (url, _):
        again = requests.post(f"{url}/events?key={KEY}", json=events[:10], timeout=10)
        assert again.json()["duplicates"] == 10
        outage.join(30)
        drained(SimpleNamespace(url=url), timeout=60)
    assert event_ids(db) == sorted(ids)


def _serve(path, log) -> subprocess.Popen:
    """``journeys collect --config path`` as a process of its own, once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "journeys.cli", "collect", "--config", str(path)],
        cwd=path.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    port = tomllib.loads(path.read_text())["server"]["port"]

    def answers() -> bool:
        assert process.poll() is None, f"journeys collect ended: {log.name}"
        try:
            return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok
        except requests.ConnectionError:
            return False

    wait_until(answers, what="journeys collect answering /health")
    return process


def test_a_collector_killed_under_load_loses_no_accepted_event(db, tmp_path):
    port = free_port()
    path = tmp_path / "collector.toml"
    path.write_text(
        f"""
[server]
port = {port}

[influxdb]
url = "{db.url}"
database = "{db.database}"
interval = 2.0

[spool]
folder = "spool"

[sites.shop]
keys = ["{KEY}"]
rate = 1e6
burst = 1_000_000
"""
    )
    base = f"http://127.0.0.1:{port}"

    # kill -9 in the middle of the load: no shutdown, no flush; then a new process.
    with (tmp_path / "collector.log").open("wb") as log:
        process = _serve(path, log)
        try:
            with Load(f"{base}/events?key={KEY}") as load:
                wait_until(lambda: load.count() >= 30, what="the first answers")
                waiting = requests.get(f"{base}/health", timeout=10).json()["store"]["pending"]
                process.kill()
                process.wait()
                process = _serve(path, log)
                count = load.count()
                wait_until(lambda: load.count() >= count + 30, what="answers after the kill")
            drained(SimpleNamespace(url=base), timeout=60)
        finally:
            process.terminate()
            process.wait(30)

    # Events accepted but not yet written when the process died were in the queue on
    # disk; the next process wrote them. Every event answered accepted is stored
    # once; of the requests the kill cut
    # off (no answer), each event is stored once or not at all; nothing else is.
    accepted, _ = load.by_result()
    unanswered = {i for _, ids, status, _ in load.answers if status is None for i in ids}
    stored = event_ids(db)
    assert waiting > 0
    assert len(stored) == len(set(stored))
    assert set(accepted) <= set(stored)
    assert set(stored) - set(accepted) <= unanswered
    assert {status for _, _, status, _ in load.answers} <= {202, None}
