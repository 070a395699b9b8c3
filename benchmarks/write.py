"""Writing events end to end with ``db.write`` against the ceiling of plain HTTP posts.

For each layout, the same generated events go into two fresh databases of
one throwaway InfluxDB:

- **ceiling**: the lines, serialised beforehand (not timed), posted with
  plain ``requests`` in batches of ``--batch-size`` lines, one after another:
  what the server takes when the client does nothing but send;
- **journeys**: ``db.write(frame)`` from the raw frame, timed whole:
  validation, serialisation, the stored-points and field-type checks,
  batching and posting.

Both databases must end up with the same count for every field. The table
gives points per second and the ratio journeys / ceiling.

    scripts/run bench write --events 1000000
"""

from __future__ import annotations

import argparse
import time
import warnings

import requests

import journeys as jy

EVENTS_PER_USER = 60.5  # what jy.generate makes per user over 30 days


def post_ceiling(url: str, database: str, lines: list[str], batch_size: int) -> float:
    """Seconds to post ``lines`` with plain requests, batch after batch."""
    requests.post(f"{url}/query", data={"q": f'CREATE DATABASE "{database}"'}, timeout=60)
    bodies = [
        ("\n".join(lines[i : i + batch_size]) + "\n").encode()
        for i in range(0, len(lines), batch_size)
    ]
    with requests.Session() as session:
        started = time.perf_counter()
        for body in bodies:
            answer = session.post(
                f"{url}/write",
                params={"db": database, "precision": "ns"},
                data=body,
                timeout=120,
            )
            if answer.status_code != 204:
                raise RuntimeError(f"ceiling write failed: {answer.status_code} {answer.text}")
        return time.perf_counter() - started


def field_counts(db) -> dict[str, int]:
    """The number of stored values of every field: equal counts, same writes."""
    rows = db.influxql("SELECT count(*) FROM events")[0]["series"][0]
    return {k: v for k, v in zip(rows["columns"], rows["values"][0], strict=True) if k != "time"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="about this many events")
    parser.add_argument("--batch-size", type=int, default=5_000, help="lines per request")
    parser.add_argument("--layouts", default="default,published", help="comma-separated")
    parser.add_argument("--concurrency", type=int, default=3, help="db.write's concurrency")
    parser.add_argument(
        "--gzip", action=argparse.BooleanOptionalAction, default=None, help="db.write's gzip"
    )
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()

    users = max(1, round(options.events / EVENTS_PER_USER))
    frame = jy.generate(users=users, days=30, seed=options.seed)
    print(f"{len(frame):,} events from {users:,} users")

    rows = []
    with jy.LocalInfluxDB(database="", index="tsi1") as server:
        for layout in options.layouts.split(","):
            lines = jy.to_lines(jy.validate(frame, layout=layout), layout)
            ceiling = post_ceiling(server.url, f"ceiling_{layout}", lines, options.batch_size)
            del lines

            db = jy.connect(server.url, database=f"journeys_{layout}", timeout=120)
            db.create_database()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", jy.CardinalityWarning)
                started = time.perf_counter()
                report = db.write(
                    frame,
                    layout=layout,
                    batch_size=options.batch_size,
                    concurrency=options.concurrency,
                    gzip=options.gzip,
                    progress=False,
                )
                ours = time.perf_counter() - started
            ceiling_db = jy.connect(server.url, database=f"ceiling_{layout}", timeout=120)
            if field_counts(db) != field_counts(ceiling_db) or report.written != len(frame):
                raise SystemExit(f"{layout}: the two databases differ")
            rows.append((layout, len(frame) / ceiling, len(frame) / ours))

    print(f"{'layout':<10} {'ceiling pts/s':>14} {'journeys pts/s':>15} {'ratio':>7}")
    for layout, ceiling, ours in rows:
        print(f"{layout:<10} {ceiling:>14,.0f} {ours:>15,.0f} {ours / ceiling:>7.0%}")


if __name__ == "__main__":
    main()
