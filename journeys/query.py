"""Reading events back from InfluxDB as typed frames.

:func:`query_events` asks for the events of a time range with InfluxQL
(``SELECT ... FROM events WHERE time >= start AND time < stop ...``), streams
the answer in chunks with nanosecond epochs, and returns a frame in the form
:func:`journeys.validate` produces: indexed by UTC time, with every schema
column in schema order and its nullable dtype, whichever layout the events
were written in. A frame written and read back compares equal.

How a read goes:

1. ``SHOW TAG KEYS`` and ``SHOW FIELD KEYS`` say what the measurement holds.
   A database or measurement that does not exist yet holds nothing, and gives
   an empty frame with the right columns and dtypes. Only the fields that are
   stored are selected, each with the schema's type (see :func:`select_clause`).
2. The range is read in one query, or cut into time slices (``slice="1D"``)
   so that no single answer grows without bound; ``workers`` slices are asked
   for side by side, which helps where the server is the bottleneck. Slices
   are half-open and every point falls in exactly one, so the joined slices
   equal the one-query result, row for row.
3. :mod:`journeys.decode` turns each answer into typed columns, column by
   column, and those into the frame.

``columns=[...]`` reads only some columns. InfluxQL returns a point only when
at least one of the *fields* it selects holds a value, and tags do not count:
so a selection of columns leaves out the events none of whose selected
fields holds a value. Every stored event has at least one field (the writer
adds ``no_fields=true`` to an event that has none of its own), but no single
field is on every event, so ``all_events=True`` keeps every event by selecting
every stored field as an anchor; the anchors travel but are not decoded. A
selection of tags only does that by itself, since it would return nothing
otherwise. For a funnel, ``columns=["event_type", "user_id", ...]`` returns
every event that has a user, which is every event a funnel can use. Which
events come back does not depend on the stored layout: where ``user_id`` is a
tag (the published layout), every event is asked for, and those without a
value in the selected columns are dropped after reading.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
from requests import RequestException

from journeys.client import quote_identifier, quote_string
from journeys.decode import AS_FLOAT, ColumnBuilder, empty_frame, events_frame, stream_results
from journeys.errors import SchemaError, ServerError, StoredTypeWarning
from journeys.schema import (
    COLUMNS,
    LAYOUTS,
    MAX_TIME,
    MEASUREMENT,
    MIN_TIME,
    NO_FIELDS_FIELD,
    column,
)

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = [
    "Stored",
    "build_query",
    "duration_ns",
    "filter_conditions",
    "query_events",
    "read_frame",
    "select_clause",
    "stored_bounds",
    "stored_keys",
    "time_conditions",
    "time_range",
    "time_slices",
    "to_timestamp",
]

logger = logging.getLogger(__name__)

_SCHEMA_NAMES = [c.name for c in COLUMNS]
_DEFAULT_FIELDS = frozenset(LAYOUTS["default"].fields)

#: Most slices read side by side: the connection keeps four HTTP connections.
MAX_WORKERS = 4

#: How often a query (each slice) is sent when its answer breaks off midway.
READ_ATTEMPTS = 3


def to_timestamp(value) -> pd.Timestamp:
    """A UTC timestamp from a string, datetime or Timestamp; naive ones are UTC.

    Examples
    --------
    >>> to_timestamp("2024-05-01")
    Timestamp('2024-05-01 00:00:00+0000', tz='UTC')
    """
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise ValueError(
            f"{value!r} is not a time: give ISO 8601, such as 2024-05-01 or "
            "2024-05-01T12:00:00Z (times without an offset are UTC)"
        )
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.as_unit("ns")


@dataclass(frozen=True)
class Stored:
    """What a measurement holds: its tag keys, and its field keys with their types.

    Attributes
    ----------
    exists : bool
        False when the database does not exist.
    tags : frozenset of str
        The tag keys.
    fields : dict of str to frozenset of str
        Each field key with the types it is stored with (one per shard at
        most; two when another writer used another type in some shard).
    """

    exists: bool = False
    tags: frozenset[str] = frozenset()
    fields: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def layout(self) -> str | None:
        """``"published"`` when the ids are tags, ``"default"`` when fields, else None."""
        ids = {"user_id", "content_id"}
        if ids & self.tags:
            return "published"
        return "default" if ids & set(self.fields) else None


def stored_keys(client: InfluxDB, measurement: str = MEASUREMENT) -> Stored:
    """The tag and field keys of a measurement; nothing for a missing database."""
    name = quote_identifier(measurement)
    try:
        tags = client.influxql(f"SHOW TAG KEYS FROM {name}")
        fields = client.influxql(f"SHOW FIELD KEYS FROM {name}")
    except ServerError as exc:
        if "database not found" in exc.message:
            return Stored()
        raise

    kinds: dict[str, set[str]] = {}
    for key, kind in _rows(fields):
        kinds.setdefault(key, set()).add(kind)
    return Stored(
        exists=True,
        tags=frozenset(row[0] for row in _rows(tags)),
        fields={key: frozenset(k) for key, k in kinds.items()},
    )


def _rows(results: list[dict]) -> list[list]:
    return [row for s in results[0].get("series", []) for row in s["values"]]


def query_events(
    client: InfluxDB,
    start=None,
    stop=None,
    *,
    event_types: str | Iterable[str] | None = None,
    where: Mapping[str, str | Iterable[str]] | None = None,
    columns: Sequence[str] | None = None,
    all_events: bool = False,
    slice: str | pd.Timedelta | None = None,  # noqa: A002 - the name users look for
    workers: int = 1,
    measurement: str = MEASUREMENT,
    tags_as: str = "string",
    chunk_size: int = 20_000,
) -> pd.DataFrame:
    """Read the events from ``start`` (included) to ``stop`` (excluded).

    Parameters
    ----------
    client : InfluxDB
        The connection.
    start, stop : str, datetime or Timestamp, optional
        The time range; naive times are UTC. Open-ended when left out.
    event_types : str or list of str, optional
        Keep only these event types.
    where : dict, optional
        Keep only events whose column holds the value, or one of the values:
        ``{"device_type": "mobile", "location": ["Austin", "Boston"]}``. Any
        string column of the schema may be named; tags filter fastest.
    columns : list of str, optional
        Read only these columns of the schema (all when left out): less to
        send and to decode. Only the events holding one of the selected
        columns that the default layout keeps as fields come back (all of
        them when none is selected), whichever the stored layout, unless
        ``all_events`` is given (see the module documentation);
        ``["event_type", "user_id"]`` returns every event with a user.
    all_events : bool
        With ``columns``, keep every event of the range, at the price of
        sending every stored field (only the selected ones are decoded).
    slice : str or Timedelta, optional
        Read the range in slices of this length (``"1D"``, ``"6h"``), aligned
        to multiples of it since the epoch, so that no single answer grows
        without bound. The result is the same as without.
    workers : int
        Slices read side by side, 1 to 4.
    measurement : str
        Where the events are stored.
    tags_as : {"string", "category"}
        The dtype of the tag-like columns ``event_type``, ``device_type``,
        ``location`` and ``referral_source``.
    chunk_size : int
        Points per chunk of the streamed answer.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``time`` (``datetime64[ns, UTC]``), sorted by time, with the
        schema's columns (or ``columns``) and dtypes (NA where a value is
        missing), then any tags the measurement holds beyond the schema. Empty,
        with those columns, when nothing is stored (also when the database or
        the measurement does not exist yet).

    Examples
    --------
    >>> events = db.query("2024-05-01", "2024-05-08", event_types="transaction",
    ...                   where={"device_type": "mobile"})  # doctest: +SKIP
    >>> funnel_input = db.query("2024-05-01", "2024-06-01",
    ...                         columns=["event_type", "user_id"], slice="1D")  # doctest: +SKIP
    """
    if tags_as not in ("string", "category"):
        raise ValueError(f"tags_as must be 'string' or 'category', not {tags_as!r}")
    wanted = _check_columns(columns)
    if not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise ValueError(
            f"workers must be a whole number from 1 to {MAX_WORKERS}, not {workers!r}: "
            f"the connection keeps {MAX_WORKERS} HTTP connections"
        )
    step = None if slice is None else duration_ns(slice, name="slice")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive whole number, not {chunk_size!r}")
    conditions = filter_conditions(event_types=event_types, where=where)
    low, high = time_range(start, stop)

    stored = stored_keys(client, measurement)
    if not stored.fields:
        logger.info("measurement %s holds nothing: empty frame", measurement)
        return empty_frame(wanted, tags_as=tags_as)
    _warn_foreign_types(stored, measurement)
    select, skip, holding = _selection(stored, wanted, all_events)

    ranges = [(low, high)]
    if step is not None:
        ranges = time_slices(low, high, step, spans=stored_bounds(client))
    statements = [
        f"{select} FROM {quote_identifier(measurement)} "
        f"WHERE {' AND '.join([*time_conditions(a, b), *conditions])}"
        for a, b in ranges
    ]
    logger.info("reading %s in %d slice(s), %d side by side", measurement, len(ranges), workers)

    builder = _read_all(client, statements, skip=skip, chunk_size=chunk_size, workers=workers)
    logger.info("read %d events from %s", builder.rows, measurement)
    frame = events_frame(builder, columns=wanted, tags_as=tags_as, stacklevel=3)
    if holding:
        frame = frame[frame[holding].notna().any(axis=1).to_numpy()]
    return frame


def _check_columns(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    names = [columns] if isinstance(columns, str) else list(columns)
    unknown = [n for n in names if n not in _SCHEMA_NAMES]
    if unknown or not names:
        raise SchemaError(
            f"cannot read the column(s) {unknown or names!r}: choose columns of the schema "
            f"({', '.join(_SCHEMA_NAMES)}); the time is always the index"
        )
    return [n for n in _SCHEMA_NAMES if n in names]


def duration_ns(value, *, name: str) -> int:
    """A positive length of time (``"1D"``, ``"6h"``, a Timedelta) in nanoseconds."""
    try:
        length = pd.Timedelta(value)
    except (ValueError, TypeError):
        length = pd.NaT
    if length is pd.NaT or length <= pd.Timedelta(0):
        raise ValueError(
            f"{name} must be a positive length of time such as '1D', '6h', '15min' or "
            f"pd.Timedelta(hours=6), not {value!r}"
        )
    return length.value


def time_range(start, stop) -> tuple[int, int]:
    """The range as nanoseconds, ``low`` included and ``high`` excluded."""
    low = MIN_TIME if start is None else to_timestamp(start).value
    high = MAX_TIME + 1 if stop is None else to_timestamp(stop).value
    if high < low:
        # A swapped pair would read nothing and look like an empty database.
        raise ValueError(
            f"stop {stop!r} is before start {start!r}: "
            "give the earlier time as start (included) and the later as stop (excluded)"
        )
    return low, high


def time_conditions(low: int, high: int) -> list[str]:
    # MAX_TIME + 1 is the largest int64, which InfluxQL reads as a literal all the same.
    return [f"time >= {low}", f"time < {high}"]


def time_slices(
    low: int, high: int, step: int, *, spans: Sequence[tuple[int, int]] | None = None
) -> list[tuple[int, int]]:
    """Half-open ranges ``[a, b)`` of at most ``step`` ns that tile ``[low, high)``.

    Cuts fall on multiples of ``step`` since the epoch (midnight UTC for
    ``"1D"``). ``spans``, the ranges in which anything is stored at all, keeps
    the slices to them, so that an open range costs no empty queries.

    Examples
    --------
    >>> time_slices(0, 25, 10)
    [(0, 10), (10, 20), (20, 25)]
    """
    slices = []
    for a, b in [(low, high)] if spans is None else spans:
        a, b = max(low, a), min(high, b)
        if a < b:
            cuts = range((a // step + 1) * step, b, step)
            edges = [a, *cuts, b]
            slices += list(zip(edges[:-1], edges[1:], strict=True))
    return slices or [(low, low)]


def stored_bounds(client: InfluxDB) -> list[tuple[int, int]] | None:
    """The ranges of time the database stores anything in, from its shard groups.

    None when the server does not list them (a user without admin rights).
    """
    try:
        shards = client.influxql("SHOW SHARDS")
    except ServerError as exc:
        logger.info("cannot list the shards (%s): slicing the whole range", exc)
        return None
    # The times are shown to the second, and the last shard group InfluxDB can make
    # ends within the second after the end shown: so a second more on either side.
    second = 1_000_000_000
    spans = sorted(
        (max(MIN_TIME, _ns(row[4]) - second), min(MAX_TIME + 1, _ns(row[5]) + second))
        for s in shards[0].get("series", [])
        if s.get("name") == client.database
        for row in s["values"]
    )
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _ns(text: str) -> int:
    """An RFC 3339 time of a shard as nanoseconds, clamped to what InfluxDB stores."""
    try:
        return to_timestamp(text).value
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return MIN_TIME if text.startswith("1") else MAX_TIME + 1


def _read_all(
    client: InfluxDB, statements: list[str], *, skip, chunk_size: int, workers: int
) -> ColumnBuilder:
    """The columns of all statements' answers, joined in the order of the statements."""

    def read(statement: str) -> ColumnBuilder:
        attempt = 1
        while True:
            builder = ColumnBuilder(skip=skip)
            answer = stream_results(client, statement, chunk_size=chunk_size)
            try:
                return builder.add_results(answer)
            except ServerError as exc:
                # Only an answer that broke off is worth asking for again; what was
                # read of it is dropped, so no event comes twice.
                broke_off = isinstance(exc.__cause__, RequestException)
                if not broke_off or attempt == READ_ATTEMPTS:
                    raise
                logger.info("the answer broke off after %d events (%s): again", builder.rows, exc)
                attempt += 1

    if len(statements) == 1 or workers == 1:
        parts = [read(s) for s in statements]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="journeys-read") as pool:
            parts = list(pool.map(read, statements))
    return ColumnBuilder.joined(parts, skip=skip)


def _warn_foreign_types(stored: Stored, measurement: str) -> None:
    """Warn when a schema field is also stored with another type, which is not read."""
    foreign = sorted(
        f"{name} as {kind}"
        for name, kinds in stored.fields.items()
        for kind in kinds
        if name in _SCHEMA_NAMES and kind != column(name).kind
    )
    if foreign:
        warnings.warn(
            f"InfluxDB also holds {', '.join(foreign)} in measurement {measurement}, "
            "written by another writer: numbers that convert without loss are read, the "
            f"other values are not. See them with db.influxql('SELECT ... FROM {measurement}')",
            StoredTypeWarning,
            stacklevel=4,
        )


def _selection(
    stored: Stored, columns: list[str] | None, all_events: bool
) -> tuple[str, frozenset[str], list[str]]:
    """The ``SELECT`` clause of a read, the columns of its answer not to decode, and
    the columns of which a returned event must hold one (none: every event returns).

    Which events a selection returns must not depend on the layout: it is the
    events holding one of the selected columns that the default layout keeps
    as fields. Where the stored layout keeps one of those as a tag (user_id in
    the published layout), the server cannot tell, so every event is asked for
    and the others are dropped after reading.
    """
    if columns is None:
        return select_clause(stored.fields), frozenset({NO_FIELDS_FIELD}), []

    parts, fields = [], []
    for name in columns:
        if name in stored.tags:
            parts.append(f"{quote_identifier(name)}::tag")
        if name in stored.fields:
            fields.append(name)
    parts += _field_parts(fields, stored.fields)

    holding = [] if all_events else [n for n in columns if n in _DEFAULT_FIELDS]
    tagged = [n for n in holding if n in stored.tags]
    # Every stored event has one of the schema's fields or no_fields (see above).
    anchors = [n for n in _SCHEMA_NAMES if n in stored.fields and n not in fields]
    if all_events or not fields or tagged:
        parts += [f"{quote_identifier(n)}::{column(n).kind}" for n in anchors]
        if NO_FIELDS_FIELD in stored.fields:
            parts.append(f"{quote_identifier(NO_FIELDS_FIELD)}::boolean")
    skip = frozenset(anchors) | {NO_FIELDS_FIELD}
    return "SELECT " + ", ".join(parts), skip, holding if tagged else []


def _field_parts(names: Iterable[str], stored: Mapping[str, frozenset[str]] | None) -> list[str]:
    """Each schema field with its type, and integers also as floats where stored so."""
    parts = []
    for name in names:
        col = column(name)
        parts.append(f"{quote_identifier(name)}::{col.kind}")
        if col.kind == "integer" and (stored is None or "float" in stored.get(name, ())):
            alias = quote_identifier(name + AS_FLOAT)
            parts.append(f"{quote_identifier(name)}::float AS {alias}")
    return parts


def read_frame(
    client: InfluxDB,
    statement: str,
    *,
    tags_as: str = "string",
    chunk_size: int = 20_000,
    keep_sequence: bool = False,
    warn=warnings.warn,
) -> pd.DataFrame:
    """Run a ``SELECT`` of events and return its points as an events frame.

    With ``keep_sequence`` the sequence tag that keeps tied events apart is
    kept as a column, for the writer to see which numbers are taken. ``warn``
    is called for the warnings about foreign values, as ``warnings.warn`` is
    (see :func:`journeys.decode.events_frame`).
    """
    builder = ColumnBuilder().add_results(stream_results(client, statement, chunk_size=chunk_size))
    return events_frame(
        builder, tags_as=tags_as, keep_sequence=keep_sequence, stacklevel=3, warn=warn
    )


def filter_conditions(
    *,
    event_types: str | Iterable[str] | None = None,
    where: Mapping[str, str | Iterable[str]] | None = None,
) -> list[str]:
    """The InfluxQL conditions of the ``event_types`` and ``where`` filters."""
    filters = dict(where or {})
    if event_types is not None:
        filters["event_type"] = event_types

    conditions = []
    for name, values in filters.items():
        if name not in _SCHEMA_NAMES or column(name).kind != "string":
            raise SchemaError(
                f"cannot filter on {name!r}: choose a string column of the schema "
                f"({', '.join(c.name for c in COLUMNS if c.kind == 'string')})"
            )
        values = [values] if isinstance(values, str) else list(values)
        if not values:
            raise ValueError(f"no values given to filter {name!r} on")
        conditions.append(_any_of(name, values))
    return conditions


#: Beyond this many values a filter is one regular expression instead of ORs.
_MOST_ORS = 20


def _any_of(name: str, values: list[str]) -> str:
    """The condition that a column holds one of the values.

    InfluxDB 1.x takes time more than quadratic in the number of ``OR`` terms
    to plan a statement (500 terms took 8 s, 1,000 took 38 s), but matches one
    anchored regular expression of any length at once; so long lists of plain
    values become ``"x" =~ /^(?:a|b|...)$/``. In Go's syntax ``$`` is the end
    of the text only, so the match is exact.
    """
    plain = all(isinstance(v, str) and not set(v) & {"\n", "\r", "\x00"} for v in values)
    if len(values) > _MOST_ORS and plain:
        either = "|".join(re.escape(v).replace("/", "\\/") for v in values)
        return f"{quote_identifier(name)} =~ /^(?:{either})$/"
    either = " OR ".join(f"{quote_identifier(name)} = {quote_string(v)}" for v in values)
    return f"({either})"


def build_query(
    start=None,
    stop=None,
    *,
    event_types: str | Iterable[str] | None = None,
    where: Mapping[str, str | Iterable[str]] | None = None,
    measurement: str = MEASUREMENT,
) -> str:
    """One InfluxQL statement for the events of a range, selecting every schema field.

    :func:`query_events` sends this, but selects only the fields the
    measurement stores.

    # Limitation: in a database holding both layouts (written before layouts
    # were checked), a filter on user_id or content_id matches only the events
    # where it is a field; testing both the tag and the field would fix it.
    """
    low, high = time_range(start, stop)
    conditions = time_conditions(low, high)
    conditions += filter_conditions(event_types=event_types, where=where)
    return (
        f"{select_clause()} FROM {quote_identifier(measurement)} WHERE {' AND '.join(conditions)}"
    )


def select_clause(stored: Mapping[str, frozenset[str]] | None = None) -> str:
    """``SELECT`` every tag, and every field of the schema with the type it must have.

    Naming each field with its type (``"page_url"::string``) matters: when
    another writer stored a field with another type in some shard, InfluxDB 1.x
    answers a plain ``SELECT *`` over both shards with NA for every value of
    that field, in all shards. Points whose fields are all of a foreign type are
    not returned.

    Between integers and floats InfluxDB converts instead, cutting 2.9 to 2. So
    an integer field is also asked for as a float (``"x"::float AS "x__float"``),
    and a value whose two forms differ is known to be a foreign float.

    Parameters
    ----------
    stored : dict of str to set of str, optional
        The stored field keys and their types (:attr:`Stored.fields`). When
        given, only the stored fields are selected, and integers as floats
        only where some shard stores them so: every column less is less to
        send and to decode.
    """
    names = [c.name for c in COLUMNS if c.name != "event_type"]
    if stored is not None:
        names = [n for n in names if n in stored]
    parts = _field_parts(names, stored)
    if stored is None or NO_FIELDS_FIELD in stored:
        parts.append(f"{quote_identifier(NO_FIELDS_FIELD)}::boolean")
    return "SELECT " + ", ".join(["*::tag", *parts])
