"""Faults on the way to the server: it stops mid-write, it answers 429 or 503.

The server here is a real, dedicated ``influxd`` whose process is stopped and
started again on the same port and data folder, from another thread, while
a large write is under way; the busy answers come from a small proxy in front
of a real server. In every case each event must end up stored exactly once:
retried through, or spooled and replayed.
"""

from __future__ import annotations

import http.server
import threading
import time

import pytest
import requests
from click.testing import CliRunner
from helpers import same_events

import journeys as jy
from journeys.cli import main


@pytest.fixture
def own_server(influx_server):
    """A throwaway influxd of this test alone, which the test may stop and start."""
    with jy.LocalInfluxDB(database="faults") as server:
        yield server


def _after_batches(db, count: int, action) -> None:
    """Run ``action`` in another thread once ``count`` bodies were posted."""
    post, posted = db.post_lines, []

    def counting(body, **options):
        posted.append(len(body))
        if len(posted) == count:
            threading.Thread(target=action, daemon=True).start()
        return post(body, **options)

    db.post_lines = counting


def _frame():
    return jy.generate(users=150, days=3, seed=11)


def test_a_server_restarted_mid_write_gets_every_event_once(own_server):
    frame = _frame()
    db = jy.connect(own_server.url, database="faults", timeout=5)

    _after_batches(db, 5, lambda: own_server.restart(down_for=1.5))
    report = db.write(frame, batch_size=100, concurrency=3, retry_for=60)

    assert report.retried > 0
    assert report.written == len(frame) and report.spooled == 0
    assert len(db.query()) == len(frame)
    same_events(db.query(), jy.validate(frame))


def test_default_options_wait_for_a_server_down_for_seconds(own_server, tmp_path, monkeypatch):
    # More than a handful of tries, over more than the few seconds they took when
    # the number of retries bounded them: only retry_for bounds them now.
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    frame = jy.generate(users=5000, days=3, seed=12)
    db = jy.connect(own_server.url, database="faults")
    restarted = []

    def restart():
        own_server.restart(down_for=6)
        restarted.append(True)

    _after_batches(db, 2, restart)
    report = db.write(frame, retry_for=30)

    assert restarted and report.retried > 0
    assert report.written == len(frame) and report.spooled == 0 and report.spool is None
    assert not list(tmp_path.iterdir())
    assert len(db.query()) == len(frame)
    same_events(db.query(), jy.validate(frame))


def test_a_server_down_past_the_retries_spools_the_rest_and_the_replay_completes_it(
    own_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    frame = _frame()
    db = jy.connect(own_server.url, database="faults", timeout=5)
    stopped = threading.Event()
    # Down far longer than the write's retry_for of 1 s: it gives up and spools first.
    back = threading.Thread(target=lambda: own_server.restart(down_for=8), daemon=True)

    def stop():
        stopped.set()
        back.start()

    _after_batches(db, 5, stop)
    with pytest.raises(jy.WriteError, match="could not be delivered") as caught:
        db.write(frame, batch_size=100, concurrency=3, retry_for=1)

    report = caught.value.report
    assert stopped.is_set() and not own_server.running  # still down: the write gave up
    assert report.written > 0 and report.spooled > 0
    assert report.written + report.spooled == len(frame)
    assert caught.value.rows == report.unwritten == sorted(report.unwritten)  # input order
    assert caught.value.spool == report.spool and report.spool.parent == tmp_path
    assert len(jy.validate(frame).iloc[report.unwritten]) == report.spooled

    back.join()
    result = CliRunner().invoke(main, ["write", str(report.spool), "--url", own_server.url])
    assert result.exit_code == 0, result.output
    assert len(db.query()) == len(frame)
    same_events(db.query(), jy.validate(frame))


class _BusyProxy(http.server.ThreadingHTTPServer):
    """Answers the first ``busy`` writes with ``status``, forwards the rest to ``target``."""

    def __init__(self, target: str, *, busy: int, status: int, retry_after: str | None):
        self.target, self.busy, self.status, self.retry_after = target, busy, status, retry_after
        self.writes: list[float] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self):
        self._forward("GET", b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/write"):
            with self.server.lock:
                self.server.writes.append(time.monotonic())
                refuse = len(self.server.writes) <= self.server.busy
            if refuse:
                self.send_response(self.server.status)
                if self.server.retry_after is not None:
                    self.send_header("Retry-After", self.server.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self._forward("POST", body)

    def _forward(self, method: str, body: bytes):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        answer = requests.request(
            method, self.server.target + self.path, data=body, headers=headers, timeout=30
        )
        self.send_response(answer.status_code)
        for key in ("Content-Type", "X-Influxdb-Version"):
            if key in answer.headers:
                self.send_header(key, answer.headers[key])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)


@pytest.fixture
def busy_proxy(influx_server, request):
    busy, status, retry_after = request.param
    proxy = _BusyProxy(influx_server.url, busy=busy, status=status, retry_after=retry_after)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


@pytest.mark.parametrize("busy_proxy", [(2, 429, "1")], indirect=True)
def test_too_many_requests_waits_as_long_as_retry_after_says(busy_proxy, db):
    proxy_db = jy.connect(busy_proxy.url, database=db.database)
    frame = _frame().iloc[:300]

    report = proxy_db.write(frame, batch_size=1000, concurrency=1, max_retries=5)

    assert report.retried == 2 and report.written == len(frame)
    first, second, third = busy_proxy.writes[:3]
    assert second - first >= 0.95 and third - second >= 0.95
    same_events(db.query(), jy.validate(frame))


@pytest.mark.parametrize("busy_proxy", [(3, 503, None)], indirect=True)
def test_service_unavailable_is_retried_with_backoff(busy_proxy, db):
    proxy_db = jy.connect(busy_proxy.url, database=db.database)
    frame = _frame().iloc[:300]

    report = proxy_db.write(frame, batch_size=100, concurrency=1, max_retries=5)

    assert report.retried == 3 and report.written == len(frame) and report.batches == 6
    same_events(db.query(), jy.validate(frame))


@pytest.mark.parametrize("busy_proxy", [(10**6, 503, None)], indirect=True)
def test_retries_stop_after_retry_for_seconds_and_spool(busy_proxy, db, tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path))
    proxy_db = jy.connect(busy_proxy.url, database=db.database)
    frame = _frame().iloc[:300]

    started = time.monotonic()
    with pytest.raises(jy.WriteError, match="answered 503") as caught:
        proxy_db.write(frame, batch_size=100, concurrency=2, retry_for=1.5, max_retries=100)

    assert time.monotonic() - started < 6
    assert caught.value.report.spooled == len(frame)
    replay = db.write_lines(caught.value.spool.read_text().splitlines(), layout="default")
    assert replay.written == len(frame)
    same_events(db.query(), jy.validate(frame))
