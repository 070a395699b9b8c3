"""Aggregates the server computes, so that only the answer travels.

:func:`count_events` counts events per time interval and per tag with
``SELECT count(...) ... GROUP BY time(...), tags``, and returns a tidy frame:
one row per interval and group, with columns ``time``, the tags, and
``count``.

Counting events exactly takes care. ``count(x)`` counts the points where the
field ``x`` holds a value, and no field is on every event: ``event_type`` is a
tag, and the writer adds ``no_fields=true`` only to an event that has no field
of its own. So the count runs over a subquery that selects ``event_type`` with
every stored field of the schema and ``no_fields``: each event has at least one
of them, so each comes out of the subquery once, carrying its ``event_type``,
which the outer query counts. That makes the server read every field; with
``field="user_id"`` it counts the events holding that field instead, from the
stored blocks' statistics, which is several times faster and exact whenever
every event has the field (every generated event has a ``user_id``).

InfluxQL groups by tags only. In the default layout ``user_id`` and
``content_id`` are fields, so counting per user or per movie is refused with
an error that says so; read ``columns=["user_id", ...]`` and group in pandas,
or store the events in the ``"published"`` layout, where they are tags.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.client import quote_identifier
from journeys.decode import stream_results
from journeys.errors import SchemaError
from journeys.query import (
    duration_ns,
    filter_conditions,
    stored_bounds,
    stored_keys,
    time_conditions,
    time_range,
)
from journeys.schema import COLUMNS, MEASUREMENT, NO_FIELDS_FIELD, SEQUENCE_TAG, column

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = ["count_events"]

logger = logging.getLogger(__name__)

_SCHEMA_NAMES = [c.name for c in COLUMNS]


def count_events(
    client: InfluxDB,
    start=None,
    stop=None,
    *,
    every: str | pd.Timedelta = "1h",
    by: str | Sequence[str] = (),
    event_types: str | Iterable[str] | None = None,
    where: Mapping[str, str | Iterable[str]] | None = None,
    field: str | None = None,
    zeros: bool = True,
    measurement: str = MEASUREMENT,
) -> pd.DataFrame:
    """Count events per interval and tag on the server.

    Parameters
    ----------
    client : InfluxDB
        The server to count on, and its database.
    start, stop : str, datetime or Timestamp, optional
        Count from ``start`` (included) to ``stop`` (excluded); naive times are
        UTC. Open ends stop at the first and last interval counting any.
    every : str or Timedelta
        The length of the intervals (``"1h"``, ``"15min"``, ``"1D"``); they
        start at multiples of it since the epoch, in UTC.
    by : str or list of str
        Tags to count per, such as ``["event_type", "device_type"]``.
    event_types, where
        Count only these events, as in :func:`journeys.query.query_events`.
    field : str, optional
        Count the events holding this field instead of all events: faster, and
        the same when every event has it (see the module documentation).
    zeros : bool
        Keep the intervals without events of a group, with count 0.
    measurement : str
        Where the events are stored.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (the start of the interval, ``datetime64[ns, UTC]``),
        the tags of ``by`` (``string``, NA where an event has no such tag) and
        ``count`` (``Int64``), sorted by time and tags. Empty, with those
        columns, when nothing is stored.

    Raises
    ------
    SchemaError
        When ``by`` names a column that is a field in the stored layout (or
        not stored at all), or ``field`` is not a field of the schema.

    Examples
    --------
    >>> hourly = jy.count_events(db, "2024-05-01", "2024-05-08", every="1h",
    ...                          by=["event_type", "device_type"])  # doctest: +SKIP
    """
    step = duration_ns(every, name="every")
    tags = [by] if isinstance(by, str) else list(by)
    conditions = filter_conditions(event_types=event_types, where=where)
    if field is not None and (field not in _SCHEMA_NAMES or field == "event_type"):
        raise SchemaError(
            f"cannot count the field {field!r}: choose a field of the schema "
            f"({', '.join(n for n in _SCHEMA_NAMES if n != 'event_type')})"
        )
    low, high = time_range(start, stop)

    stored = stored_keys(client, measurement)
    if not stored.fields:
        return _tidy([], tags)
    _check_groups(tags, stored, client.database)
    if start is None or stop is None:
        spans = stored_bounds(client)
        if spans:
            low, high = max(low, spans[0][0]), min(high, spans[-1][1])
    if low >= high:
        return _tidy([], tags)

    where_clause = " AND ".join([*time_conditions(low, high), *conditions])
    source = _source(stored.fields, field, measurement, where_clause)
    # The filters act inside the subquery; outside it only the columns it selects
    # exist, so a condition on another tag there would match nothing.
    outer_where = where_clause if field is not None else " AND ".join(time_conditions(low, high))
    counted = quote_identifier(field or "event_type")
    groups = ", ".join([f"time({step}ns)", *(quote_identifier(t) for t in tags)])
    statement = (
        f"SELECT count({counted}) AS count FROM {source} WHERE {outer_where} "
        f"GROUP BY {groups} fill({'0' if zeros else 'none'})"
    )

    series = []
    for result in stream_results(client, statement, chunk_size=10_000):
        series.extend(result.get("series", ()))
    frame = _tidy(series, tags)
    if zeros and (start is None or stop is None) and len(frame):
        frame = _trim(frame, start is None, stop is None)
    logger.info("counted %d intervals and groups in %s", len(frame), measurement)
    return frame


def _check_groups(tags: list[str], stored, database: str) -> None:
    """Refuse to group by anything that is not a stored tag, saying why."""
    for name in tags:
        if name in stored.tags and name != SEQUENCE_TAG:
            continue
        if name in stored.fields or name in ("user_id", "content_id"):
            raise SchemaError(
                f"cannot count by {name!r}: in the {stored.layout or 'default'!r} layout of "
                f"database {database}, {name} is a field, and InfluxQL groups by tags only. "
                f"Read it with db.query(..., columns=['event_type', {name!r}]) and group in "
                "pandas, or store the events with layout='published', where user_id and "
                "content_id are tags"
            )
        known = sorted(t for t in stored.tags if t != SEQUENCE_TAG)
        raise SchemaError(
            f"cannot count by {name!r}: database {database} holds no such tag; "
            f"its tags are {', '.join(known)}"
        )


def _source(fields, field: str | None, measurement: str, where_clause: str) -> str:
    """What to count over: the measurement, or a subquery yielding each event once."""
    name = quote_identifier(measurement)
    if field is not None:
        return name
    # Every stored event has one of these, so each comes out once (see the module doc).
    parts = ['"event_type"::tag']
    parts += [
        f"{quote_identifier(n)}::{column(n).kind}"
        for n in _SCHEMA_NAMES
        if n in fields and n != "event_type"
    ]
    if NO_FIELDS_FIELD in fields:
        parts.append(f"{quote_identifier(NO_FIELDS_FIELD)}::boolean")
    return f"(SELECT {', '.join(parts)} FROM {name} WHERE {where_clause})"


def _tidy(series: list, tags: list[str]) -> pd.DataFrame:
    """One row per interval and group from the series of a grouped count."""
    times, counts, labels = [], [], {t: [] for t in tags}
    for one in series:
        values = one.get("values") or ()
        group = one.get("tags") or {}
        times.extend(row[0] for row in values)
        counts.extend(row[1] for row in values)
        for tag in tags:
            labels[tag].extend([group.get(tag) or None] * len(values))

    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(np.array(times, dtype=np.int64), unit="ns", utc=True),
            **{t: pd.array(labels[t], dtype=pd.StringDtype()) for t in tags},
            "count": pd.array(np.array(counts, dtype=np.int64), dtype="Int64"),
        }
    )
    return frame.sort_values(["time", *tags], kind="stable", ignore_index=True)


def _trim(frame: pd.DataFrame, head: bool, tail: bool) -> pd.DataFrame:
    """Without the empty intervals before the first and after the last event."""
    busy = frame.loc[frame["count"] > 0, "time"]
    if busy.empty:
        return frame.iloc[:0]
    keep = np.ones(len(frame), dtype=bool)
    if head:
        keep &= (frame["time"] >= busy.min()).to_numpy()
    if tail:
        keep &= (frame["time"] <= busy.max()).to_numpy()
    return frame[keep].reset_index(drop=True)
