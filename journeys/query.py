"""Reading events back from InfluxDB as typed frames.

:func:`query_events` asks for the events of a time range with InfluxQL
(``SELECT * FROM events WHERE time >= start AND time < stop ...``), streams the
answer in chunks with nanosecond epochs, and returns a frame in the form
:func:`journeys.validate` produces: indexed by UTC time, with every schema
column in schema order and its nullable dtype, whichever layout the events
were written in. A frame written and read back compares equal.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.client import quote_identifier, quote_string
from journeys.errors import SchemaError, ServerError, StoredTypeWarning
from journeys.schema import (
    COLUMNS,
    MAX_TIME,
    MEASUREMENT,
    MIN_TIME,
    NO_FIELDS_FIELD,
    SEQUENCE_TAG,
    Column,
    column,
)

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = ["build_query", "query_events", "read_frame", "to_timestamp"]

_SCHEMA_NAMES = [c.name for c in COLUMNS]
_AS_FLOAT = "__float"
_INTERNAL = (SEQUENCE_TAG, NO_FIELDS_FIELD)


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


def query_events(
    client: InfluxDB,
    start=None,
    stop=None,
    *,
    event_types: str | Iterable[str] | None = None,
    where: Mapping[str, str | Iterable[str]] | None = None,
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
        schema's columns and dtypes (NA where a value is missing), then any
        columns the measurement holds beyond the schema.

    Examples
    --------
    >>> events = db.query("2024-05-01", "2024-05-08", event_types="transaction",
    ...                   where={"device_type": "mobile"})  # doctest: +SKIP
    """
    if tags_as not in ("string", "category"):
        raise ValueError(f"tags_as must be 'string' or 'category', not {tags_as!r}")
    statement = build_query(
        start, stop, event_types=event_types, where=where, measurement=measurement
    )

    _warn_foreign_types(client, measurement)
    return read_frame(client, statement, tags_as=tags_as, chunk_size=chunk_size)


def _warn_foreign_types(client: InfluxDB, measurement: str) -> None:
    """Warn when a schema field is also stored with another type, which is not read."""
    try:
        results = client.influxql(f"SHOW FIELD KEYS FROM {quote_identifier(measurement)}")
    except ServerError:
        return
    rows = [row for s in results[0].get("series", []) for row in s["values"]]
    foreign = sorted(
        f"{name} as {kind}"
        for name, kind in rows
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


def read_frame(
    client: InfluxDB,
    statement: str,
    *,
    tags_as: str = "string",
    chunk_size: int = 20_000,
    keep_sequence: bool = False,
) -> pd.DataFrame:
    """Run a ``SELECT`` of events and return its points as an events frame.

    With ``keep_sequence`` the sequence tag that keeps tied events apart is
    kept as a column, for the writer to see which numbers are taken.
    """
    names: list[str] | None = None
    rows: list[list] = []
    for result in client._iter_results(statement, chunk_size=chunk_size):
        for series in result.get("series", []):
            names = series["columns"]
            rows.extend(series["values"])

    return _to_frame(names or ["time"], rows, tags_as, keep_sequence)


def build_query(
    start=None,
    stop=None,
    *,
    event_types: str | Iterable[str] | None = None,
    where: Mapping[str, str | Iterable[str]] | None = None,
    measurement: str = MEASUREMENT,
) -> str:
    """The InfluxQL statement :func:`query_events` sends.

    # Limitation: in a database holding both layouts (written before layouts
    # were checked), a filter on user_id or content_id matches only the events
    # where it is a field; testing both the tag and the field would fix it.
    """
    low = MIN_TIME if start is None else to_timestamp(start).value
    conditions = [f"time >= {low}"]
    conditions.append(
        f"time <= {MAX_TIME}" if stop is None else f"time < {to_timestamp(stop).value}"
    )

    filters = dict(where or {})
    if event_types is not None:
        filters["event_type"] = event_types
    for name, values in filters.items():
        if name not in _SCHEMA_NAMES or column(name).kind != "string":
            raise SchemaError(
                f"cannot filter on {name!r}: choose a string column of the schema "
                f"({', '.join(c.name for c in COLUMNS if c.kind == 'string')})"
            )
        values = [values] if isinstance(values, str) else list(values)
        if not values:
            raise ValueError(f"no values given to filter {name!r} on")
        either = " OR ".join(f"{quote_identifier(name)} = {quote_string(v)}" for v in values)
        conditions.append(f"({either})")

    return (
        f"{select_clause()} FROM {quote_identifier(measurement)} WHERE {' AND '.join(conditions)}"
    )


def select_clause() -> str:
    """``SELECT`` every tag, and every field of the schema with the type it must have.

    Naming each field with its type (``"page_url"::string``) matters: when
    another writer stored a field with another type in some shard, InfluxDB 1.x
    answers a plain ``SELECT *`` over both shards with NA for every value of
    that field, in all shards. Points whose fields are all of a foreign type are
    not returned.

    Between integers and floats InfluxDB converts instead, cutting 2.9 to 2. So
    each integer field is also asked for as a float (``"x"::float AS "x__float"``),
    and a value whose two forms differ is known to be a foreign float.
    """
    fields = []
    for col in COLUMNS:
        if col.name == "event_type":
            continue
        fields.append(f"{quote_identifier(col.name)}::{col.kind}")
        if col.kind == "integer":
            alias = quote_identifier(col.name + _AS_FLOAT)
            fields.append(f"{quote_identifier(col.name)}::float AS {alias}")
    fields.append(f"{quote_identifier(NO_FIELDS_FIELD)}::boolean")
    return "SELECT *::tag, " + ", ".join(fields)


def _typed(
    raw: np.ndarray, col: Column, times: pd.DatetimeIndex
) -> pd.api.extensions.ExtensionArray:
    """A column of the answer in its schema dtype; stored values of another type become NA."""
    if col.kind == "string":
        text = [v if v is None or isinstance(v, str) else _text(v) for v in raw]
        return pd.array(text, dtype=col.dtype)

    if col.kind == "integer":
        numbers, foreign = _integers(raw)
    else:
        # JSON has no float type: 1.x sends 20.0 as 20, and 1e20 as an integer.
        floats = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce")
        foreign = floats.isna().to_numpy() & pd.notna(raw)
        numbers = pd.array(floats.to_numpy(dtype="float64", na_value=np.nan), dtype=col.dtype)

    if foreign.any():
        first = int(np.flatnonzero(foreign)[0])
        warnings.warn(
            f"InfluxDB holds {foreign.sum():,} value(s) of column {col.name} that are not "
            f"{col.kind}s (the first, {raw[first]!r}, at {times[first]}); they are read as NA. "
            "Another writer stored them: query them with db.influxql(...) to see them",
            StoredTypeWarning,
            stacklevel=5,
        )
    return numbers


def _without_foreign_floats(ints, as_floats: np.ndarray, col: Column):
    """NA where InfluxDB converted a stored float to an integer and lost its fraction."""
    floats = np.array(as_floats, dtype="float64")  # None becomes NaN
    whole = ints.to_numpy(dtype="float64", na_value=np.nan)
    cut = ~np.isnan(whole) & ~np.isnan(floats) & (whole != floats)
    if not cut.any():
        return ints
    warnings.warn(
        f"InfluxDB holds {cut.sum():,} value(s) of column {col.name} as floats with a "
        "fraction, written by another writer; they are read as NA rather than cut down",
        StoredTypeWarning,
        stacklevel=6,
    )
    return pd.array(pd.Series(ints).mask(cut), dtype=col.dtype)


def _integers(raw: np.ndarray) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    """Exact Int64 values of a JSON column, and where values were not integers."""
    # Kept out of float64, which would round values beyond 2**53.
    whole = [isinstance(v, int) and not isinstance(v, bool) for v in raw]
    foreign = np.array(
        [v is not None and not w for v, w in zip(raw, whole, strict=True)], dtype=bool
    )
    values = [v if w else None for v, w in zip(raw, whole, strict=True)]
    return pd.array(values, dtype="Int64"), foreign


def _text(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _to_frame(
    names: list[str], rows: list[list], tags_as: str, keep_sequence: bool = False
) -> pd.DataFrame:
    by_name = {name: i for i, name in enumerate(names)}
    values = np.array(rows, dtype=object).reshape(len(rows), len(names))
    times = pd.to_datetime(values[:, by_name["time"]].astype("int64"), unit="ns", utc=True)

    data = {}
    for col in COLUMNS:
        if col.name not in by_name:
            data[col.name] = pd.array([pd.NA] * len(rows), dtype=col.dtype)
            continue
        data[col.name] = _typed(values[:, by_name[col.name]], col, times)
        if col.name + _AS_FLOAT in by_name:
            data[col.name] = _without_foreign_floats(
                data[col.name], values[:, by_name[col.name + _AS_FLOAT]], col
            )

    # A tag and a field of the same name (events written in both layouts) come back
    # as "user_id" and "user_id_1": each point has one of the two.
    for col in COLUMNS:
        twin = f"{col.name}_1"
        if twin in by_name and col.name in by_name:
            other = _typed(values[:, by_name[twin]], col, times)
            data[col.name] = pd.array(
                pd.Series(data[col.name]).fillna(pd.Series(other)), dtype=col.dtype
            )
    twins = {f"{c.name}_1" for c in COLUMNS} | {c.name + _AS_FLOAT for c in COLUMNS}
    for name in names:
        if name not in data and name != "time" and name not in _INTERNAL and name not in twins:
            data[name] = values[:, by_name[name]]

    if keep_sequence:
        present = SEQUENCE_TAG in by_name
        raw = values[:, by_name[SEQUENCE_TAG]] if present else [None] * len(rows)
        data[SEQUENCE_TAG] = np.array([int(v) if v else 0 for v in raw], dtype="int64")

    frame = pd.DataFrame(data, index=pd.DatetimeIndex(times, name="time"))
    if tags_as == "category":
        for name in ("event_type", "device_type", "location", "referral_source"):
            frame[name] = frame[name].astype("category")
    return frame.sort_index(kind="stable")
