"""Keeping tied events apart from the points already stored.

InfluxDB keeps one point per series and nanosecond: a second event with the
same tags and time would overwrite the first. Within one frame the writer
numbers such events with a sequence tag (:func:`journeys.lineprotocol.
sequence_numbers`); this module extends that to the events already stored.
Before a write it reads the points stored at the frame's times and

- recognises an event stored before (same series, time and fields) and gives
  it the number it has, so that it replaces itself;
- gives any other tied event the lowest number no stored point uses.

It also refuses to mix the two layouts in one database, which would make
every event written again a second point in the other layout's series.
"""

# Limitation: two writes of the same events into one database at the same time can
# store a few twice: one may read a point the other has stored only in part (some of
# its fields) and, not recognising it, give its own copy a new number. A lock per
# database and time range (InfluxDB has none) or a content hash as the sequence tag
# would remove this; one write after the other stores each event once.

from __future__ import annotations

import itertools
import logging
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.client import quote_identifier
from journeys.errors import SchemaError, ServerError, WriteError
from journeys.lineprotocol import _tag_problems, compose, field_sets, series_keys
from journeys.query import read_frame, select_clause
from journeys.schema import SEQUENCE_TAG, Layout

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = [
    "check_layout",
    "number_against_stored",
    "renumber_lines",
    "safe_sequence",
    "stored_span",
]

logger = logging.getLogger(__name__)


_LINE = re.compile(
    r"""((?:[^ \\]|\\.)+) ((?:"(?:[^"\\]|\\.)*"|[^ "\\]|\\.)+) (-?\d+)""", re.DOTALL
)
_SEQUENCE = re.compile(rf",{SEQUENCE_TAG}=(\d+)$")


def renumber_lines(client: InfluxDB, layout: Layout, lines: list[str]) -> list[str]:
    """Lines of one layout with their sequence tags made safe against the stored points."""
    parts = [_LINE.fullmatch(line) for line in lines]
    if any(p is None for p in parts):
        bad = next(i for i, p in enumerate(parts) if p is None)
        raise WriteError(
            f"line {bad + 1} is not line protocol with a timestamp: {lines[bad][:80]!r}"
        )
    heads = [p.group(1) for p in parts]
    sequence = np.array([int(m.group(1)) if (m := _SEQUENCE.search(h)) else 0 for h in heads])
    keys = np.array([_SEQUENCE.sub("", h) for h in heads], dtype=object)
    fields = np.array([p.group(2) for p in parts], dtype=object)
    times = np.array([int(p.group(3)) for p in parts], dtype="int64")
    sequence = safe_sequence(client, layout, keys, times, fields, sequence)
    return compose(keys, sequence, fields, times)


def safe_sequence(
    client: InfluxDB,
    layout: Layout,
    keys: np.ndarray,
    times: np.ndarray,
    fields: np.ndarray,
    sequence: np.ndarray,
    *,
    layout_checked: bool = False,
) -> np.ndarray:
    """Check the layout (unless done already), then number the events against the
    stored points.

    When the server cannot be reached, the numbers within the frame are kept:
    the write will then be spooled, and the replay numbers it again.
    """
    try:
        if not layout_checked:
            check_layout(client, layout)
        return number_against_stored(client, layout, keys, times, fields, sequence)
    except ServerError as exc:
        if exc.status is not None:
            raise
        logger.info("could not read the stored points before writing: %s", exc)
        return sequence


def check_layout(client: InfluxDB, layout: Layout) -> None:
    """Refuse to write a layout into a measurement that holds the other one."""
    measurement = quote_identifier(layout.measurement)
    try:
        tags = _keys(client.influxql(f"SHOW TAG KEYS FROM {measurement}"))
        fields = _keys(client.influxql(f"SHOW FIELD KEYS FROM {measurement}"))
    except ServerError as exc:
        if "database not found" in exc.message:
            return
        raise

    ids = {"user_id", "content_id"}
    if ids & tags and ids & fields:
        raise SchemaError(
            f"database {client.database} holds events in both layouts already (user_id or "
            "content_id both as tags and as fields): write into another database, since "
            "writing either layout here would keep a second copy of events written again"
        )
    stored = "published" if ids & tags else "default" if ids & fields else None
    wanted = "published" if ids & set(layout.tags) else "default"
    if stored is not None and stored != wanted:
        raise SchemaError(
            f"database {client.database} already holds events in the {stored!r} layout: "
            f"write with layout={stored!r} (--layout {stored}), or into another database. "
            "Mixing the layouts would keep a second copy of every event written again"
        )


def _keys(results: list[dict]) -> set[str]:
    return {row[0] for s in results[0].get("series", []) for row in s["values"]}


def number_against_stored(
    client: InfluxDB,
    layout: Layout,
    keys: np.ndarray,
    times: np.ndarray,
    fields: np.ndarray,
    sequence: np.ndarray,
) -> np.ndarray:
    """Sequence numbers that neither overwrite a stored event nor store one twice.

    An event whose series key and time match a stored point with the same
    fields is that point: it keeps its number. Any other event tied with
    stored points takes the lowest number that none of them uses.
    """
    stored = _stored_points(client, layout, times)
    if not len(stored):
        return sequence

    # The common case, an event stored before under the same number, is settled
    # by one merge; only what is left is numbered one tie at a time.
    new = pd.DataFrame({"key": keys, "time": times, "fields": fields, "seq": sequence})
    new = new.reset_index(names="row")
    same = new.merge(stored, on=["key", "time", "fields", "seq"])
    open_new = new[~new["row"].isin(same["row"])]
    claimed = (
        stored.merge(
            same[["key", "time", "seq"]], on=["key", "time", "seq"], how="left", indicator=True
        )["_merge"]
        .eq("both")
        .to_numpy()
    )
    tied = open_new.merge(stored[["key", "time"]].drop_duplicates(), on=["key", "time"])
    if not len(tied):
        return sequence

    relevant = stored.merge(tied[["key", "time"]].drop_duplicates(), on=["key", "time"])
    relevant_claimed = stored[claimed].merge(
        tied[["key", "time"]].drop_duplicates(), on=["key", "time"]
    )
    points = {k: g for k, g in relevant.groupby(["key", "time"])}
    taken_by_same = {k: set(g["seq"]) for k, g in relevant_claimed.groupby(["key", "time"])}

    numbered = sequence.copy()
    for (key, time_), group in tied.sort_values("seq").groupby(["key", "time"], sort=False):
        stored_here = points[(key, time_)]
        used = set(stored_here["seq"])
        reusable: dict[str, list[int]] = {}
        for seq, text in zip(stored_here["seq"], stored_here["fields"], strict=True):
            if seq not in taken_by_same.get((key, time_), ()):
                reusable.setdefault(text, []).append(int(seq))
        free = (n for n in itertools.count() if n not in used)
        for row, text in zip(group["row"], group["fields"], strict=True):
            numbered[row] = reusable[text].pop(0) if reusable.get(text) else next(free)
    logger.info("%d events share a series and time with other stored points", len(tied))
    return numbered


def _drop(*args, **kwargs) -> None:
    """A ``warnings.warn`` that drops the warning (a StoredTypeWarning, here)."""


def _stored_points(client: InfluxDB, layout: Layout, times: np.ndarray) -> pd.DataFrame:
    """Key, time, sequence number and field text of the points stored at ``times``."""
    # Limitation: all stored points of the ranges are held at once, so rewriting
    # millions of events holds them in memory; comparing range by range would not.
    empty = pd.DataFrame(columns=["key", "time", "seq", "fields"])
    if not len(times) or not _any_stored(client, layout, int(times.min()), int(times.max())):
        return empty
    frames = []
    for low, high in _time_ranges(times):
        statement = (
            f"{select_clause()} FROM {quote_identifier(layout.measurement)} "
            f"WHERE time >= {low} AND time <= {high}"
        )
        try:
            # Foreign values are dropped, not caught: warnings.catch_warnings would
            # change the filters of the whole process from a writer's thread.
            frames.append(read_frame(client, statement, keep_sequence=True, warn=_drop))
        except ServerError as exc:
            if "database not found" in exc.message:
                return empty
            raise
    stored = pd.concat(frames) if frames else pd.DataFrame()
    if not len(stored):
        return empty

    # A stored tag this writer would refuse can never equal one of its own tags.
    fit = np.ones(len(stored), dtype=bool)
    for tag in layout.tags:
        fit &= (_tag_problems(stored[tag]) == "").to_numpy()
    stored = stored[fit]
    return pd.DataFrame(
        {
            "key": series_keys(stored, layout),
            "time": stored.index.asi8,
            "seq": stored[SEQUENCE_TAG].to_numpy(),
            "fields": field_sets(stored, layout),
        }
    )


def stored_span(client: InfluxDB, layout: Layout) -> tuple[int, int] | None:
    """The first and last time of the points stored in the layout's measurement.

    None when it holds none (or the database does not exist).
    """
    measurement = quote_identifier(layout.measurement)
    first = _first_time(client, f"SELECT * FROM {measurement} ORDER BY time ASC LIMIT 1")
    if first is None:
        return None
    last = _first_time(client, f"SELECT * FROM {measurement} ORDER BY time DESC LIMIT 1")
    return first, first if last is None else last


def _any_stored(client: InfluxDB, layout: Layout, low: int, high: int) -> bool:
    """Whether the measurement holds a point between ``low`` and ``high`` (one cheap query).

    Writing into an empty database or after the stored data, the common cases,
    then skips reading the stored points altogether.
    """
    statement = (
        f"SELECT * FROM {quote_identifier(layout.measurement)} "
        f"WHERE time >= {low} AND time <= {high} LIMIT 1"
    )
    return _first_time(client, statement) is not None


def _first_time(client: InfluxDB, statement: str) -> int | None:
    """The time of the first point a statement returns; None without one."""
    try:
        results = client.influxql(statement)
    except ServerError as exc:
        if "database not found" in exc.message:
            return None
        raise
    series = results[0].get("series") if results else None
    return int(series[0]["values"][0][0]) if series else None


def _time_ranges(times: np.ndarray, most: int = 50) -> list[tuple[int, int]]:
    """At most ``most`` closed ranges covering ``times``, split at the widest gaps."""
    unique = np.unique(times)
    if len(unique) <= 1:
        return [(int(unique[0]), int(unique[0]))] if len(unique) else []
    gaps = np.diff(unique)
    cuts = np.sort(np.argsort(gaps)[::-1][: most - 1])
    cuts = cuts[gaps[cuts] > 0]
    starts = np.concatenate([[0], cuts + 1])
    stops = np.concatenate([cuts, [len(unique) - 1]])
    return [(int(unique[a]), int(unique[b])) for a, b in zip(starts, stops, strict=True)]
