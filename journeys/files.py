"""Events files: CSV, Parquet and JSON Lines, chosen by the file's extension.

Every format has a ``time`` column. CSV and JSON Lines store it as ISO 8601
text in UTC with nanoseconds (``2023-05-17T00:05:00.000000000Z``), Parquet as a
nanosecond UTC timestamp. Values are read as text and converted by
:func:`journeys.validate`, so ids such as ``00123`` keep their leading zeros
and integers beyond 2**53 stay exact. JSON Lines writes every float in its
shortest exact form. CSV follows RFC 4180 (lines end in CRLF, so that a line
break inside a value is always quoted).

# Limitation: in CSV an empty string and a missing value are both an empty
# field, so an empty string reads back as missing; Parquet and JSON Lines keep
# the difference. Writing empty strings as "" would need a CSV writer that
# quotes them apart from missing values.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from journeys.errors import SchemaError
from journeys.schema import COLUMNS
from journeys.validate import validate

__all__ = ["FORMATS", "iter_events", "read_events", "save_event_chunks", "save_events"]

#: Rows per chunk when a file is read piece by piece.
CHUNK_ROWS = 100_000

#: File extensions and the format they stand for.
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

_TEXT_COLUMNS = {name: object for name in ["time", *(c.name for c in COLUMNS)]}


def file_format(path: str | Path) -> str:
    """The format of ``path`` from its extension, or a SchemaError naming those known."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(FORMATS)
        raise SchemaError(f"cannot tell the format of {path}: use one of the extensions {known}")
    return FORMATS[suffix]


def read_events(path: str | Path, *, validated: bool = True, epoch_unit: str = "ns"):
    """Read an events file.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.jsonl`` file with a ``time`` column.
    validated : bool
        Return the frame validated (:func:`journeys.validate`), or as read.
    epoch_unit : str
        The unit of numeric times, when validating.
    """
    kind = file_format(path)
    if kind == "csv":
        frame = next(_read_csv(Path(path)))
    elif kind == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = next(_read_json_lines(Path(path)))
    return validate(frame, epoch_unit=epoch_unit) if validated else frame


def iter_events(path: str | Path, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Read an events file in chunks of about ``chunk_rows`` rows, as read (not validated).

    The file is never held whole: Parquet is read by record batches (pyarrow),
    CSV by pandas' ``chunksize``, JSON Lines line by line. Writing the chunks
    (:func:`journeys.write.write_events` takes this iterator) streams a file
    of any size in bounded memory.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.jsonl`` file with a ``time`` column.
    chunk_rows : int
        Rows per chunk (a Parquet chunk never spans two row groups, so it
        may be shorter).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows!r}")
    kind = file_format(path)
    if kind == "csv":
        yield from _read_csv(Path(path), chunk_rows)
    elif kind == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as source:
            for batch in source.iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
    else:
        yield from _read_json_lines(Path(path), chunk_rows)


def save_events(frame: pd.DataFrame, path: str | Path) -> Path:
    """Save an events frame to ``path``, in the format its extension names.

    The same frame always gives the same bytes.
    """
    path = Path(path)
    kind = file_format(path)
    events = validate(frame)
    table = events.reset_index()

    if kind == "parquet":
        table.to_parquet(path, index=False)
        return path

    table["time"] = iso_times(events.index)
    if kind == "csv":
        table.to_csv(path, index=False, lineterminator="\r\n")
    else:
        _write_json_lines(table, path)
    return path


def save_event_chunks(chunks: Iterable[pd.DataFrame], path: str | Path) -> tuple[Path, int]:
    """Save events frames one after another to one file, holding one at a time.

    For a stream such as :func:`journeys.generate_chunks`. The file is what
    :func:`save_events` writes for the frames concatenated (one header for CSV;
    a Parquet file with one row group per chunk), in the order given, so it is
    sorted by time only when the chunks together are. The same chunks always
    give the same bytes.

    Returns
    -------
    (pathlib.Path, int)
        The file and the number of events written.
    """
    path = Path(path)
    kind = file_format(path)
    written = 0
    writer = None
    try:
        for number, frame in enumerate(chunks):
            events = validate(frame)
            table = events.reset_index()
            written += len(table)
            if kind == "parquet":
                arrow = pa.Table.from_pandas(table, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(path, arrow.schema)
                writer.write_table(arrow)
                continue
            table["time"] = iso_times(events.index)
            if kind == "csv":
                table.to_csv(
                    path,
                    index=False,
                    lineterminator="\r\n",
                    header=number == 0,
                    mode="w" if number == 0 else "a",
                )
            else:
                _write_json_lines(table, path, append=number > 0)
        if written == 0 and writer is None:
            save_events(validate(pd.DataFrame({"time": [], "event_type": []})), path)
    finally:
        if writer is not None:
            writer.close()
    return path, written


def _write_json_lines(table: pd.DataFrame, path: Path, *, append: bool = False) -> None:
    names = list(table.columns)
    columns = [[None if v is pd.NA else v for v in table[n].tolist()] for n in names]
    with path.open("a" if append else "w", encoding="utf-8", newline="\n") as out:
        for row in zip(*columns, strict=True):
            record = {n: v for n, v in zip(names, row, strict=True) if v is not None}
            out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")


def _read_csv(path: Path, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """A CSV file as text columns, whole or in chunks; a file pandas would misread is refused.

    Yields one frame when ``chunk_rows`` is None (an empty one for an empty
    file), else frames of ``chunk_rows`` rows.
    """
    header = _csv_header(path)
    if header is None:
        yield pd.DataFrame({name: pd.Series([], dtype=object) for name in _TEXT_COLUMNS})
        return
    doubled = sorted({name for name in header if name and header.count(name) > 1})
    if doubled:
        raise SchemaError(f"{path}: the header names the column(s) {doubled} more than once")
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        raise SchemaError(
            f"{path}: the header {header[0]!r} is one column; journeys reads CSV separated "
            "by commas: save the file with commas (in pandas: to_csv, the default sep)"
        )

    # index_col=False: pandas would otherwise take a first column for the
    # index when the lines hold one field more than the header, shifting the rest.
    options = {
        "dtype": _TEXT_COLUMNS,
        "keep_default_na": False,
        "na_values": [""],
        "index_col": False,
        "encoding": "utf-8-sig",
    }
    if chunk_rows is None:
        yield _parsed(path, header, lambda: pd.read_csv(path, **options))
        return
    reader = _parsed(path, header, lambda: pd.read_csv(path, chunksize=chunk_rows, **options))
    with reader:
        while (chunk := _parsed(path, header, lambda: next(reader, None))) is not None:
            yield chunk


def _parsed(path: Path, header: list[str], read):
    """What ``read()`` gives, with pandas' misreadings of ``path`` refused in one line."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return read()
        except pd.errors.ParserWarning:
            raise SchemaError(
                f"{path}: line 2 holds more fields than the header's {len(header)} "
                f"({', '.join(header)}): name every column in the header, or remove the extra "
                "fields"
            ) from None
        except pd.errors.ParserError as exc:
            raise SchemaError(f"{path} is not valid CSV: {exc}".replace("C error: ", "")) from None
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from None


def _csv_header(path: Path) -> list[str] | None:
    """The column names of the first line, or None for a file without any."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as source:
            return next(csv.reader(source), None)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> SchemaError:
    return SchemaError(f"{path} is not UTF-8 text ({exc.reason}): save it as UTF-8")


def _read_json_lines(path: Path, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """A JSON Lines file, whole (one frame, maybe empty) or in frames of ``chunk_rows`` rows."""
    records = []
    with path.open(encoding="utf-8", newline="\n") as source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SchemaError(f"{path}, line {number}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise SchemaError(
                    f"{path}, line {number}: expected one event as a JSON object "
                    f'{{"time": ..., "event_type": ...}}, got {type(record).__name__}'
                )
            records.append(record)
            if chunk_rows is not None and len(records) >= chunk_rows:
                yield _records_frame(records)
                records = []
    if records or chunk_rows is None:
        yield _records_frame(records)


def _records_frame(records: list[dict]) -> pd.DataFrame:
    # An empty file still stands for a frame with the schema's columns.
    names = list(dict.fromkeys(name for record in records for name in record)) or list(
        _TEXT_COLUMNS
    )
    return pd.DataFrame({n: pd.Series([r.get(n) for r in records], dtype=object) for n in names})


def iso_times(index: pd.DatetimeIndex) -> np.ndarray:
    """ISO 8601 UTC text with nanoseconds for each time of ``index``."""
    if not len(index):
        return np.array([], dtype=object)
    nanos = index.asi8 % 1_000_000_000
    seconds = index.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    fraction = np.char.zfill(nanos.astype(str), 9).astype(object)
    return seconds + "." + fraction + "Z"
