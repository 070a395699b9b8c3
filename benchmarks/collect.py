"""The collector under load with ``wrk``, beside a trivial Starlette endpoint (the floor).

Two HTTP servers run in their own processes under the same uvicorn settings
(one worker, uvloop, httptools, no access log) on loopback:

- **floor**: a Starlette route that reads the body and answers 202 with a small
  JSON, the least any Python endpoint on this stack can do per request;
- **collector**: ``journeys.collect.app.create_app`` with a spool folder of its
  own, writing to a throwaway InfluxDB in the background.

``wrk`` drives each in turn, with single events and with batches of
``--batch`` events, for ``--duration`` seconds over ``--connections``
connections, in ``--rounds`` rounds: each round runs the floor, then the
collector, for each body. The floor alone moves by a factor of three from run
to run on a shared 2-core machine, so one floor run beside one collector run
says little: each round's ratio compares two runs a few seconds apart, and the
goal is checked on the median of the rounds' ratios, printed with their spread.

The wrk script (``benchmarks/collect.lua``) gives every event an id no
other event has, counts every answer by status and sums the ``accepted`` count
of the 202 answers. The table gives requests/s, events/s, the ratio to the floor
for the same body (the goal is at least 70 % for single events) and the latency
percentiles.

After each collector run the benchmark waits until the collector has written
its spool to InfluxDB, then counts that run's events there: the count, and the
count of distinct event ids, must both equal the events answered 202 (accepted),
or it fails loudly.

    scripts/run bench collect                      # 3 rounds, 10 s per run, 32 connections
    scripts/run bench collect --rounds 1 --duration 2 --connections 8
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import journeys as jy
from journeys.local import _Executor

HERE = Path(__file__).resolve().parent
LUA = HERE / "collect.lua"
KEY = "jk_bench_write_key_0123456789"
SITE = "bench"
CONFIG_VARIABLE = "JOURNEYS_BENCH_COLLECTOR_CONFIG"
GRACE = 3  # seconds after the last event request for its answer
GOAL = 0.70  # of the floor's requests/s, for single events
UNSTEADY = 1.5  # the floor's fastest round over its slowest beyond which the run is unsteady


# The two applications, built in the server processes by uvicorn's --factory.


def floor_app() -> Starlette:
    """The floor: read the body, answer 202 with a small JSON."""

    async def events(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"received": len(body)}, status_code=202)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/events", events, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def collector_app() -> Starlette:
    """The collector, with the settings file the benchmark wrote."""
    from journeys.collect.app import create_app
    from journeys.collect.settings import load_settings

    return create_app(load_settings(Path(os.environ[CONFIG_VARIABLE])))


def collector_config(folder: Path, influx_url: str, database: str) -> Path:
    """A collector configuration: one site whose key has no rate to speak of, a spool
    folder in ``folder``."""
    path = folder / "collector.toml"
    path.write_text(
        f"""\
[influxdb]
url = "{influx_url}"
database = "{database}"

[spool]
folder = "{(folder / "spool").as_posix()}"

[sites.{SITE}]
keys = ["{KEY}"]
rate = 1e9
burst = 1_000_000_000
"""
    )
    return path


# Running the servers and wrk.


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def uvicorn_server(factory: str, log: Path, env: dict[str, str] | None = None) -> _Executor:
    """A started uvicorn process serving ``collect:<factory>()``, with the settings of both.

    Started as LocalInfluxDB starts influxd, so that it stops when the benchmark dies.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"collect:{factory}",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    executor = _Executor(
        command,
        url=f"http://127.0.0.1:{port}/health",
        status="200",
        timeout=60,
        envvars={**os.environ, **(env or {})},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    executor.start()
    executor.port = port
    return executor


@dataclass
class Run:
    """What one wrk run measured, from its script's counts."""

    name: str
    batch: int
    round_number: int
    sent: int
    answered: int
    events_202: int
    accepted: int
    statuses: dict[str, int]
    window: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    prefix: str
    stored: int | None = None
    drained_in: float | None = None  # seconds from the run's end to its last event stored

    @property
    def requests_per_second(self) -> float:
        return self.statuses.get("202", 0) / self.window

    @property
    def events_per_second(self) -> float:
        return self.events_202 / self.window


def run_wrk(name: str, port: int, path: str, batch: int, round_: int, options) -> Run:
    """Drive one server with wrk for ``options.duration`` seconds; the script's counts."""
    prefix = f"{name}-{uuid.uuid4().hex[:10]}"
    command = [
        "wrk",
        "-t",
        str(options.threads),
        "-c",
        str(options.connections),
        # The script stops posting after --duration and its thread once the last
        # event request is answered; wrk itself always runs for -d, which leaves
        # that much time to the answers still on their way.
        "-d",
        f"{options.duration + GRACE:g}s",
        "--timeout",
        f"{options.timeout:g}s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}{path}",
        "--",
        path,
        str(batch),
        prefix,
        str(round(options.duration * 1000)),
    ]
    answer = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((x for x in answer.stdout.splitlines() if x.startswith("JOURNEYS_WRK ")), None)
    if answer.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({answer.returncode}):\n{answer.stdout}\n{answer.stderr}")
    counts = json.loads(line.removeprefix("JOURNEYS_WRK "))
    return Run(
        name=name,
        batch=batch,
        round_number=round_,
        sent=counts["sent"],
        answered=counts["answered"],
        events_202=counts["events_202"],
        accepted=counts["accepted"],
        statuses=counts["statuses"],
        window=counts["window_ms"] / 1000,
        p50_ms=counts["p50_us"] / 1000,
        p99_ms=counts["p99_us"] / 1000,
        errors=counts["errors"],
        prefix=prefix,
    )


# The check against InfluxDB.


def stored(db, prefix: str) -> tuple[int, int]:
    """The events of one run in InfluxDB: their count and the count of distinct ids."""
    where = f"WHERE event_id =~ /^{prefix}-/"
    counts = []
    for selector in ("count(event_id)", "count(distinct(event_id))"):
        result = db.influxql(f"SELECT {selector} FROM events {where}")[0]
        series = result.get("series")
        counts.append(series[0]["values"][0][1] if series else 0)
    return counts[0], counts[1]


def pending(port: int) -> int | None:
    """Events the collector still holds in its spool, from its health answer."""
    try:
        health = requests.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
    except (requests.RequestException, ValueError):
        return None
    return health.get("store", {}).get("pending")


def drain(db, run: Run, port: int, timeout: float) -> tuple[int, int]:
    """Wait until the run's accepted events are in InfluxDB and the spool is empty.

    Gives up after ``timeout`` seconds without progress; returns what is stored.
    """
    last, progress_at = (-1, -1), time.monotonic()
    while True:
        counts = stored(db, run.prefix)
        if counts[0] >= run.accepted and pending(port) == 0:
            return counts
        if counts != last:
            last, progress_at = counts, time.monotonic()
        elif time.monotonic() - progress_at > timeout:
            return counts
        time.sleep(0.5)


def check(run: Run, counts: tuple[int, int]) -> list[str]:
    """The differences between what wrk was answered and what InfluxDB holds."""
    problems = []
    if run.answered != run.sent:
        problems.append(
            f"{run.sent - run.answered} requests had no answer (wrk errors {run.errors}): "
            "their events may or may not be stored, so the count cannot be exact"
        )
    if run.accepted != run.events_202:
        problems.append(
            f"the 202 answers accepted {run.accepted:,} of their {run.events_202:,} events, "
            "though every event was valid and new"
        )
    if counts[0] != run.accepted:
        problems.append(f"{counts[0]:,} events stored, {run.accepted:,} answered 202 (accepted)")
    if counts[1] != counts[0]:
        problems.append(f"{counts[0] - counts[1]:,} events stored twice (same event_id)")
    return problems


def ratios(runs: list[Run], batch: int) -> list[float]:
    """Each round's collector requests/s over the floor's, for one body."""
    floors = {r.round_number: r for r in runs if r.name == "floor" and r.batch == batch}
    return [
        r.requests_per_second / floors[r.round_number].requests_per_second
        for r in runs
        if r.name == "collector" and r.batch == batch
    ]


def spread(values: list[float]) -> str:
    """The median of ratios, their lowest and highest, as percentages."""
    shown = ", ".join(f"{v:.0%}" for v in values)
    return (
        f"median {statistics.median(values):.0%} (rounds {shown}; "
        f"spread {min(values):.0%} to {max(values):.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads")
    parser.add_argument("--batch", type=int, default=50, help="events per batch request")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of floor then collector, for each body"
    )
    parser.add_argument(
        "--timeout", type=float, default=5, help="wrk counts answers slower than this, s"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=120, help="seconds without progress to give up"
    )
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {options.rounds}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: scripts/run installs Debian's package")

    load_before = os.getloadavg()
    runs, problems = [], []
    with (
        jy.LocalInfluxDB(database="journeys") as influx,
        tempfile.TemporaryDirectory(prefix="journeys-bench-collect-") as folder,
    ):
        folder = Path(folder)
        config = collector_config(folder, influx.url, influx.database)
        db = jy.connect(influx.url, database=influx.database, timeout=120)
        floor = uvicorn_server("floor_app", folder / "floor.log")
        collector = uvicorn_server(
            "collector_app", folder / "collector.log", {CONFIG_VARIABLE: str(config)}
        )
        try:
            for number in range(1, options.rounds + 1):
                for batch in (1, options.batch):
                    runs.append(run_wrk("floor", floor.port, "/events", batch, number, options))
                    path = f"/events?key={KEY}"
                    run = run_wrk("collector", collector.port, path, batch, number, options)
                    started = time.monotonic()
                    counts = drain(db, run, collector.port, options.drain_timeout)
                    run.stored, run.drained_in = counts[0], time.monotonic() - started
                    runs.append(run)
                    problems += [
                        f"collector, round {number}, batch {batch}: {p}"
                        for p in check(run, counts)
                    ]
        finally:
            floor.stop()
            collector.stop()
            if problems:
                print((folder / "collector.log").read_text(errors="replace")[-3000:])
    load_after = os.getloadavg()

    print(
        f"{'round':>5} {'server':<10} {'events/req':>10} {'requests/s':>11} {'events/s':>10} "
        f"{'of floor':>9} {'p50 ms':>8} {'p99 ms':>8} {'202 events':>11} {'stored':>9} "
        f"{'drain s':>8}"
    )
    floors = {(r.round_number, r.batch): r for r in runs if r.name == "floor"}
    for r in runs:
        ratio = r.requests_per_second / floors[r.round_number, r.batch].requests_per_second
        ours = r.name == "collector"
        kept = f"{r.stored:>9,} {r.drained_in:>8.1f}" if ours else f"{'-':>9} {'-':>8}"
        print(
            f"{r.round_number:>5} {r.name:<10} {r.batch:>10} {r.requests_per_second:>11,.0f} "
            f"{r.events_per_second:>10,.0f} {ratio:>9.0%} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.accepted if ours else r.events_202:>11,} {kept}"
        )
    single = ratios(runs, 1)
    print(f"single events, of the floor: {spread(single)}")
    print(f"batches of {options.batch}, of the floor: {spread(ratios(runs, options.batch))}")
    share = statistics.median(single)
    verdict = "met" if share >= GOAL else "not met"
    print(
        f"goal: single events at {GOAL:.0%} of the floor or more (median): {share:.0%}, {verdict}"
    )
    floor_rates = [r.requests_per_second for r in runs if r.name == "floor" and r.batch == 1]
    if max(floor_rates) > UNSTEADY * min(floor_rates):
        print(
            f"warning: the floor moved from {min(floor_rates):,.0f} to {max(floor_rates):,.0f} "
            "requests/s between rounds: the machine's load changed during the run, so the "
            "ratios say little; run again on a quieter machine or with more --rounds"
        )
    for r in runs:
        if set(r.statuses) != {"202"}:
            print(
                f"round {r.round_number}, {r.name}, {r.batch} event(s) a request: answers by "
                f"status {r.statuses}"
            )
    print(
        f"{options.rounds} round(s), {options.connections} connections, {options.threads} wrk "
        f"thread(s), {options.duration:g} s per run; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores"
    )
    if problems:
        raise SystemExit(
            "the events in InfluxDB differ from the events answered 202:\n  - "
            + "\n  - ".join(problems)
        )
    print("every event answered 202 is in InfluxDB, once")


if __name__ == "__main__":
    main()
