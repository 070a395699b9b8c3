"""Benchmark: checking one-event bodies, journeys' contract against JSON Schema validators.

The collector reads and checks every request body while the client waits, so
the cost per event bounds its requests per second. Each body here is an array
of one event (the snippet's common case), taken in turn from the event vectors of
``contract/vectors.json`` (accepted and refused ones alike). journeys runs
``parse_body`` and ``check_events``, which also convert the values and correct
the time; the peers run ``json.loads`` and a validator of
``contract/events.schema.json``: ``fastjsonschema`` (the schema compiled to
Python) and ``jsonschema`` (interpreted). Every tool must give the same verdict
on each event wherever the JSON Schema can express the rule (the vectors say
where it cannot); the table shows microseconds per event, best of
``--repeat`` rounds.

Run it as ``scripts/run bench contract`` (``--events 2000`` for a quick run;
``--help`` for the options).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import fastjsonschema
import jsonschema

from journeys.collect.contract import Accepted, Limits, check_events, parse_body

VECTORS = Path(__file__).resolve().parent.parent / "contract" / "vectors.json"
RECEIVED = 1_700_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="bodies checked (50,000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best counts (5)")
    args = parser.parse_args()
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")

    doc = json.loads(VECTORS.read_text(encoding="utf-8"))
    vectors = [v for v in doc["vectors"] if "event" in v]
    bodies = [json.dumps([v["event"]]).encode() for v in vectors]
    bodies = (bodies * (args.events // len(bodies) + 1))[: args.events]
    expressible = [v["schema_valid"] is (v["expect"]["status"] == "accepted") for v in vectors]
    schema = json.loads((VECTORS.parent / "events.schema.json").read_text(encoding="utf-8"))
    compiled = fastjsonschema.compile(schema)
    interpreted = jsonschema.Draft202012Validator(schema)
    limits = Limits(**doc["limits"])

    def journeys_verdict(body: bytes) -> bool:
        items = parse_body(body, content_type="text/plain", content_encoding=None, limits=limits)
        (result,) = check_events(items, received_at=RECEIVED, limits=limits)
        return type(result) is Accepted

    def fastjsonschema_verdict(body: bytes) -> bool:
        try:
            compiled(json.loads(body)[0])
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def jsonschema_verdict(body: bytes) -> bool:
        return interpreted.is_valid(json.loads(body)[0])

    tools = {
        "journeys parse_body + check_events": journeys_verdict,
        "json.loads + fastjsonschema": fastjsonschema_verdict,
        "json.loads + jsonschema": jsonschema_verdict,
    }
    verdicts = {name: [tool(b) for b in bodies[: len(vectors)]] for name, tool in tools.items()}
    reference = verdicts["journeys parse_body + check_events"]
    for name, found in verdicts.items():
        differ = [
            v["name"]
            for v, want, got, same in zip(vectors, reference, found, expressible, strict=True)
            if same and want != got
        ]
        if differ:
            raise SystemExit(f"{name} disagrees with journeys on: {', '.join(differ)}")

    times = {}
    for name, tool in tools.items():
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            for body in bodies:
                tool(body)
            best = min(best, time.perf_counter() - start)
        times[name] = best / len(bodies) * 1e6

    ours = times["journeys parse_body + check_events"]
    print(
        f"{len(bodies):,} single-event bodies from {len(vectors)} vectors, "
        f"best of {args.repeat}; verdicts agree where JSON Schema can express the rule"
    )
    print(f"{'tool':<38} {'µs per event':>13} {'ratio':>8}")
    for name, micros in times.items():
        print(f"{name:<38} {micros:>13.1f} {micros / ours:>7.2f}x")


if __name__ == "__main__":
    main()
