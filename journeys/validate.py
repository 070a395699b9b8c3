"""Turning any reasonable frame into a frame of the events schema.

:func:`validate` accepts what people actually have: a ``time`` column of ISO
8601 strings with or without an offset, naive datetimes, epoch numbers, ids
read as numbers, prices as strings. It coerces a value to its column's type
only when nothing is lost (``20`` becomes ``20.0`` for ``purchase_value``,
``48.0`` becomes ``48`` for ``rental_duration``) and refuses the rest with the
row and the column named: it never guesses.

Times
    ISO 8601 strings may carry an offset; strings without one, and naive
    datetimes, are taken as UTC. Numbers are epochs in ``epoch_unit``,
    nanoseconds by default like InfluxDB's own default precision. Everything
    ends as ``datetime64[ns, UTC]``.
Strings
    Numbers in a string column become their text (an integral float such as
    ``12345.0``, which is how pandas reads an id column with gaps, becomes
    ``"12345"``). An empty tag is the same as a missing one, because InfluxDB
    cannot store an empty tag value, so ``""`` becomes NA in tag columns.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from journeys.errors import SchemaError, TimeUnitWarning, ValidationError
from journeys.lineprotocol import _tag_problems
from journeys.schema import COLUMNS, LAYOUTS, REQUIRED, Column

__all__ = ["split_valid", "validate"]

logger = logging.getLogger(__name__)

_PROBLEM_COLUMNS = ["row", "column", "value", "reason"]
_TAG_COLUMNS = frozenset(t for layout in LAYOUTS.values() for t in layout.tags)
_EPOCH_UNITS = ("s", "ms", "us", "ns")


def validate(
    frame: pd.DataFrame,
    *,
    epoch_unit: str = "ns",
    extra_columns: str = "error",
) -> pd.DataFrame:
    """Return ``frame`` as an events frame, or raise naming every bad value.

    Parameters
    ----------
    frame : pandas.DataFrame
        Events with a ``time`` column (or a DatetimeIndex) and an ``event_type``
        column; any other column of the schema may be present.
    epoch_unit : {"ns", "us", "ms", "s"}
        The unit of numeric times.
    extra_columns : {"error", "drop"}
        What to do with columns outside the schema.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``time`` (``datetime64[ns, UTC]``), with every column of the
        schema in schema order and its nullable dtype; rows in input order.

    Raises
    ------
    SchemaError
        When a required column is missing or an unknown one is present.
    ValidationError
        When values cannot be stored; its ``problems`` frame lists them all.

    Examples
    --------
    >>> import journeys as jy
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"time": ["2023-05-17T00:05:00Z"],
    ...                     "event_type": ["transaction"], "purchase_value": [20]})
    >>> jy.validate(raw)["purchase_value"].tolist()
    [20.0]
    """
    valid, problems = split_valid(frame, epoch_unit=epoch_unit, extra_columns=extra_columns)
    if len(problems):
        raise ValidationError(problems)
    return valid


def split_valid(
    frame: pd.DataFrame,
    *,
    epoch_unit: str = "ns",
    extra_columns: str = "error",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Separate the rows that can be stored from those that cannot.

    Parameters are those of :func:`validate`.

    Returns
    -------
    valid : pandas.DataFrame
        The rows without problems, as :func:`validate` returns them.
    problems : pandas.DataFrame
        One row per bad value: ``row`` (position in ``frame``, from 0),
        ``column``, ``value`` and ``reason``. Empty when all is well.
    """
    if epoch_unit not in _EPOCH_UNITS:
        raise ValueError(f"epoch_unit must be one of {_EPOCH_UNITS}, not {epoch_unit!r}")
    if extra_columns not in ("error", "drop"):
        raise ValueError(f"extra_columns must be 'error' or 'drop', not {extra_columns!r}")

    frame = _with_time_column(frame)
    _check_columns(frame, extra_columns)
    rows = pd.RangeIndex(len(frame))
    found: list[pd.DataFrame] = []

    times, bad = _parse_times(frame["time"].set_axis(rows), epoch_unit)
    found.append(bad)

    columns = {}
    for column in COLUMNS:
        if column.name in frame.columns:
            values, bad = _coerce(frame[column.name].set_axis(rows), column)
            found.append(bad)
        else:
            values = pd.Series(pd.NA, index=rows, dtype=column.dtype)
        columns[column.name] = values

    missing_type = columns["event_type"].isna()
    if missing_type.any():
        found.append(
            _problems(
                missing_type,
                frame["event_type"].set_axis(rows),
                "event_type",
                "is missing; every event needs an event_type",
            )
        )

    problems = pd.concat(found, ignore_index=True) if found else _problems_frame()
    problems = problems.sort_values(["row", "column"], kind="stable", ignore_index=True)

    index = pd.DatetimeIndex(times, name="time")
    result = pd.DataFrame(columns, index=rows).set_axis(index, axis=0)
    if len(problems):
        keep = ~rows.isin(problems["row"])
        result = result[keep]
        logger.info("%d of %d rows have values that cannot be stored", (~keep).sum(), len(rows))
    return result, problems


def _with_time_column(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame of events, got {type(frame).__name__}")
    if "time" in frame.columns:
        return frame
    if isinstance(frame.index, pd.DatetimeIndex) or frame.index.name == "time":
        return frame.rename_axis("time").reset_index()
    return frame


def _check_columns(frame: pd.DataFrame, extra_columns: str) -> None:
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise SchemaError(
            f"the frame has no {' and no '.join(missing)} column; events need "
            f"{' and '.join(REQUIRED)} (the time may also be the frame's DatetimeIndex)"
        )

    known = {c.name for c in COLUMNS} | {"time"}
    unknown = [str(c) for c in frame.columns if c not in known]
    if unknown and extra_columns == "error":
        raise SchemaError(
            f"columns outside the events schema: {', '.join(unknown)}. Rename them to "
            "schema columns, drop them, or pass extra_columns='drop'"
        )


def _problems_frame() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in _PROBLEM_COLUMNS})


def _problems(mask: pd.Series, values: pd.Series, column: str, reason) -> pd.DataFrame:
    """A problems frame for the rows where ``mask`` holds; ``reason`` may be a Series."""
    mask = mask.to_numpy(dtype=bool, na_value=False)
    rows = np.flatnonzero(mask)
    reasons = reason[mask].tolist() if isinstance(reason, pd.Series) else [reason] * len(rows)
    return pd.DataFrame(
        {
            "row": rows,
            "column": column,
            "value": pd.Series(values.to_numpy(dtype=object)[rows], dtype=object),
            "reason": reasons,
        }
    )


def _parse_times(values: pd.Series, epoch_unit: str) -> tuple[pd.Series, pd.DataFrame]:
    missing = values.isna()
    bad = [_problems(missing, values, "time", "is missing; every event needs a time")]

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        times = values if values.dt.tz is not None else values.dt.tz_localize("UTC")
        times = times.dt.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        times = _from_epochs(values, epoch_unit)
    else:
        times = _from_mixed(values, epoch_unit)
        unparsed = times.isna() & ~missing
        bad.append(
            _problems(unparsed, values, "time", "is not an ISO 8601 time or an epoch number")
        )

    times = times.dt.as_unit("ns")
    # A frame index cannot hold NaT for rows that will be dropped anyway: fill
    # them with the epoch, since they never reach the server.
    return times.fillna(pd.Timestamp(0, tz="UTC")), pd.concat(bad, ignore_index=True)


def _from_epochs(values: pd.Series, epoch_unit: str) -> pd.Series:
    numbers = pd.to_numeric(values)
    if epoch_unit == "ns" and numbers.notna().any():
        largest = numbers.abs().max()
        if 0 < largest < 1e16:
            warnings.warn(
                f"numeric times are read as nanoseconds since 1970 (the largest, {largest:g}, "
                "lies in 1970); if they are seconds or milliseconds, pass epoch_unit='s' "
                "or 'ms' (--epoch-unit on the command line)",
                TimeUnitWarning,
                stacklevel=4,
            )
    if pd.api.types.is_integer_dtype(numbers.dtype) and epoch_unit == "ns":
        return pd.Series(
            pd.to_datetime(
                numbers.to_numpy(dtype="int64", na_value=np.iinfo("int64").min),
                unit="ns",
                utc=True,
            ),
            index=values.index,
        )
    return pd.to_datetime(numbers, unit=epoch_unit, utc=True)


def _from_mixed(values: pd.Series, epoch_unit: str) -> pd.Series:
    text = values.astype(object).where(values.notna(), None)
    numeric = pd.to_numeric(text, errors="coerce")
    is_number = numeric.notna()
    times = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if is_number.any():
        times[is_number] = _from_epochs(numeric[is_number], epoch_unit).dt.as_unit("ns")
    rest = ~is_number & values.notna()
    if rest.any():
        parsed = pd.to_datetime(
            text[rest].astype(str), utc=True, format="ISO8601", errors="coerce"
        )
        times[rest] = parsed.dt.as_unit("ns")
    return times


def _coerce(values: pd.Series, column: Column) -> tuple[pd.Series, pd.DataFrame]:
    if column.kind == "string":
        return _coerce_strings(values, column)
    return _coerce_numbers(values, column)


def _coerce_strings(values: pd.Series, column: Column) -> tuple[pd.Series, pd.DataFrame]:
    bad = []
    if isinstance(values.dtype, pd.StringDtype):
        text = values.astype(column.dtype)
    else:
        # Built as object arrays by hand: pandas would infer a string dtype, and
        # pyarrow refuses the lone surrogates this step is there to find.
        present = values.notna().to_numpy()
        raw = values.to_numpy(dtype=object)
        objects = pd.Series(
            np.array(
                [_as_text(v) if p else None for v, p in zip(raw, present, strict=True)],
                dtype=object,
            ),
            index=values.index,
            dtype=object,
        )
        surrogate = pd.Series(
            [p and _has_surrogate(v) for v, p in zip(objects, present, strict=True)],
            index=values.index,
            dtype=bool,
        )
        if surrogate.any():
            bad.append(
                _problems(
                    surrogate, values, column.name, "is not valid Unicode text (a lone surrogate)"
                )
            )
            objects = objects.where(~surrogate, None)
        text = objects.astype(column.dtype)

    if column.name in _TAG_COLUMNS:
        text = text.mask(text == "", pd.NA)
        reasons = _tag_problems(text)
        unfit = reasons != ""
        if unfit.any():
            bad.append(_problems(unfit, values, column.name, reasons))
    return text, pd.concat(bad, ignore_index=True) if bad else _problems_frame()


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _coerce_numbers(values: pd.Series, column: Column) -> tuple[pd.Series, pd.DataFrame]:
    bad = []
    present = values.notna()

    if pd.api.types.is_bool_dtype(values.dtype):
        return (
            pd.Series(pd.NA, index=values.index, dtype=column.dtype),
            _problems(present, values, column.name, "is a boolean, not a number"),
        )
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values
    else:
        objects = values.astype(object)
        is_bool = objects.map(lambda v: isinstance(v, bool | np.bool_))
        numbers = pd.to_numeric(objects.where(~is_bool, None), errors="coerce")
        if is_bool.any():
            bad.append(_problems(is_bool, values, column.name, "is a boolean, not a number"))
        unparsed = numbers.isna() & present & ~is_bool
        if unparsed.any():
            bad.append(_problems(unparsed, values, column.name, "is not a number"))

    floats = numbers.astype("float64") if not pd.api.types.is_integer_dtype(numbers) else None
    if floats is not None:
        infinite = np.isinf(floats)
        if infinite.any():
            bad.append(
                _problems(
                    infinite, values, column.name, "is infinite, which InfluxDB cannot store"
                )
            )
            numbers = numbers.where(~infinite)
            floats = floats.where(~infinite)

    if column.kind == "integer":
        if floats is not None:
            fractional = floats.notna() & (floats != np.floor(floats))
            too_big = floats.abs() >= 2.0**63
            if fractional.any():
                bad.append(_problems(fractional, values, column.name, "is not a whole number"))
            if too_big.any():
                bad.append(
                    _problems(too_big, values, column.name, "does not fit a 64-bit integer")
                )
            numbers = floats.where(~(fractional | too_big))
        result = numbers.astype(column.dtype)
    else:
        result = numbers.astype(column.dtype)

    out_of_range = pd.Series(False, index=values.index)
    if column.minimum is not None:
        out_of_range |= (result < column.minimum).fillna(False).astype(bool)
    if column.maximum is not None:
        out_of_range |= (result > column.maximum).fillna(False).astype(bool)
    if out_of_range.any():
        bad.append(
            _problems(
                out_of_range, values, column.name, f"is outside the range {_range_text(column)}"
            )
        )
        result = result.mask(out_of_range)

    return result, pd.concat(bad, ignore_index=True) if bad else _problems_frame()


def _range_text(column: Column) -> str:
    low = "-inf" if column.minimum is None else f"{column.minimum:g}"
    high = "inf" if column.maximum is None else f"{column.maximum:g}"
    return f"{low} to {high}"
