"""The collector's event store: durable before put returns, duplicates, bounds, dead letters.

Crashes are real: a child process puts events and is killed with SIGKILL
without closing anything; a new store on the same file must hold them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from journeys.collect.store import EventStore, StoreError, StoreFull

BASE = 1_764_000_000_000_000_000  # ns


def row(i: int, **values) -> dict:
    """An accepted row as the contract makes it."""
    return {
        "event_type": "pageview",
        "user_id": f"u{i}",
        "time": BASE + i * 1_000_000,
        "received_at": BASE // 1_000_000 + i,
        "event_id": f"id-{i}",
        **values,
    }


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "spool" / "events.sqlite3"


def test_put_stores_rows_and_take_gives_them_back_oldest_first(path):
    async def scenario():
        with EventStore(path) as store:
            assert await store.put("shop", [row(0), row(1)]) == [True, True]
            assert await store.put("shop", [row(2)]) == [True]
            taken = await store.take(10)
            return taken, store.stats()

    taken, stats = run(scenario())

    assert [t.row for t in taken] == [row(0), row(1), row(2)]
    assert {t.site for t in taken} == {"shop"}
    assert stats["pending"] == 3 and stats["stored"] == 3 and stats["duplicates"] == 0
    assert stats["bytes"] == sum(len(json.dumps(row(i), separators=(",", ":"))) for i in range(3))
    assert 0 <= stats["oldest_age"] < 60


def test_duplicates_within_one_put_across_puts_and_across_a_reopening(path):
    async def first():
        with EventStore(path) as store:
            within = await store.put("shop", [row(0), row(1), row(0), row(2, event_id="id-1")])
            across = await store.put("shop", [row(1), row(3)])
            other_site = await store.put("blog", [row(0)])
            return within, across, other_site, store.stats()

    async def second():
        with EventStore(path) as store:
            again = await store.put("shop", [row(0), row(3), row(4)])
            return again, [t.row["event_id"] for t in await store.take(100)]

    within, across, other_site, stats = run(first())
    again, ids = run(second())

    assert within == [True, True, False, False]
    assert across == [False, True]
    assert other_site == [True]  # ids are unique per site
    assert stats["duplicates"] == 3 and stats["pending"] == 4 and stats["dedup_ids"] == 4
    assert again == [False, False, True]
    assert ids == ["id-0", "id-1", "id-3", "id-0", "id-4"]


def test_concurrent_puts_of_the_same_id_store_it_once(path):
    async def scenario():
        with EventStore(path) as store:
            results = await asyncio.gather(*(store.put("shop", [row(0)]) for _ in range(20)))
            return results, store.stats()

    results, stats = run(scenario())

    assert sorted(results) == [[False]] * 19 + [[True]]
    assert stats["pending"] == 1 and stats["commits"] < 20  # they shared commits


def test_rows_without_event_id_are_never_duplicates(path):
    plain = {"event_type": "pageview", "time": BASE}

    async def scenario():
        with EventStore(path) as store:
            return await store.put("shop", [plain, plain]), await store.put("shop", [plain])

    assert run(scenario()) == ([True, True], [True])


def test_an_id_is_new_again_after_the_dedup_window(path):
    async def scenario():
        with EventStore(path, dedup_window=0.3) as store:
            first = await store.put("shop", [row(0)])
            soon = await store.put("shop", [row(0)])
            await asyncio.sleep(0.5)
            late = await store.put("shop", [row(0)])
            return first, soon, late, store.stats()["pending"]

    assert run(scenario()) == ([True], [False], [True], 2)


def test_an_id_is_remembered_after_its_event_was_forwarded(path):
    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", [row(0)])
            await store.done([t.id for t in await store.take(10)])
            return await store.put("shop", [row(0)]), store.pending

    assert run(scenario()) == ([False], 0)


_CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from journeys.collect.store import EventStore

    async def main():
        store = EventStore(Path(sys.argv[1]))
        for start in range(0, 50, 10):
            rows = [
                {"event_type": "pageview", "time": 1000 + i, "event_id": f"id-{i}"}
                for i in range(start, start + 10)
            ]
            assert await store.put("shop", rows) == [True] * 10
        print("stored", flush=True)
        time.sleep(600)  # killed here, the store never closed

    asyncio.run(main())
    """
)


def test_rows_put_survive_the_process_killed_with_sigkill(path):
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "stored"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    async def after():
        with EventStore(path) as store:
            taken = await store.take(100)
            again = await store.put("shop", [{"event_type": "x", "time": 1, "event_id": "id-7"}])
            return [t.row for t in taken], again, store.stats()

    rows, again, stats = run(after())
    assert rows == [
        {"event_type": "pageview", "time": 1000 + i, "event_id": f"id-{i}"} for i in range(50)
    ]
    assert again == [False]  # the dedup ids survived the crash too
    assert stats["pending"] == 50


def test_a_second_store_on_the_same_file_is_refused_while_the_first_is_open(path):
    with EventStore(path), pytest.raises(StoreError, match="in use by another process"):
        EventStore(path)
    EventStore(path).close()  # free again once closed


def test_a_put_past_max_events_is_refused_whole_with_retry_after(path):
    async def scenario():
        with EventStore(path, max_events=3) as store:
            await store.put("shop", [row(0), row(1)])
            with pytest.raises(StoreFull) as caught:
                await store.put("shop", [row(2), row(3)])
            duplicates_only = await store.put("shop", [row(0)])  # adds nothing: fits
            pending = store.pending
            await store.done([t.id for t in await store.take(1)])
            after_room = await store.put("shop", [row(2), row(3)])
            return caught.value, duplicates_only, pending, after_room, store.pending

    error, duplicates_only, pending, after_room, finally_pending = run(scenario())

    assert "max_events=3" in str(error) and "2 more events" in str(error)
    assert error.retry_after == 30  # nothing was written out yet: the default
    assert duplicates_only == [False] and pending == 2
    assert after_room == [True, True]  # the refused put recorded none of its ids
    assert finally_pending == 3


def test_a_put_past_max_bytes_is_refused_and_retry_after_follows_the_drain_rate(path):
    size = len(json.dumps(row(0), separators=(",", ":")))

    async def scenario():
        with EventStore(path, max_bytes=3 * size + 2) as store:
            await store.put("shop", [row(0), row(1), row(2)])
            with pytest.raises(StoreFull) as before:
                await store.put("shop", [row(3)])
            await store.done([t.id for t in await store.take(1)])  # one written out
            await store.put("shop", [row(3)])
            with pytest.raises(StoreFull) as after:
                await store.put("shop", [row(4)])
            return before.value, after.value

    before, after = run(scenario())

    assert "max_bytes" in str(before) and before.retry_after == 30
    # One event written in the last second or so: one more needs about a second.
    assert after.retry_after in (1, 2)


def test_refused_rows_become_dead_letters_with_their_reason(path):
    async def scenario():
        with EventStore(path) as store:
            await store.put("shop", [row(0), row(1), row(2)])
            taken = await store.take(3)
            await store.refuse([taken[1].id], ["refused by the server: field type conflict"])
            await store.done([taken[0].id, taken[2].id])
            return await store.dead_letters(), store.stats()

    dead, stats = run(scenario())

    assert [(d["site"], d["row"], d["reason"]) for d in dead] == [
        ("shop", row(1), "refused by the server: field type conflict")
    ]
    assert dead[0]["refused_at"] >= dead[0]["stored_at"]
    assert stats["pending"] == 0 and stats["bytes"] == 0 and stats["refused"] == 1
    assert stats["oldest_age"] is None


def test_taken_rows_are_claimed_until_released_or_the_store_is_opened_again(path):
    async def first():
        with EventStore(path) as store:
            await store.put("shop", [row(i) for i in range(5)])
            a, b = await store.take(2), await store.take(2)
            await store.release([r.id for r in a])
            c = await store.take(10)
            return [[r.row["event_id"] for r in x] for x in (a, b, c)]

    async def second():
        with EventStore(path) as store:
            return [r.row["event_id"] for r in await store.take(10)]

    a, b, c = run(first())
    assert a == ["id-0", "id-1"] and b == ["id-2", "id-3"]
    assert c == ["id-0", "id-1", "id-4"]
    assert run(second()) == [f"id-{i}" for i in range(5)]  # none was acknowledged


def test_32_concurrent_puts_share_commits(path):
    async def scenario():
        with EventStore(path) as store:
            rows = [[row(i)] for i in range(640)]
            results = await asyncio.gather(*(store.put("shop", r) for r in rows))
            return results, store.stats()

    results, stats = run(scenario())

    assert results == [[True]] * 640
    assert stats["pending"] == 640
    assert stats["commits"] < 640 / 4  # group commit: many puts per transaction


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ("not a row", TypeError, "row 1: a dict of column values"),
        ({"event_type": "x"}, ValueError, "row 1: 'time' must be an int"),
        ({"event_type": "x", "time": 1.5}, ValueError, "row 1: 'time' must be an int"),
        ({"time": 1, "event_id": 7}, ValueError, "row 1: 'event_id' must be a string"),
        ({"time": 1, "event_id": "\ud83d"}, ValueError, "row 1: 'event_id' must be a string"),
        ({"time": 1, "scroll_depth": float("nan")}, ValueError, "row 1 cannot be kept as JSON"),
    ],
)
def test_a_row_that_cannot_be_kept_is_refused_naming_it_and_nothing_is_stored(
    path, bad, error, message
):
    async def scenario():
        with EventStore(path) as store:
            with pytest.raises(error, match=message):
                await store.put("shop", [row(0), bad])
            return store.pending

    assert run(scenario()) == 0


def test_calls_after_close_raise_store_error(path):
    store = EventStore(path)
    store.close()

    with pytest.raises(StoreError, match="closed"):
        run(store.put("shop", [row(0)]))


def test_options_are_checked(path):
    with pytest.raises(ValueError, match="max_events must be"):
        EventStore(path, max_events=0)
    with pytest.raises(ValueError, match="dedup_window must be"):
        EventStore(path, dedup_window=-1)


def test_a_folder_gets_its_file_inside(tmp_path):
    with EventStore(tmp_path) as store:
        assert store.path == tmp_path / "events.sqlite3"
    assert (tmp_path / "events.sqlite3").exists()


def test_old_dedup_ids_are_pruned_and_max_ids_shortens_the_window(path, caplog, monkeypatch):
    import journeys.collect.store as module

    monkeypatch.setattr(module, "PRUNE_EVERY", 0.05)

    async def scenario():
        with EventStore(path, dedup_window=2.0, max_ids=10) as store:
            await store.put("shop", [row(i) for i in range(5)])
            await asyncio.sleep(2.2)  # the five are older than the window now
            await store.put("shop", [row(i) for i in range(5, 15)])
            await asyncio.sleep(0.02)
            await store.put("shop", [row(i) for i in range(15, 25)])
            await asyncio.sleep(0.3)  # a few turns to prune
            return store.stats()["dedup_ids"], await store.put("shop", [row(24), row(5)])

    with caplog.at_level("WARNING", logger="journeys.collect.store"):
        ids, again = run(scenario())

    # The five expired ones went, then the ten older of the twenty, beyond max_ids.
    assert ids == 10
    assert again == [False, True]  # id-24 is remembered, id-5 was forgotten early
    assert "reached max_ids=10" in caplog.text and "instead of 2 s" in caplog.text


def test_a_full_disk_is_store_full_and_nothing_of_that_put_is_kept(path, monkeypatch):
    # SQLite's own "database or disk is full", made real by a page limit on the file.
    opened = EventStore._open

    def small(self):
        opened(self)
        self._conn.execute("PRAGMA max_page_count=12")

    monkeypatch.setattr(EventStore, "_open", small)
    big = "x" * 3000

    async def scenario():
        with EventStore(path) as store:
            accepted = 0
            with pytest.raises(StoreFull, match="disk holding the event store") as caught:
                for i in range(100):
                    await store.put("shop", [row(i, page_url=big)])
                    accepted += 1
            pending = store.pending
            taken = await store.take(100)
            await store.done([t.id for t in taken[:2]])  # room again
            again = await store.put("shop", [row(accepted, page_url=big)])
            return accepted, pending, len(taken), caught.value, again

    accepted, pending, taken, error, again = run(scenario())

    assert 0 < accepted < 100 and pending == taken == accepted
    assert error.retry_after == 60
    assert again == [True]  # the failed put recorded no id either
