"""Serialising a DataFrame to line protocol: journeys against influxdb-client.

Both serialisers get the same frame, one million rows by default:

- five string tags, ``event_type``, ``device_type``, ``location`` (city names
  with spaces), ``referral_source`` and ``user_id``;
- ``scroll_depth``, a float that is NaN in 70 % of the rows;
- ``rental_duration``, a nullable ``Int64`` that is NA in 60 %;
- ``interaction_type``, a string missing in 80 %;
- ``purchase_value``, a dense float;
- ``page_url``, a string with double quotes and backslashes, 100 distinct
  pages (``user_id`` has 50,000 distinct values);
- a time index in UTC with nanoseconds, every time distinct.

journeys escapes a text column once per distinct value when values repeat, so
a column whose every value differs would narrow the gap somewhat.

journeys serialises only frames of its events schema, so the benchmark frame
uses schema columns of the right types, and the five tags are those of a
:class:`journeys.Layout` made for it (the default layout's four tags plus
``user_id``, which the ``published`` layout also makes a tag). No generic
serialiser for arbitrary columns exists in journeys to be measured instead.
journeys is timed on its public path, ``jy.to_lines(jy.validate(frame))``:
validation is part of every journeys write, and influxdb-client's serialiser
does the equivalent conversions of its own (times to UTC nanoseconds, NaN
checks). ``to_lines`` alone is timed too.

influxdb-client is timed on ``DataframeSerializer(...).serialize()``, what
``write_api.write(record=frame)`` runs, with the same five tag columns and
nanosecond precision.

Both outputs are then parsed back with a line protocol parser written here,
which follows InfluxDB 1.x's own reading of a line (which backslashes escape
what, which values are numbers), and compared point by point, by timestamp,
with the points the frame stands for. journeys must match every point, or the
benchmark fails; for influxdb-client it counts the points that differ and says
how, with an example of each. ``--tag-gaps`` leaves a share of the location
tags missing, a common case the default frame does not have.

Run with ``scripts/run bench serialize [--rows N] [--seed S] [--tag-gaps F]``.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter

import numpy as np
import pandas as pd
from influxdb_client.client.write.dataframe_serializer import DataframeSerializer
from influxdb_client.client.write_api import PointSettings

import journeys as jy

TAGS = ("event_type", "device_type", "location", "referral_source", "user_id")
LAYOUT = jy.Layout("benchmark", TAGS)
START = pd.Timestamp("2024-05-01T00:00:00Z").value


def make_frame(rows: int, seed: int, tag_gaps: float) -> pd.DataFrame:
    """The benchmark frame, indexed by distinct UTC times with nanoseconds."""
    rng = np.random.default_rng(seed)

    def pick(values, missing=0.0):
        chosen = np.array(values, dtype=object)[rng.integers(0, len(values), rows)]
        chosen[rng.random(rows) < missing] = None
        return pd.array(chosen, dtype="str")

    def numbers(values, missing):
        return np.where(rng.random(rows) < missing, np.nan, values)

    times = START + np.cumsum(rng.integers(1, 2_000_000_000, rows))
    scale = 10.0 ** rng.integers(1, 6, rows)  # prices of 1 to 5 decimals
    words = ['"free" trial', "C:\\films\\new", 'back\\slash "quoted"', "plain", "a,b c=d"]
    urls = [f"/search?q={w}&page={n}" for w in words for n in range(20)]
    return pd.DataFrame(
        {
            "event_type": pick(jy.EVENT_TYPES),
            "device_type": pick(["desktop", "mobile", "tablet", "tv"]),
            "location": pick(
                ["San Diego", "New York", "Salt Lake City", "Austin", "Rio de Janeiro"],
                missing=tag_gaps,
            ),
            "referral_source": pick(["Google", "Email", "Direct", "Social Media"]),
            "user_id": pick([f"u{n:05d}" for n in range(50_000)]),
            "scroll_depth": numbers(rng.uniform(0, 100, rows), 0.7),
            "rental_duration": pd.array(
                np.where(rng.random(rows) < 0.6, None, rng.choice([24, 48, 72], rows)),
                dtype="Int64",
            ),
            "interaction_type": pick(["search", "click", "filter"], missing=0.8),
            "purchase_value": np.round(rng.uniform(0, 30, rows) * scale) / scale,
            "page_url": pick(urls),
        },
        index=pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True), name="time"),
    )


# An independent reading of line protocol, as InfluxDB 1.x reads it ------------------------

_HEAD = re.compile(r"((?:[^ \\]|\\.)+) ")
_MEASUREMENT = re.compile(r"(?:[^,\\]|\\.)+")
_TAG = re.compile(r",((?:[^=,\\]|\\.)+)=((?:[^,\\]|\\.)+)")
_FIELD = re.compile(r'((?:[^=, \\]|\\.)+)=("(?:[^"\\]|\\.)*"|[^ ,"]+)(,| )')
_TIME = re.compile(r"(-?\d+)")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+i")
_BOOLEANS = {"t": True, "T": True, "true": True, "True": True, "TRUE": True}
_BOOLEANS |= {"f": False, "F": False, "false": False, "False": False, "FALSE": False}
_KEY_ESCAPE = re.compile(r"\\([,= ])")
_STRING_ESCAPE = re.compile(r'\\([\\"])')


class RefusedLineError(ValueError):
    """A line the server would refuse."""


def parse_line(line: str) -> tuple[str, dict, dict, int]:
    """Measurement, tags, fields (typed) and timestamp of one line.

    In tags and keys only ``\\,``, ``\\=`` and ``\\ `` are escapes; in string
    fields only ``\\"`` and ``\\\\``; every other backslash is itself.
    """
    head = _HEAD.match(line)
    if head is None:
        raise RefusedLineError("no space after the series key")
    key = head.group(1)
    measurement = _MEASUREMENT.match(key)
    tags, position = {}, measurement.end()
    while position < len(key):
        tag = _TAG.match(key, position)
        if tag is None:
            raise RefusedLineError(f"bad tag at {key[position : position + 30]!r}")
        tags[_KEY_ESCAPE.sub(r"\1", tag.group(1))] = _KEY_ESCAPE.sub(r"\1", tag.group(2))
        position = tag.end()

    fields, position = {}, head.end()
    while True:
        field = _FIELD.match(line, position)
        if field is None:
            raise RefusedLineError(f"bad field at {line[position : position + 30]!r}")
        fields[_KEY_ESCAPE.sub(r"\1", field.group(1))] = _value(field.group(2))
        position = field.end()
        if field.group(3) == " ":
            break
    stamp = _TIME.fullmatch(line, position)
    if stamp is None:
        raise RefusedLineError(f"bad timestamp {line[position:]!r}")
    return _KEY_ESCAPE.sub(r"\1", measurement.group()), tags, fields, int(stamp.group(1))


def _value(text: str):
    if text.startswith('"'):
        return _STRING_ESCAPE.sub(r"\1", text[1:-1])
    if _INTEGER.fullmatch(text):
        return int(text[:-1])
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    if _FLOAT.fullmatch(text):
        return float(text)
    raise RefusedLineError(f"invalid value {text!r}")


# Comparing -------------------------------------------------------------------------------


def expected_points(frame: pd.DataFrame) -> dict[int, tuple[dict, dict]]:
    """The tags and fields each row stands for, by nanosecond timestamp."""
    columns = {}
    for name in frame.columns:
        values = frame[name].astype(object)
        columns[name] = values.where(values.notna(), None).tolist()
    points = {}
    for row, stamp in enumerate(frame.index.asi8.tolist()):
        tags = {t: columns[t][row] for t in TAGS if columns[t][row] is not None}
        fields = {
            name: int(v) if name == "rental_duration" else v
            for name in frame.columns
            if name not in TAGS and (v := columns[name][row]) is not None
        }
        points[stamp] = (tags, fields)
    return points


def differences(lines: list[str], expected: dict) -> Counter:
    """How the parsed lines differ from the expected points, with one example of each."""
    found: Counter = Counter()
    examples: dict[str, str] = {}
    seen, right = set(), 0

    def note(kind: str, line: str) -> None:
        found[kind] += 1
        examples.setdefault(kind, line)

    for line in lines:
        try:
            measurement, tags, fields, stamp = parse_line(line)
        except RefusedLineError as exc:
            note(f"line the server refuses ({str(exc).split(' at ')[0]})", line)
            continue
        if stamp not in expected:
            note("point at a time no row has", line)
            continue
        seen.add(stamp)
        want_tags, want_fields = expected[stamp]
        same = measurement == "events" and tags == want_tags and fields == want_fields
        if same and all(type(fields[n]) is type(want_fields[n]) for n in fields):
            right += 1
            continue
        if measurement != "events":
            note("wrong measurement", line)
        for name in sorted(set(want_tags) | set(tags)):
            if tags.get(name) != want_tags.get(name):
                note(f"tag {name} differs", line)
        for name in sorted(set(want_fields) | set(fields)):
            got, want = fields.get(name), want_fields.get(name)
            if got is None or want is None:
                note(f"field {name} {'missing' if got is None else 'not in the frame'}", line)
            elif type(got) is not type(want):
                note(f"field {name} stored as {type(got).__name__}", line)
            elif got != want:
                note(f"field {name} value differs", line)
    missing = len(set(expected) - seen)
    if missing:
        found["rows without a line"] = missing
    found.examples = examples
    found.wrong = len(expected) - right  # rows not stored exactly as the frame says
    return found


# Running ---------------------------------------------------------------------------------


def timed(function, *args, **kwargs):
    """The result, the wall-clock seconds and the CPU seconds of one call.

    CPU seconds are shown too because a shared machine stretches wall-clock
    time by however busy it is; the ratio is taken on wall-clock time.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the frame")
    parser.add_argument("--seed", type=int, default=7, help="seed of the frame")
    parser.add_argument(
        "--tag-gaps",
        type=float,
        default=0.0,
        help="share of rows whose location tag is missing (default 0)",
    )
    args = parser.parse_args()

    frame = make_frame(args.rows, args.seed, args.tag_gaps)
    print(f"frame: {len(frame):,} rows, {frame.memory_usage(deep=True).sum() / 1e6:,.0f} MB")

    valid, *validating = timed(jy.validate, frame, layout=LAYOUT)
    ours, *writing = timed(jy.to_lines, valid, LAYOUT)
    serializer, *preparing = timed(
        DataframeSerializer,
        frame,
        PointSettings(),
        precision="ns",
        data_frame_measurement_name="events",
        data_frame_tag_columns=list(TAGS),
    )
    theirs, *serialising = timed(serializer.serialize)

    print("checking both outputs against the frame, point by point...")
    expected = expected_points(frame)
    our_differences = differences(ours, expected)
    their_differences = differences(theirs, expected)

    rows = [
        ("journeys validate + to_lines", np.add(validating, writing), ours, our_differences),
        ("  of which to_lines", writing, ours, None),
        ("influxdb-client DataframeSerializer", np.add(preparing, serialising), theirs,
         their_differences),
    ]  # fmt: skip
    print(f"\n{'':36}{'seconds':>9}{'CPU s':>9}{'rows/s':>12}{'lines':>12}{'wrong rows':>12}")
    for label, (wall, cpu), lines, found in rows:
        wrong = f"{found.wrong:>12,}" if found is not None else ""
        speed = f"{len(frame) / wall:>12,.0f}{len(lines):>12,}"
        print(f"{label:36}{wall:>9.2f}{cpu:>9.2f}{speed}{wrong}")
    ours_wall, theirs_wall = rows[0][1][0], rows[2][1][0]
    print(
        f"\njourneys is {theirs_wall / ours_wall:.1f} times as fast "
        f"({theirs_wall / writing[0]:.1f} times counting to_lines alone; "
        f"{rows[2][1][1] / rows[0][1][1]:.1f} times in CPU time)"
    )

    for name, found in (("influxdb-client", their_differences), ("journeys", our_differences)):
        if not found:
            print(f"\n{name}: every point as the frame says")
            continue
        print(f"\n{name}: differences from the frame")
        for kind, count in found.most_common():
            example = found.examples.get(kind, "")
            print(f"  {count:>10,}  {kind}")
            if example:
                print(f"              e.g. {example[:150]!r}")
    if our_differences or our_differences.wrong:
        raise SystemExit("journeys wrote points that differ from the frame")


if __name__ == "__main__":
    main()
