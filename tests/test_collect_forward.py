"""The forwarder: the store drained into a real InfluxDB, every event exactly once.

Faults are real too: a dedicated influxd stopped in the middle and started
again, and a child process killed with SIGKILL after its write reached
InfluxDB but before it acknowledged the batch in the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pandas as pd
import pytest

import journeys as jy
from journeys.collect.forward import Forwarder, rows_frame
from journeys.collect.store import EventStore, StoreError

BASE = 1_764_000_000_000_000_000  # ns


def row(i: int, **values) -> dict:
    """An accepted row as the contract makes it: a few columns, times apart by 1 ms."""
    return {
        "event_type": "scroll" if i % 3 else "pageview",
        "user_id": f"u{i % 7}",
        "device_type": "mobile",
        "scroll_depth": float(i % 101),
        "time": BASE + i * 1_000_000,
        "received_at": BASE // 1_000_000 + i + 5,
        "event_id": f"id-{i}",
        **values,
    }


async def until(condition, timeout: float = 60.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def stored_ids(db) -> list[str]:
    return db.query()["event_id"].tolist()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "events.sqlite3"


@pytest.fixture
def own_server(influx_server):
    """A throwaway influxd of this test alone, which the test may stop and start."""
    with jy.LocalInfluxDB(database="collected") as server:
        yield server


def test_rows_frame_is_an_events_frame_in_the_schema_types():
    frame = rows_frame([row(0), row(1, rental_duration=48, scroll_depth=None)])

    assert frame.index.name == "time" and str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert frame.index.asi8.tolist() == [BASE, BASE + 1_000_000]
    assert list(frame.columns) == [
        "event_type",
        "user_id",
        "device_type",
        "scroll_depth",
        "rental_duration",
        "event_id",
        "received_at",
    ]
    assert frame["rental_duration"].dtype == "Int64"
    assert frame["rental_duration"].isna().tolist() == [True, False]
    assert frame["scroll_depth"].tolist()[0] == 0.0  # a zero is kept
    assert pd.isna(frame["scroll_depth"].iloc[1])
    assert frame["received_at"].tolist() == [BASE // 1_000_000 + 5, BASE // 1_000_000 + 6]
    pd.testing.assert_frame_equal(jy.validate(frame)[frame.columns], frame)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ({"event_type": "x", "time": 1, "colour": "red"}, jy.SchemaError, "unknown column"),
        ({"event_type": "x", "time": "now"}, jy.SchemaError, "'time' must be an int"),
        ({"event_type": "x", "time": 1, "rental_duration": 3.5}, (TypeError, ValueError), None),
    ],
)
def test_rows_frame_refuses_what_is_not_an_events_row(bad, error, message):
    with pytest.raises(error, match=message):
        rows_frame([row(0), bad])


def test_the_forwarder_drains_the_store_into_influxdb_once_each(db, path, caplog):
    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", [row(i) for i in range(250)])
            forwarder = Forwarder(store, db, write_size=100, batch_size=40, interval=0.05)
            forwarder.start()
            await until(lambda: store.pending == 0)
            await store.put("shop", [row(i) for i in range(250, 260)])  # later ones too
            await until(lambda: store.pending == 0)
            assert await forwarder.flush(timeout=10)
            return forwarder.stats()

    with caplog.at_level(logging.INFO, logger="journeys.collect.forward"):
        stats = asyncio.run(scenario())

    frame = db.query()
    assert sorted(frame["event_id"]) == sorted(f"id-{i}" for i in range(260))
    expected = jy.validate(rows_frame([row(i) for i in range(260)]))
    pd.testing.assert_frame_equal(
        frame.sort_index()[expected.columns], expected.sort_index(), check_dtype=False
    )
    assert stats["written"] == 260 and stats["refused"] == 0 and stats["healthy"]
    batches = [r for r in caplog.records if r.getMessage().startswith("forwarded a batch")]
    assert len(batches) == stats["batches"] >= 4  # 100 + 100 + 50, then the 10
    assert "forwarded a batch of 100 events to InfluxDB: 100 written, 0 refused" in caplog.text


def test_refused_rows_land_in_the_dead_letters_and_the_log_counted_by_reason(db, path, caplog):
    # The server holds scroll_depth as text already: a float for it is refused.
    db.write_lines([f'events,event_type=scroll scroll_depth="deep" {BASE - 10**9}'])
    rows = [
        row(0, event_type="pageview", scroll_depth=None),
        row(1),  # a float scroll_depth: refused by the server
        row(2, scroll_depth=150.0),  # above 100: refused by the writer's validation
        row(3, event_type="pageview", scroll_depth=None),
        row(4),
    ]

    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", rows)
            forwarder = Forwarder(store, db, interval=0.05)
            assert await forwarder.flush(timeout=30)
            return await store.dead_letters(), store.stats(), forwarder

    with caplog.at_level(logging.INFO, logger="journeys.collect.forward"):
        dead, stats, forwarder = asyncio.run(scenario())

    with pytest.warns(jy.StoredTypeWarning, match="scroll_depth as string"):
        stored = db.query()
    assert stored["event_id"].dropna().tolist() == ["id-0", "id-3"]  # and the text point
    assert [d["row"]["event_id"] for d in dead] == ["id-1", "id-2", "id-4"]
    assert "field type conflict" in dead[0]["reason"] and dead[0]["row"] == rows[1]
    assert "scroll_depth" in dead[1]["reason"] and "100" in dead[1]["reason"]
    assert stats["refused"] == 3 and stats["pending"] == 0
    assert sum(forwarder.refused.values()) == 3 and len(forwarder.refused) == 2
    assert forwarder.refused[dead[0]["reason"]] == 2  # the same reason, counted together
    assert "refused 3 of 5 events" in caplog.text and "2 × " in caplog.text


def test_while_influxdb_is_down_events_wait_and_drain_once_it_is_back(own_server, path):
    db = jy.connect(own_server.url, database="collected", timeout=5)
    seen_down = []

    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", [row(i) for i in range(400)])
            forwarder = Forwarder(
                store, db, write_size=100, interval=0.05, retry_for=0.5, max_backoff=1
            )
            forwarder.start()
            await until(lambda: forwarder.written >= 100)
            back = threading.Thread(target=own_server.restart, kwargs={"down_for": 4})
            back.start()
            await until(lambda: not own_server.running)
            await store.put("shop", [row(i) for i in range(400, 500)])  # still accepted
            await until(lambda: not forwarder.healthy)
            seen_down.append(forwarder.stats())
            await until(lambda: store.pending == 0)
            await asyncio.to_thread(back.join)
            assert await forwarder.flush(timeout=10)
            return forwarder.stats()

    stats = asyncio.run(scenario())

    assert seen_down[0]["healthy"] is False and seen_down[0]["last_error"]
    assert seen_down[0]["down_for"] >= 0
    assert stats["healthy"] and stats["down_for"] is None
    ids = stored_ids(db)
    assert len(ids) == 500 and set(ids) == {f"id-{i}" for i in range(500)}


_CRASH = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    import journeys as jy
    from journeys.collect.forward import Forwarder
    from journeys.collect.store import EventStore, StoreError

    async def main():
        store = EventStore(Path(sys.argv[1]))
        db = jy.connect(sys.argv[2], database=sys.argv[3])

        async def die(ids):  # written to InfluxDB, not acknowledged: the process dies
            os.kill(os.getpid(), signal.SIGKILL)

        store.done = die
        await Forwarder(store, db).flush(timeout=60)

    asyncio.run(main())
    """
)


def test_a_batch_written_but_not_acknowledged_is_written_again_and_stored_once(db, path):
    async def fill():
        with EventStore(path) as store:
            await store.put("shop", [row(i) for i in range(120)])

    async def resume():
        with EventStore(path) as store:
            pending = store.pending
            assert await Forwarder(store, db).flush(timeout=60)
            return pending

    asyncio.run(fill())
    child = subprocess.run(
        [sys.executable, "-c", _CRASH, str(path), db.url, db.database], timeout=120
    )
    assert child.returncode == -signal.SIGKILL
    assert len(stored_ids(db)) == 120  # the write landed before the crash

    assert asyncio.run(resume()) == 120  # none was acknowledged: all written again
    ids = stored_ids(db)
    assert len(ids) == 120 and set(ids) == {f"id-{i}" for i in range(120)}


def test_a_batch_whose_acknowledgement_fails_is_written_again_and_stored_once(db, path):
    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", [row(i) for i in range(30)])
            done, failures = store.done, []

            async def failing_once(ids):
                if not failures:
                    failures.append(len(ids))
                    raise StoreError("disk I/O error")
                await done(ids)

            store.done = failing_once
            forwarder = Forwarder(store, db, backoff=0.05)
            assert await forwarder.flush(timeout=30)
            return failures, forwarder.stats()

    failures, stats = asyncio.run(scenario())

    assert failures == [30] and stats["healthy"]
    assert stats["batches"] == 1 and stats["written"] == 30  # acknowledged once
    ids = stored_ids(db)
    assert len(ids) == 30 and set(ids) == {f"id-{i}" for i in range(30)}


def test_the_writers_advice_is_logged_once_not_raised(db, path, caplog):
    async def scenario():
        with EventStore(path) as store:
            forwarder = Forwarder(store, db, layout="published", interval=0.05)
            for start in (0, 10):
                await store.put("shop", [row(i) for i in range(start, start + 10)])
                assert await forwarder.flush(timeout=30)
            return forwarder.stats()

    with caplog.at_level(logging.WARNING, logger="journeys.collect.forward"):
        stats = asyncio.run(scenario())

    assert stats["written"] == 20 and stats["batches"] == 2
    assert caplog.text.count("CardinalityWarning") == 1
    assert len(db.query()) == 20


def test_the_writers_warnings_leave_the_process_filters_alone(db, path, caplog, monkeypatch):
    # warnings.catch_warnings in the writer's thread swapped the filters of the whole
    # process during every write: a filter set meanwhile elsewhere was lost.
    package = str(Path(jy.__file__).parent)
    changes = []  # by journeys itself: pandas catches warnings too, in a narrow scope

    def recorded(name):
        real = getattr(warnings, name)

        def call(*args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(package):
                changes.append((name, caller, threading.current_thread().name))
            return real(*args, **kwargs)

        return call

    for name in ("catch_warnings", "simplefilter", "filterwarnings", "resetwarnings"):
        monkeypatch.setattr(warnings, name, recorded(name))
    before = list(warnings.filters)
    rows = [row(0), row(1, scroll_depth=150.0)]  # a skipped row, and the published layout

    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", rows)
            forwarder = Forwarder(store, db, layout="published", interval=0.05)
            assert await forwarder.flush(timeout=30)
            return forwarder.stats()

    with caplog.at_level(logging.WARNING, logger="journeys.collect.forward"):
        stats = asyncio.run(scenario())

    assert changes == []
    assert warnings.filters == before
    assert stats["written"] == 1 and stats["refused"] == 1
    assert caplog.text.count("CardinalityWarning") == 1


def test_flush_gives_up_after_its_timeout_and_the_events_stay_for_the_next_start(path, caplog):
    with jy.LocalInfluxDB() as gone:
        url = gone.url
    down = jy.connect(url, timeout=1, retries=1)

    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", [row(i) for i in range(10)])
            forwarder = Forwarder(store, down, retry_for=0.2, backoff=0.1)
            flushed = await forwarder.flush(timeout=1.5)
            return flushed, store.pending, forwarder

    with caplog.at_level(logging.INFO, logger="journeys"):
        flushed, pending, forwarder = asyncio.run(scenario())

    assert flushed is False and pending == 10
    assert not forwarder.healthy and "could not be delivered" in forwarder.last_error
    assert not forwarder.running
    # The writer made no spool file (spool=False), and its log says so: the store keeps them.
    names = ("journeys.write", "journeys.delivery")
    writer = [r.getMessage() for r in caplog.records if r.name in names]
    assert writer and not any("spooled" in line for line in writer)
    assert any("10 undelivered (kept by the caller)" in line for line in writer)
    assert any("10 undelivered, kept by the caller" in line for line in writer)


def test_the_options_are_checked(db, path):
    with EventStore(path) as store:
        with pytest.raises(ValueError, match="batch_size"):
            Forwarder(store, db, batch_size=0)
        with pytest.raises(ValueError, match="write_size"):
            Forwarder(store, db, write_size=1.5)
        with pytest.raises(ValueError, match="interval"):
            Forwarder(store, db, interval=-1)
        with pytest.raises(jy.SchemaError, match="unknown layout"):
            Forwarder(store, db, layout="wide")


def test_write_spool_false_names_the_undelivered_rows_and_makes_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_SPOOL_DIR", str(tmp_path / "spool"))
    frame = rows_frame([row(i) for i in range(5)])
    with jy.LocalInfluxDB() as gone:
        url = gone.url
    down = jy.connect(url, retries=1)

    with pytest.raises(jy.WriteError, match=r"not spooled \(spool=False\)") as kept:
        down.write(frame, retry_for=0.2, spool=False)
    assert kept.value.rows == [0, 1, 2, 3, 4] and kept.value.spool is None
    assert kept.value.report.unwritten == [0, 1, 2, 3, 4]
    assert not (tmp_path / "spool").exists()

    with pytest.raises(jy.WriteError, match="could not be delivered") as spooled:
        down.write(frame, retry_for=0.2)  # the default: a spool file, as before
    assert spooled.value.spool.parent == tmp_path / "spool"
    assert len(spooled.value.spool.read_text().splitlines()) == 5 + 1  # and the header
