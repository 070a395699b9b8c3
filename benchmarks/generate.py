"""How fast the journey generator makes events, and how much memory it needs.

For each size asked (1 and 10 million events by default) a fresh Python
process runs the generator and reports events per second and its peak
resident memory (``ru_maxrss``), so that no run inherits another's memory:

``chunks``
    :func:`journeys.generate_chunks` consumed chunk by chunk, as when
    streaming to a file or to InfluxDB: memory stays that of one chunk.
``one-shot``
    :func:`journeys.generate`, which holds the whole frame.
``import``
    Importing journeys and nothing else: the floor under every peak.
``reference``
    A plain per-event Python loop of the same session model (the Markov chain
    with its end probabilities, exponential gaps, movies by popularity), on a
    small size only: the speed a straightforward generator would have.

There is no peer library that simulates this model, so the figures are
absolute; the reference gives the ratio. Both sides must give the same
answer: the mean events per session of each must be within 4 standard errors
of what the chain implies (``GroundTruth.session_events``).

Run ``scripts/run bench generate --help`` for the options; ``--events 100000``
is a quick run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time

import numpy as np

import journeys as jy
from journeys.simulation_config import CHAIN_STATES

DAYS = 30


def users_for(events: int, seed: int) -> int:
    """The number of users that makes about ``events`` events over DAYS days."""
    sample = jy.generate(users=4000, days=DAYS, seed=seed)
    return max(1, round(events * 4000 / len(sample)))


def run_child(mode: str, users: int, seed: int) -> dict:
    """Run one measurement in this process and return its figures."""
    began, cpu = time.perf_counter(), time.process_time()
    if mode == "chunks":
        events = sessions = 0
        for chunk in jy.generate_chunks(users=users, days=DAYS, seed=seed, chunk_users=10_000):
            events += len(chunk)
    elif mode == "one-shot":
        frame, truth = jy.generate(users=users, days=DAYS, seed=seed, return_truth=True)
        events = len(frame)
        sessions = len(truth.sessions)
        per_session = truth.sessions["events"].to_numpy()
    elif mode == "import":
        events = 0
    elif mode == "reference":
        per_session = np.array(reference_sessions(users, seed))
        events, sessions = int(per_session.sum()), len(per_session)
    else:
        raise ValueError(mode)
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    figures = {
        "mode": mode,
        "users": users,
        "events": events,
        "seconds": took,
        "events_per_second": events / took if events else float("nan"),
        "cpu_seconds": cpu,
        "events_per_cpu_second": events / cpu if events else float("nan"),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if mode in ("one-shot", "reference"):
        figures["sessions"] = sessions
        figures["mean_session_events"] = float(per_session.mean())
        figures["sd_session_events"] = float(per_session.std())
    return figures


def reference_sessions(users: int, seed: int) -> list[int]:
    """A per-event Python loop of the session model; returns the events per session.

    It makes every event as a dict, as a straightforward generator would, so
    its cost per event is comparable; views and the daily rhythm are left out,
    which only flatters it.
    """
    config = jy.SimulationConfig()
    rng = random.Random(seed)
    states = list(CHAIN_STATES)
    rows = [[config.transitions[s].get(t, 0.0) for t in states] for s in states]
    ends = [config.end_probability[s] for s in states]
    catalog = jy.simulate(jy.SimulationConfig(users=0), seed=seed)[1].catalog
    movies, weights = list(catalog["content_id"]), list(catalog["weight"])
    start = 1_714_521_600.0
    lengths, events = [], []
    for user in range(users):
        rate = config.sessions_per_day_median * math.exp(
            config.sessions_per_day_sigma * rng.gauss(0, 1)
        )
        gap = config.event_gap_median_seconds * math.exp(config.event_gap_sigma * rng.gauss(0, 1))
        t = start
        for _ in range(_poisson(rng, rate * DAYS)):
            t += rng.expovariate(rate / 86_400) if rate > 0 else 0
            state, movie, rented, count = 0, None, False, 0
            while True:
                if state == 0:
                    movie, rented = rng.choices(movies, weights)[0], False
                if not (state == 4 and rented):
                    events.append({"time": t, "user": user, "type": states[state], "movie": movie})
                    count += 1
                rented = rented or state == 4
                if count >= config.max_session_events or rng.random() < ends[state]:
                    break
                state = rng.choices(range(len(states)), rows[state])[0]
                t += rng.expovariate(1 / gap)
            lengths.append(count)
    return lengths


def _poisson(rng, mean):
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def measure(mode: str, users: int, seed: int) -> dict:
    """Run one measurement in a fresh process, for a clean peak memory."""
    answer = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(users), str(seed)],
        capture_output=True,
        text=True,
    )
    if answer.returncode:
        raise RuntimeError(f"the {mode} run failed:\n{answer.stderr}")
    return json.loads(answer.stdout)


def agrees(figures: dict, expected: float) -> bool:
    """Whether the mean session length is within 4 standard errors of the chain's."""
    error = figures["sd_session_events"] / math.sqrt(figures["sessions"])
    return abs(figures["mean_session_events"] - expected) < 4 * error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events",
        type=int,
        nargs="+",
        default=[1_000_000, 10_000_000],
        help="Sizes to measure, in events (default: 1,000,000 and 10,000,000).",
    )
    parser.add_argument(
        "--reference-events",
        type=int,
        default=200_000,
        help="Size of the per-event Python loop run (default: 200,000; 0 to skip).",
    )
    parser.add_argument(
        "--one-shot-max",
        type=int,
        default=10_000_000,
        help="Largest size also run as one frame with generate() (default: 10,000,000).",
    )
    parser.add_argument("--seed", type=int, default=7, help="Seed (default: 7).")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        mode, users, seed = args.child
        print(json.dumps(run_child(mode, int(users), int(seed))))
        return 0

    expected = float(jy.GroundTruth(jy.SimulationConfig()).session_events().sum())
    rows = [measure("import", 0, args.seed)]
    for size in args.events:
        users = users_for(size, args.seed)
        rows.append(measure("chunks", users, args.seed))
        if size <= args.one_shot_max:
            rows.append(measure("one-shot", users, args.seed))
    if args.reference_events:
        rows.append(measure("reference", users_for(args.reference_events, args.seed), args.seed))

    print(f"journeys {jy.__version__}, {DAYS} days, seed {args.seed}")
    print(
        f"{'mode':<10} {'users':>9} {'events':>11} {'seconds':>8} {'events/s':>10} "
        f"{'CPU s':>7} {'events/CPU s':>13} {'peak MiB':>9}"
    )
    for r in rows:
        # The import row makes no events: a rate would be nan.
        rate = f"{r['events_per_second']:>10,.0f}" if r["events"] else f"{'-':>10}"
        cpu_rate = f"{r['events_per_cpu_second']:>13,.0f}" if r["events"] else f"{'-':>13}"
        print(
            f"{r['mode']:<10} {r['users']:>9,} {r['events']:>11,} {r['seconds']:>8.2f} "
            f"{rate} {r['cpu_seconds']:>7.2f} {cpu_rate} {r['peak_mib']:>9,.0f}"
        )
    print("(wall-clock figures depend on the load of the machine; CPU seconds less so)")
    fastest = max(r["events_per_cpu_second"] for r in rows if r["mode"] in ("chunks", "one-shot"))
    reference = [r for r in rows if r["mode"] == "reference"]
    if reference:
        ratio = fastest / reference[0]["events_per_cpu_second"]
        print(f"vectorised / per-event loop: {ratio:.0f}x events per CPU second")

    checked = [r for r in rows if "sessions" in r]
    for r in checked:
        verdict = "agrees" if agrees(r, expected) else "DISAGREES"
        print(
            f"{r['mode']}: {r['mean_session_events']:.3f} events per session, chain implies "
            f"{expected:.3f}: {verdict}"
        )
    return 0 if all(agrees(r, expected) for r in checked) else 1


if __name__ == "__main__":
    sys.exit(main())
