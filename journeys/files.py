"""Events files: CSV, Parquet and JSON Lines, chosen by the file's extension.

Every format has a ``time`` column. CSV and JSON Lines store it as ISO 8601
text in UTC with nanoseconds (``2023-05-17T00:05:00.000000000Z``), Parquet as a
nanosecond UTC timestamp. String columns are read as text, so ids such as
``00123`` keep their leading zeros.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from journeys.errors import SchemaError
from journeys.schema import COLUMNS
from journeys.validate import validate

__all__ = ["FORMATS", "read_events", "save_events"]

#: File extensions and the format they stand for.
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

_STRING_COLUMNS = {c.name: "string" for c in COLUMNS if c.kind == "string"}


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
        frame = pd.read_csv(path, dtype=_STRING_COLUMNS, keep_default_na=False, na_values=[""])
    elif kind == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_json(path, lines=True, dtype=False)
    return validate(frame, epoch_unit=epoch_unit) if validated else frame


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
        table.to_csv(path, index=False, lineterminator="\n")
    else:
        table.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


def iso_times(index: pd.DatetimeIndex) -> np.ndarray:
    """ISO 8601 UTC text with nanoseconds for each time of ``index``."""
    nanos = index.asi8 % 1_000_000_000
    seconds = index.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    fraction = np.char.zfill(nanos.astype(str), 9).astype(object)
    return seconds + "." + fraction + "Z"
