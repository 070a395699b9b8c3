"""Turning streamed InfluxQL answers into typed columns, and columns into events frames.

InfluxDB 1.x answers a ``SELECT`` in chunks: each one or more series, each a
list of column names and a list of rows. :func:`stream_results` asks for them
as MessagePack, which the server encodes faster than JSON and which keeps
floats and integers apart. Building a frame row by row in Python costs
several times what the server needs to send the rows, so each chunk's rows go
to arrow as structs, one pass in C++ that transposes them into columns of the
types the schema gives them. Chunks are kept as arrow chunks and joined at the
end without copying the text again; the numbers land in numpy. A chunk whose
values do not have the type they should (a foreign writer stored another type,
or JSON's numbers came out unusual) is taken apart column by column instead,
and a column that still does not fit is converted value by value, foreign
values becoming NA with a warning.

:class:`ColumnBuilder` collects the chunks; :func:`events_frame` makes the
events frame of :func:`journeys.validate` from them: indexed by UTC time with
nanoseconds, every schema column in schema order with its nullable dtype (NA
where a value is missing), sorted by time with ties kept in the server's
order. Internal columns (``event_seq``, ``no_fields``) are dropped, unless the
writer asks for the sequence numbers.
"""

from __future__ import annotations

import urllib.parse
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import msgpack
import numpy as np
import pandas as pd
import pyarrow as pa
import requests

from journeys.errors import ServerError, StoredTypeWarning
from journeys.schema import COLUMNS, NO_FIELDS_FIELD, SEQUENCE_TAG, Column, column

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = ["AS_FLOAT", "MSGPACK", "ColumnBuilder", "empty_frame", "events_frame", "stream_results"]

#: The answer format asked for: InfluxDB 1.4 and later send MessagePack when asked.
MSGPACK = "application/x-msgpack"

#: The suffix of the float form of an integer field (see journeys.query.select_clause).
AS_FLOAT = "__float"

#: The suffix InfluxDB gives a field that has the name of a tag selected too.
TWIN = "_1"

_SCHEMA_NAMES = frozenset(c.name for c in COLUMNS)
_TAG_LIKE = ("event_type", "device_type", "location", "referral_source")
_ARROW = {"string": pa.string(), "float": pa.float64(), "integer": pa.int64()}
_ARROW_ALL = {"time": pa.int64(), NO_FIELDS_FIELD: pa.bool_()}


def stream_results(
    client: InfluxDB, statement: str, *, chunk_size: int = 20_000
) -> Iterator[dict]:
    """The results of a ``SELECT``, streamed in chunks, as MessagePack where the server can.

    MessagePack is what makes reading fast: InfluxDB spends less time
    encoding it than JSON (for a million events 15 s of CPU against 17.5 s,
    and 22 s with gzip), it is a third smaller, and it keeps what JSON loses
    (20.0 stays a float, not 20). From a server on this machine the answer is
    asked for uncompressed, since gzip costs the server more time than the
    loopback saves; from others it comes gzipped. A server that answers in
    another format (InfluxDB 2.x's v1 API speaks JSON and CSV only), or with
    an error, is asked again through the JSON path of
    :meth:`journeys.InfluxDB.influxql`, which raises the server's error as a
    :class:`journeys.ServerError`.
    """
    params = {"db": client.database, "epoch": "ns", "chunked": "true"}
    form = {**params, "chunk_size": str(chunk_size), "q": statement}
    headers = {"Accept": MSGPACK}
    if _on_this_machine(client.url):
        # Compressing costs the server more than the loopback saves.
        headers["Accept-Encoding"] = "identity"
    # A long statement (a filter on thousands of values) would not fit a URL.
    if len(statement) <= 4000:
        answer = client.request("GET", "/query", params=form, headers=headers, stream=True)
    else:
        answer = client.request("POST", "/query", data=form, headers=headers, stream=True)
    if answer.status_code != 200 or not answer.headers.get("Content-Type", "").startswith(MSGPACK):
        answer.close()
        yield from client._iter_results(statement, chunk_size=chunk_size)
        return

    unpacker = msgpack.Unpacker(raw=False, use_list=False, max_buffer_size=2**31 - 1)
    try:
        for piece in answer.iter_content(chunk_size=1 << 20):
            unpacker.feed(piece)
            for body in unpacker:
                yield from _results(body)
    except requests.RequestException as exc:
        raise ServerError(f"the answer of InfluxDB at {client.url} broke off: {exc}") from exc
    finally:
        answer.close()


def _on_this_machine(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _results(body: dict) -> Iterator[dict]:
    if "error" in body:
        raise ServerError(f"the query failed: {body['error']}", detail=body["error"])
    for result in body.get("results", ()):
        if "error" in result:
            raise ServerError(f"the statement failed: {result['error']}", detail=result["error"])
        yield result


def kind_of(name: str) -> str:
    """The kind a column of the answer holds, by its name: a schema kind, or string."""
    if name.endswith(AS_FLOAT) and name[: -len(AS_FLOAT)] in _SCHEMA_NAMES:
        return "float"
    if name.endswith(TWIN) and name[: -len(TWIN)] in _SCHEMA_NAMES:
        return column(name[: -len(TWIN)]).kind
    if name in _SCHEMA_NAMES:
        return column(name).kind
    return "string"  # tags, event_seq and columns beyond the schema


class ColumnBuilder:
    """Collects the columns of a streamed answer, chunk by chunk, as arrow arrays.

    Parameters
    ----------
    skip : iterable of str
        Columns of the answer not to keep at all (the ``no_fields`` anchor).

    Examples
    --------
    >>> builder = ColumnBuilder()
    >>> builder.add(["time", "user_id"], [[1, "a"], [2, None]])
    >>> builder.rows
    2
    """

    def __init__(self, *, skip: Iterable[str] = (NO_FIELDS_FIELD,)):
        self.skip = frozenset(skip)
        self.rows = 0
        self.times: list[np.ndarray] = []
        self.chunks: dict[str, list[pa.Array]] = {}
        #: Per column, how many values were not of its kind, and the first of them.
        self.foreign: dict[str, tuple[int, object, int]] = {}
        self._structs: dict[tuple[str, ...], pa.StructType] = {}

    def add_results(self, results: Iterable[dict]) -> ColumnBuilder:
        """Add every series of every result (as ``client._iter_results`` yields them)."""
        for result in results:
            for series in result.get("series", ()):
                self.add(series["columns"], series.get("values", ()))
        return self

    def add(self, names: Sequence[str], rows: Sequence[Sequence]) -> None:
        """Add one chunk of rows with these column names (``time`` among them)."""
        if not rows:
            return
        count = len(rows)
        for name, values in self._columns(names, rows):
            if name == "time":
                self.times.append(values.to_numpy())
            elif name not in self.skip:
                if name not in self.chunks:
                    # A column that earlier chunks did not hold is empty there.
                    self.chunks[name] = [pa.nulls(self.rows, _ARROW[kind_of(name)])]
                self.chunks[name].append(values)
        for name, chunks in self.chunks.items():
            if name not in names:
                chunks.append(pa.nulls(count, _ARROW[kind_of(name)]))
        self.rows += count

    def _columns(self, names: Sequence[str], rows: Sequence[Sequence]):
        """The columns of a chunk as (name, arrow array), skipped columns included."""
        # The fast way: arrow reads the rows as structs, transposing and converting
        # in one pass in C++. It refuses a chunk holding any value of another type
        # (text in a float column, a float beyond what int64 holds), and then the
        # chunk is taken apart column by column. Arrow would cut a float in an
        # integer column, but the server sends integer columns as integers only:
        # every field is selected with its type (see journeys.query.select_clause).
        key = tuple(names)
        if key not in self._structs:
            types = [(n, _ARROW_ALL.get(n) or _ARROW[kind_of(n)]) for n in names]
            self._structs[key] = pa.struct(types)
        if not isinstance(rows[0], tuple):
            rows = [tuple(row) for row in rows]
        try:
            table = pa.array(rows, type=self._structs[key])
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            table = None
        if table is not None:
            return [(name, table.field(i)) for i, name in enumerate(names)]

        columns = []
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            if name == "time":
                columns.append((name, pa.array(np.array(values, dtype=np.int64))))
            elif name not in self.skip:
                columns.append((name, self._arrow(name, values)))
        return columns

    @classmethod
    def joined(cls, parts: Sequence[ColumnBuilder], *, skip: Iterable[str] = ()) -> ColumnBuilder:
        """One builder holding the rows of ``parts``, one after the other."""
        whole = cls(skip=skip)
        for part in parts:
            for name in part.chunks:
                if name not in whole.chunks:
                    whole.chunks[name] = [pa.nulls(whole.rows, _ARROW[kind_of(name)])]
            for name, chunks in whole.chunks.items():
                chunks += part.chunks.get(name, [pa.nulls(part.rows, _ARROW[kind_of(name)])])
            for name, (count, first, at) in part.foreign.items():
                before = whole.foreign.get(name, (0, first, whole.rows + at))
                whole.foreign[name] = (before[0] + count, before[1], before[2])
            whole.times += part.times
            whole.rows += part.rows
        return whole

    def column(self, name: str) -> pa.ChunkedArray | None:
        """All chunks of one column, or None when the answer did not hold it."""
        if name not in self.chunks:
            return None
        return pa.chunked_array(self.chunks[name], type=_ARROW[kind_of(name)])

    def time_values(self) -> np.ndarray:
        """The times, nanoseconds since the epoch, as one int64 array."""
        return np.concatenate(self.times) if self.times else np.empty(0, dtype=np.int64)

    def names(self) -> list[str]:
        """The kept columns of the answer, in the order they first came."""
        return list(self.chunks)

    def _arrow(self, name: str, values: tuple) -> pa.Array:
        kind = kind_of(name)
        try:
            array = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            array = None
        if array is not None:
            if pa.types.is_null(array.type):
                return pa.nulls(len(values), _ARROW[kind])
            if kind == "string" and pa.types.is_string(array.type):
                return array
            if kind == "integer" and pa.types.is_int64(array.type):
                return array
            if kind == "float" and pa.types.is_float64(array.type):
                return array
            if kind == "float" and pa.types.is_int64(array.type):
                # JSON has no float type: 1.x sends 20.0 as 20. Such values were
                # floats when stored, so converting them back is exact.
                return array.cast(pa.float64(), safe=False)
        return self._careful(name, kind, values)

    def _careful(self, name: str, kind: str, values: tuple) -> pa.Array:
        """One column of one chunk converted value by value; foreign values become NA."""
        converted = []
        for value in values:
            good = _convert(value, kind)
            if good is None and value is not None:
                count, first, at = self.foreign.get(name, (0, value, self.rows + len(converted)))
                self.foreign[name] = (count + 1, first, at)
            converted.append(good)
        return pa.array(converted, type=_ARROW[kind])


def _convert(value, kind: str):
    """A JSON value as the kind wants it, or None when it is of another type."""
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, str):
            return value
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, bool):
        return None
    if kind == "integer":
        return value if isinstance(value, int) else None
    return float(value) if isinstance(value, int | float) else None


def empty_frame(columns: Sequence[str] | None = None, *, tags_as: str = "string") -> pd.DataFrame:
    """An events frame without rows: the schema's columns (or ``columns``) and dtypes."""
    return events_frame(ColumnBuilder(), columns=columns, tags_as=tags_as)


def events_frame(
    builder: ColumnBuilder,
    *,
    columns: Sequence[str] | None = None,
    tags_as: str = "string",
    keep_sequence: bool = False,
    stacklevel: int = 2,
    warn=warnings.warn,
) -> pd.DataFrame:
    """The events frame of the collected columns.

    Parameters
    ----------
    builder : ColumnBuilder
        The columns of the answer.
    columns : sequence of str, optional
        The schema columns to return, in schema order; all of them when None.
        Columns of the answer beyond the schema (tags of another writer) are
        only kept when all columns are returned.
    tags_as : {"string", "category"}
        The dtype of ``event_type``, ``device_type``, ``location`` and
        ``referral_source``.
    keep_sequence : bool
        Keep ``event_seq`` as an int64 column (0 where the tag is absent).
    stacklevel : int
        Where the warnings about foreign values point, seen from the caller.
    warn : callable
        Called as ``warnings.warn`` is, which it is by default. The writer's
        check of the stored points passes one that drops them: it may run in a
        worker thread, where ``warnings.catch_warnings`` would change the
        filters of the whole process.
    """
    times = builder.time_values()
    wanted = [c for c in COLUMNS if columns is None or c.name in columns]
    for name, (count, first, at) in builder.foreign.items():
        target = name.removesuffix(TWIN).removesuffix(AS_FLOAT)
        warn(
            f"InfluxDB holds {count:,} value(s) of column {target} that are not "
            f"{kind_of(name)}s (the first, {first!r}, at "
            f"{pd.Timestamp(int(times[at]), tz='UTC')}); they are read as NA. "
            "Another writer stored them: query them with db.influxql(...) to see them",
            StoredTypeWarning,
            stacklevel=stacklevel + 1,
        )

    data = {}
    for col in wanted:
        data[col.name] = _pandas(_merged(builder, col), col, len(times))
        floats = builder.column(col.name + AS_FLOAT)
        if floats is not None:
            data[col.name] = _without_foreign_floats(
                data[col.name], floats, col, stacklevel + 1, warn
            )

    if columns is None:
        internal = {SEQUENCE_TAG, NO_FIELDS_FIELD}
        for name in builder.names():
            base = name.removesuffix(TWIN).removesuffix(AS_FLOAT)
            if name not in internal and name not in data and base not in _SCHEMA_NAMES:
                data[name] = pd.array(builder.column(name), dtype=pd.StringDtype())
    if keep_sequence:
        seq = builder.column(SEQUENCE_TAG)
        numbers = np.zeros(len(times), dtype=np.int64)
        if seq is not None:
            text = seq.to_numpy(zero_copy_only=False)
            given = np.array([bool(v) for v in text], dtype=bool)
            numbers[given] = np.array(text[given], dtype=np.int64)
        data[SEQUENCE_TAG] = numbers

    index = pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True), name="time")
    frame = pd.DataFrame(data, index=index, copy=False)
    if tags_as == "category":
        for name in _TAG_LIKE:
            if name in frame:
                frame[name] = frame[name].astype("category")
    if len(times) > 1 and not (np.diff(times) >= 0).all():
        frame = frame.iloc[np.argsort(times, kind="stable")]
    return frame


def _merged(builder: ColumnBuilder, col: Column) -> pa.ChunkedArray | None:
    """A column, its values filled in from its twin where it is both tag and field."""
    own, twin = builder.column(col.name), builder.column(col.name + TWIN)
    if twin is None:
        return own
    if own is None:
        return twin
    # Events written in both layouts: each point has one of the two.
    import pyarrow.compute as pc

    return pc.coalesce(own, twin)


def _pandas(values: pa.ChunkedArray | None, col: Column, rows: int):
    """A column of arrow values as a pandas array of the column's nullable dtype."""
    if values is None:
        return pd.array(np.full(rows, pd.NA, dtype=object), dtype=col.dtype)
    if col.kind == "string":
        return pd.array(values, dtype=col.dtype)

    numbers = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    missing = np.asarray(numbers.is_null(), dtype=bool)
    filled = numbers.fill_null(0).to_numpy(zero_copy_only=False)
    if col.kind == "integer":
        return pd.arrays.IntegerArray(filled.astype(np.int64, copy=False), missing)
    return pd.arrays.FloatingArray(filled.astype(np.float64, copy=False), missing)


def _without_foreign_floats(
    ints, floats: pa.ChunkedArray, col: Column, stacklevel: int, warn=warnings.warn
):
    """NA where InfluxDB converted a stored float to an integer and lost its fraction."""
    as_float = floats.to_numpy(zero_copy_only=False).astype(np.float64)  # null is NaN
    whole = ints.to_numpy(dtype="float64", na_value=np.nan)
    cut = ~np.isnan(whole) & ~np.isnan(as_float) & (whole != as_float)
    if not cut.any():
        return ints
    warn(
        f"InfluxDB holds {cut.sum():,} value(s) of column {col.name} as floats with a "
        "fraction, written by another writer; they are read as NA rather than cut down",
        StoredTypeWarning,
        stacklevel=stacklevel + 1,
    )
    out = ints.copy()
    out[cut] = pd.NA
    return out
