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
Numbers
    Integers stay exact to the last digit, never passing through a float. A
    negative zero becomes zero, since InfluxDB answers it as ``0``. A float32
    (or float16) becomes the float64 of its shortest text: ``np.float32(19.99)``
    is stored as ``19.99``, what it prints as, not as ``19.989999771118164``, its
    exact binary value. Both round to the same float32, so nothing is lost, and
    the value read back is the one the user saw.
Extra columns
    A column outside the schema is refused (``extra_columns="error"``) or left
    out (``"drop"``); it cannot be kept, because the reader and the check of
    tied events against stored points know the schema's fields only: a kept
    column would be written but never read back, and an event written again
    would no longer be recognised as stored. Rename it to a schema column to
    keep it.
Strings
    Numbers in a string column become their text (an integral float such as
    ``12345.0``, which is how pandas reads an id column with gaps, becomes
    ``"12345"``). An empty tag is the same as a missing one, because InfluxDB
    cannot store an empty tag value, so ``""`` becomes NA in tag columns.
String lengths
    A string longer than its column's :attr:`~journeys.schema.Column.max_length`
    (256 characters, ``page_url`` 4,096, ``event_id`` 64) is refused, though
    InfluxDB would store up to 64 KB: the limits are the schema's, so events
    imported from a file obey the same rules as those the collector accepts,
    and the analyses and the JSON Schema of the events can rely on them. They
    also keep every series key (the tags of an event) far below the 65,535
    bytes InfluxDB allows, so that no row can fail on the server for it.
"""

from __future__ import annotations

import datetime
import logging
import warnings
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from journeys.errors import SchemaError, TimeUnitWarning, ValidationError
from journeys.lineprotocol import _tag_problems
from journeys.schema import COLUMNS, MAX_TIME, MIN_TIME, REQUIRED, Column, Layout, get_layout

__all__ = ["split_valid", "validate"]

logger = logging.getLogger(__name__)

_PROBLEM_COLUMNS = ["row", "column", "value", "reason"]
_EPOCH_UNITS = ("s", "ms", "us", "ns")


def validate(
    frame: pd.DataFrame,
    *,
    layout: str | Layout = "default",
    epoch_unit: str = "ns",
    extra_columns: str = "error",
) -> pd.DataFrame:
    """Return ``frame`` as an events frame, or raise naming every bad value.

    Parameters
    ----------
    frame : pandas.DataFrame
        Events with a ``time`` column (or a DatetimeIndex) and an ``event_type``
        column; any other column of the schema may be present.
    layout : {"default", "published"} or Layout
        The layout the events will be stored in: its tag columns follow the
        rules of tags (no line breaks, an empty value is a missing one).
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
    valid, problems = split_valid(
        frame, layout=layout, epoch_unit=epoch_unit, extra_columns=extra_columns
    )
    if len(problems):
        raise ValidationError(problems)
    return valid


def split_valid(
    frame: pd.DataFrame,
    *,
    layout: str | Layout = "default",
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
        raise ValueError(
            f"extra_columns must be 'error' or 'drop', not {extra_columns!r}: columns outside "
            "the schema cannot be kept, since they would never be read back; rename such a "
            "column to a schema column to store it"
        )

    frame = _with_time_column(frame)
    _check_columns(frame, extra_columns)
    rows = pd.RangeIndex(len(frame))
    found: list[pd.DataFrame] = []

    nanos, bad = _parse_times(frame["time"].set_axis(rows), epoch_unit)
    found.append(bad)
    tags = frozenset(get_layout(layout).tags)

    columns = {}
    for column in COLUMNS:
        if column.name in frame.columns:
            values, bad = _coerce(frame[column.name].set_axis(rows), column, tags)
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

    index = pd.DatetimeIndex(pd.to_datetime(nanos, unit="ns", utc=True), name="time")
    result = pd.DataFrame(columns, index=rows).set_axis(index, axis=0)
    if len(problems):
        keep = ~rows.isin(problems["row"])
        result = result[keep]
        logger.info("%d of %d rows have values that cannot be stored", (~keep).sum(), len(rows))
    return result, problems


def _with_time_column(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame of events, got {type(frame).__name__}")
    has_index = isinstance(frame.index, pd.DatetimeIndex) or frame.index.name == "time"
    if "time" in frame.columns and has_index:
        raise SchemaError(
            "the frame has both a time column and a time index: drop one of them "
            "(frame.reset_index(drop=True) or frame.drop(columns='time'))"
        )
    if "time" in frame.columns:
        return frame
    if has_index:
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
    unknown = [c for c in frame.columns if c not in known]
    if unknown and extra_columns == "error":
        names = ", ".join(repr(c) for c in unknown)
        raise SchemaError(
            f"columns outside the events schema: {names}. Rename them to schema columns "
            f"({', '.join(c.name for c in COLUMNS)}), drop them, or pass "
            "extra_columns='drop' (--extra-columns drop) to leave them out"
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
            "value": pd.Series(values.iloc[rows].to_numpy(dtype=object), dtype=object),
            "reason": reasons,
        }
    )


_FACTORS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_NUMBER_TEXT = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"
_OUTSIDE = "is outside the times InfluxDB can store (1677-09-21 to 2262-04-11)"
_NOT_A_TIME = "is not an ISO 8601 time or an epoch number"
#: The digits that tell any two floats of a width (in bytes) apart.
_ROUND_TRIP_DIGITS = {2: 5, 4: 9, 8: 17}
_FLOAT_TIME = (
    "is a float with more digits than a float holds, so its nanosecond is not known; "
    "read the times as integers (dtype='Int64') or as text"
)


def _parse_times(values: pd.Series, epoch_unit: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Nanoseconds since the epoch for every time, and the problems of those that fail.

    Rows with a problem get 0, since they are dropped before anything is sent.
    """
    missing = values.isna().to_numpy()
    nanos = np.zeros(len(values), dtype="int64")
    reasons = np.full(len(values), "", dtype=object)
    reasons[missing] = "is missing; every event needs a time"
    present = ~missing
    dtype = values.dtype

    if pd.api.types.is_datetime64_any_dtype(dtype):
        _from_datetimes(values, present, nanos, reasons)
    elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        reasons[present] = "is not a time"
    elif pd.api.types.is_integer_dtype(dtype) and dtype.kind != "u":
        _warn_if_not_nanoseconds(values, epoch_unit)
        factor = _FACTORS[epoch_unit]
        ints = values.to_numpy("int64", na_value=0)
        inside = (ints >= -(-MIN_TIME // factor)) & (ints <= MAX_TIME // factor)
        reasons[present & ~inside] = _OUTSIDE
        nanos[present & inside] = ints[present & inside] * factor
    elif pd.api.types.is_numeric_dtype(dtype):
        _warn_if_not_nanoseconds(values, epoch_unit)
        for i in np.flatnonzero(present):
            nanos[i], reasons[i] = _epoch(values.iloc[i], epoch_unit)
    else:
        _from_objects(values, present, epoch_unit, nanos, reasons)

    unfit = pd.Series(reasons != "", index=values.index)
    problems = _problems(unfit, values, "time", pd.Series(reasons, index=values.index))
    nanos[unfit.to_numpy()] = 0
    return nanos, problems


def _from_datetimes(values, present, nanos, reasons) -> None:
    times = values if values.dt.tz is not None else values.dt.tz_localize("UTC")
    times = times.dt.tz_convert("UTC")
    factor = _FACTORS[times.dt.unit]
    counts = times.array.asi8
    limit_low, limit_high = -(-MIN_TIME // factor), MAX_TIME // factor
    inside = (counts >= limit_low) & (counts <= limit_high)
    reasons[present & ~inside] = _OUTSIDE
    usable = present & inside
    nanos[usable] = counts[usable] * factor


def _from_objects(values, present, epoch_unit, nanos, reasons) -> None:
    objects = values.to_numpy(dtype=object)
    texts = np.array([isinstance(v, str) for v in objects], dtype=bool) & present
    numeric = np.zeros(len(values), dtype=bool)
    if texts.any():
        numeric[texts] = pd.Series(objects[texts], dtype=object).str.fullmatch(_NUMBER_TEXT)

    iso = texts & ~numeric
    if iso.any():
        parsed = pd.to_datetime(
            pd.Series(objects[iso], dtype=object), utc=True, format="ISO8601", errors="coerce"
        )
        rows = np.flatnonzero(iso)
        unparsed = parsed.isna().to_numpy()
        reasons[rows[unparsed]] = _NOT_A_TIME
        good = pd.Series(parsed[~unparsed].to_numpy(), dtype=parsed.dtype)
        sub_nanos = np.zeros(len(good), dtype="int64")
        sub_reasons = np.full(len(good), "", dtype=object)
        _from_datetimes(good, np.ones(len(good), dtype=bool), sub_nanos, sub_reasons)
        nanos[rows[~unparsed]] = sub_nanos
        reasons[rows[~unparsed]] = sub_reasons

    others = present & ~iso
    if (numeric & present).any():
        _warn_if_not_nanoseconds(pd.Series(objects[numeric], dtype=object), epoch_unit)
    for i in np.flatnonzero(others):
        nanos[i], reasons[i] = _epoch(objects[i], epoch_unit)


def _epoch(value, epoch_unit: str) -> tuple[int, str]:
    """Nanoseconds for one time given as a number, numeric text or datetime object."""
    factor = _FACTORS[epoch_unit]
    if isinstance(value, bool | np.bool_):
        return 0, "is not a time"
    if isinstance(value, int | np.integer):
        exact = int(value) * factor
    elif isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return 0, _NOT_A_TIME
        number = Decimal(_float_text(value))
        scaled = number * factor
        if scaled != scaled.to_integral_value():
            return 0, "has a fraction of a nanosecond"
        # Read by its shortest text, a float gives back the time it was made from
        # when that had at most 16 digits (milli- or microseconds counted in
        # nanoseconds). A float that needs all 17 came from a longer number, and when
        # its neighbours lie more than a nanosecond apart that number is lost.
        digits = len(number.normalize().as_tuple().digits)
        longest = _ROUND_TRIP_DIGITS[np.dtype(type(value)).itemsize]
        if digits >= longest and np.spacing(abs(value)) * factor > 1:
            return 0, _FLOAT_TIME
        exact = int(scaled)
    elif isinstance(value, str | Decimal):
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            return 0, _NOT_A_TIME
        if not number.is_finite():
            return 0, _NOT_A_TIME
        scaled = number * factor
        if scaled != scaled.to_integral_value():
            return 0, "has a fraction of a nanosecond"
        exact = int(scaled)
    elif isinstance(value, datetime.datetime | datetime.date | np.datetime64 | pd.Timestamp):
        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            return 0, "is missing; every event needs a time"
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        # Counted in the Timestamp's own unit, which may not be nanoseconds.
        exact = int(stamp.asm8.view("int64")) * _FACTORS[stamp.unit]
    else:
        return 0, _NOT_A_TIME
    if not MIN_TIME <= exact <= MAX_TIME:
        return 0, _OUTSIDE
    return exact, ""


def _warn_if_not_nanoseconds(values: pd.Series, epoch_unit: str) -> None:
    if epoch_unit != "ns" or not len(values):
        return
    try:
        largest = float(pd.to_numeric(values, errors="coerce").abs().max())
    except (TypeError, ValueError, OverflowError):
        return
    if 0 < largest < 1e16:
        warnings.warn(
            f"numeric times are read as nanoseconds since 1970 (the largest, {largest:g}, "
            "lies in 1970); if they are seconds or milliseconds, pass epoch_unit='s' "
            "or 'ms' (--epoch-unit on the command line)",
            TimeUnitWarning,
            stacklevel=5,
        )


def _coerce(values: pd.Series, column: Column, tags: frozenset) -> tuple[pd.Series, pd.DataFrame]:
    if column.kind == "string":
        return _coerce_strings(values, column, column.name in tags)
    return _coerce_numbers(values, column)


def _coerce_strings(
    values: pd.Series, column: Column, is_tag: bool
) -> tuple[pd.Series, pd.DataFrame]:
    bad = []
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        # Arrow strings are valid UTF-8 by construction: nothing to check or convert.
        text = values.astype(column.dtype)
    else:
        # Element by element into an object array: pandas would infer a string
        # dtype, and pyarrow refuses the lone surrogates this step is there to find.
        present = values.notna().to_numpy()
        converted = [_as_text(v) if p else ("", "") for v, p in zip(values, present, strict=True)]
        reasons = pd.Series([r for _, r in converted], index=values.index, dtype=object)
        unfit = reasons != ""
        if unfit.any():
            bad.append(_problems(unfit, values, column.name, reasons))
        objects = np.array(
            [t if p and not r else None for (t, r), p in zip(converted, present, strict=True)],
            dtype=object,
        )
        text = pd.Series(objects, index=values.index, dtype=object).astype(column.dtype)

    too_long = _too_long(text, column)
    if too_long.any():
        bad.append(_length_problems(too_long, text, column))
        text = text.mask(too_long)

    if is_tag:
        text = text.mask(text == "", pd.NA)
        reasons = _tag_problems(text)
        unfit = reasons != ""
        if unfit.any():
            bad.append(_problems(unfit, values, column.name, reasons))
            text = text.mask(unfit)
    return text, pd.concat(bad, ignore_index=True) if bad else _problems_frame()


def _too_long(text: pd.Series, column: Column) -> pd.Series:
    """Where a string has more characters than its column's ``max_length``."""
    if column.max_length is None:
        return pd.Series(False, index=text.index)
    return (text.str.len() > column.max_length).fillna(False).astype(bool)


def _length_problems(too_long: pd.Series, text: pd.Series, column: Column) -> pd.DataFrame:
    """The problems of strings over their column's limit, each shown by its first characters."""
    limit = column.max_length
    problems = _problems(too_long, text, column.name, "")
    lengths = text[too_long].str.len().tolist()
    problems["value"] = [f"{v[:40]}..." for v in problems["value"]]
    problems["reason"] = [
        f"is {n:,} characters long, more than the {limit:,} the schema allows for "
        f"{column.name}; shorten it (frame[{column.name!r}].str.slice(0, {limit})) or keep "
        "such text outside the events"
        for n in lengths
    ]
    return problems


def _as_text(value) -> tuple[str, str]:
    """The text a string column holds for ``value``, and why it cannot, if it cannot."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return "", "is bytes that are not UTF-8 text"
    elif isinstance(value, bool | np.bool_):
        return "", "is a boolean, not text"
    elif isinstance(value, float | np.floating):
        # Only floats that are exact integers stand for an id read as a number.
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value)), ""
        return "", "is a number with a fraction or beyond 2**53, not an id; store it as text"
    elif not isinstance(value, str):
        value = str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "", "is not valid Unicode text (a lone surrogate)"
    return value, ""


def _coerce_numbers(values: pd.Series, column: Column) -> tuple[pd.Series, pd.DataFrame]:
    present = values.notna().to_numpy()
    nothing = np.zeros(len(values), dtype="int64")
    if pd.api.types.is_bool_dtype(values.dtype):
        numbers, reasons = nothing, np.where(present, "is a boolean, not a number", "")
    elif pd.api.types.is_complex_dtype(values.dtype):
        numbers, reasons = nothing, np.where(present, "is not a number", "")
    elif pd.api.types.is_integer_dtype(values.dtype):
        numbers, reasons = _from_integers(values, column, present)
    elif pd.api.types.is_float_dtype(values.dtype):
        numbers, reasons = _from_floats(_as_float64(values), column)
    else:
        numbers, reasons = _from_objects_numbers(values, column, present)

    reasons = np.asarray(reasons, dtype=object)
    usable = present & (reasons == "")
    if column.kind == "float":
        # InfluxDB answers -0.0 as 0, so the sign of a zero cannot make the trip.
        numbers = np.where(numbers == 0, 0.0, numbers)
    result = pd.Series(_masked(numbers, usable, column), index=values.index)

    low, high = column.minimum, column.maximum
    outside = np.zeros(len(values), dtype=bool)
    if low is not None:
        outside |= (result < low).to_numpy(dtype=bool, na_value=False)
    if high is not None:
        outside |= (result > high).to_numpy(dtype=bool, na_value=False)
    reasons = np.where(outside, _range_text(column), reasons)
    result = result.mask(outside)

    unfit = pd.Series(reasons != "", index=values.index)
    problems = (
        _problems(unfit, values, column.name, pd.Series(reasons, index=values.index))
        if unfit.any()
        else _problems_frame()
    )
    return result, problems


def _masked(numbers: np.ndarray, usable: np.ndarray, column: Column):
    """A nullable array of the column's dtype: ``numbers`` where usable, NA elsewhere."""
    if column.kind == "integer":
        return pd.arrays.IntegerArray(np.where(usable, numbers, 0).astype("int64"), ~usable)
    return pd.arrays.FloatingArray(np.where(usable, numbers, 0).astype("float64"), ~usable)


def _from_integers(values: pd.Series, column: Column, present: np.ndarray):
    if values.dtype.kind == "u" or str(values.dtype).startswith("UInt"):
        big = (values > np.iinfo("int64").max).to_numpy(dtype=bool, na_value=False)
        ints = values.where(~big, 0).to_numpy("int64", na_value=0)
        reasons = np.where(big, "does not fit a 64-bit integer", "").astype(object)
    else:
        ints = values.to_numpy("int64", na_value=0)
        reasons = np.full(len(values), "", dtype=object)

    if column.kind == "float":
        lossy = present & (ints.astype("float64").astype("int64") != ints)
        reasons = np.where(lossy, "has more digits than a float holds", reasons)
        return ints.astype("float64"), reasons
    return ints, reasons


def _as_float64(values: pd.Series) -> np.ndarray:
    """Float64 values (NaN where NA); narrower floats through their shortest text."""
    width = np.dtype(getattr(values.dtype, "numpy_dtype", values.dtype))
    if width.itemsize >= 8:
        return values.to_numpy("float64", na_value=np.nan)
    # numpy writes each float32 with the fewest digits that read back as it.
    return values.to_numpy(width, na_value=np.nan).astype(str).astype("float64")


def _float_text(value) -> str:
    """The shortest text of a float scalar in its own width (float32 0.1 is "0.1")."""
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        return str(value)
    return repr(float(value))


def _from_floats(floats: np.ndarray, column: Column):
    # Reasons are set where they apply: building them with np.where would make a
    # Python string for every row.
    reasons = np.full(len(floats), "", dtype=object)
    reasons[np.isinf(floats)] = "is infinite, which InfluxDB cannot store"
    if column.kind == "float":
        return floats, reasons

    finite = np.where(np.isfinite(floats), floats, 0.0)
    fractional = finite != np.floor(finite)
    too_big = np.abs(finite) >= 2.0**63
    reasons[fractional] = "is not a whole number"
    reasons[too_big] = "does not fit a 64-bit integer"
    return np.where(fractional | too_big, 0, finite).astype("int64"), reasons


def _from_objects_numbers(values: pd.Series, column: Column, present: np.ndarray):
    parsed = [
        _parse_number(v, column.kind) if p else (None, "")
        for v, p in zip(values, present, strict=True)
    ]
    reasons = np.array([r for _, r in parsed], dtype=object)
    dtype = "int64" if column.kind == "integer" else "float64"
    numbers = np.array([0 if v is None else v for v, _ in parsed], dtype=dtype)
    return numbers, reasons


def _parse_number(value, kind: str) -> tuple[object, str]:
    """One value of an object column as a number of ``kind``, or the reason it is not."""
    if isinstance(value, bool | np.bool_):
        return None, "is a boolean, not a number"
    if isinstance(value, int | np.integer):
        exact = Decimal(int(value))
    elif isinstance(value, float | np.floating):
        if np.isnan(value):
            return None, ""
        if np.isinf(value):
            return None, "is infinite, which InfluxDB cannot store"
        # A float's exact value for integers (2.0**60 is 1152921504606846976), its
        # shortest text for floats (0.1 stays 0.1).
        exact = Decimal(float(value)) if kind == "integer" else Decimal(_float_text(value))
    elif isinstance(value, Decimal | str):
        try:
            exact = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            return None, "is not a number"
        if exact.is_nan():
            return None, "is not a number"
        if exact.is_infinite():
            return None, "is infinite, which InfluxDB cannot store"
    else:
        return None, "is not a number"

    if kind == "integer":
        if exact != exact.to_integral_value():
            return None, "is not a whole number"
        whole = int(exact)
        if not -(2**63) <= whole < 2**63:
            return None, "does not fit a 64-bit integer"
        return whole, ""

    number = float(exact)
    if Decimal(repr(number)) != exact:
        return None, "has more digits than a float holds"
    return number, ""


def _range_text(column: Column) -> str:
    """Why a value out of the column's bounds is refused, in words ("0 to inf" is not)."""
    low, high = column.minimum, column.maximum
    if high is None:
        return "is negative" if low == 0 else f"is below {low:g}"
    if low is None:
        return f"is above {high:g}"
    return f"is outside the range {low:g} to {high:g}"
