"""How the analyses read an events frame: columns, times, units and groups.

Every analysis works on plain numpy arrays taken once from the frame: the
events' times as int64 nanoseconds, and the keys that say whose event it is
as integer codes (``-1`` for a missing key). Rows are never reordered in the
caller's frame; an analysis sorts the arrays it took.

Groups (the values of a tag such as ``device_type`` that a result is broken
down by) share one convention: a missing value is the group ``"(missing)"``,
and groups too small to read are folded into ``"other"`` by :func:`fold_groups`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from journeys.errors import SchemaError

__all__ = [
    "MISSING_GROUP",
    "OTHER_GROUP",
    "CodedColumns",
    "codes",
    "fold_groups",
    "group_labels",
    "group_order",
    "has_time",
    "require",
    "times_ns",
]

#: The group of events whose breakdown column has no value.
MISSING_GROUP = "(missing)"

#: The group that small groups are folded into.
OTHER_GROUP = "other"

_NAT = np.iinfo(np.int64).min


def require(events: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise SchemaError naming the columns of ``columns`` that ``events`` lacks."""
    missing = [c for c in dict.fromkeys(columns) if c not in events.columns]
    if missing:
        raise SchemaError(
            f"{what} needs the column(s) {missing}, which the frame lacks; it has "
            f"{list(events.columns)}."
        )


def times_ns(events: pd.DataFrame) -> np.ndarray:
    """The events' times as int64 nanoseconds since the epoch (NaT as int64 min).

    The times are the frame's DatetimeIndex, or its ``time`` column when it has one.
    Naive times are taken as UTC.
    """
    if "time" in events.columns:
        column = events["time"]
        is_datetime = pd.api.types.is_datetime64_any_dtype(column.dtype)
        times = pd.DatetimeIndex(column.array if is_datetime else pd.to_datetime(column))
    elif isinstance(events.index, pd.DatetimeIndex):
        times = events.index
    else:
        raise SchemaError(
            "an events frame is indexed by its times (a DatetimeIndex named 'time'); got "
            f"an index of dtype {events.index.dtype}. Use frame.set_index('time')."
        )
    return np.asarray(times.as_unit("ns").asi8, dtype=np.int64)


def has_time(times: np.ndarray) -> np.ndarray:
    """Which of the int64 nanosecond times are not NaT."""
    return times != _NAT


def codes(values: pd.Series | pd.api.extensions.ExtensionArray) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values`` (``-1`` where missing) and the distinct values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # A categorical is coded already (categories never seen are harmless).
        categorical = pd.Categorical(values)
        return categorical.codes.astype(np.int64), pd.Index(categorical.categories)
    found, uniques = pd.factorize(values, use_na_sentinel=True)
    return found.astype(np.int64, copy=False), pd.Index(uniques)


def sort_codes(codes: np.ndarray) -> np.ndarray:
    """Codes ``0..n-1`` in the smallest unsigned dtype, which numpy sorts stably in linear time."""
    top = int(codes.max()) if len(codes) else 0
    for dtype in (np.uint8, np.uint16):
        if top <= np.iinfo(dtype).max:
            return codes.astype(dtype)
    return codes


def small_codes(found: np.ndarray, n_values: int) -> np.ndarray:
    """Codes from -1 to ``n_values - 1`` in the smallest signed dtype that holds them."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_values <= np.iinfo(dtype).max:
            return found.astype(dtype, copy=False)
    return found


class CodedColumns:
    """Which rows of ``events`` (or of ``rows`` of it) hold given values, for many steps.

    Each column is turned into integer codes once, in the smallest dtype that
    holds them, so that every step compares small integers, not text.
    """

    def __init__(self, events: pd.DataFrame, rows: np.ndarray | None = None) -> None:
        self._events = events
        self._rows = rows
        self._codes: dict[str, tuple[np.ndarray, pd.Index]] = {}

    def at(self, rows: np.ndarray) -> CodedColumns:
        """The same columns at ``rows`` only (codes made so far are taken along)."""
        taken = CodedColumns(self._events, rows)
        for column, (found, uniques) in self._codes.items():
            taken._codes[column] = (found[rows], uniques)
        return taken

    def isin(self, column: str, values: Iterable) -> np.ndarray:
        """Where ``column`` holds one of ``values``, as a bool array."""
        if column not in self._codes:
            found, uniques = codes(self._events[column].array)
            found = small_codes(found, len(uniques))
            self._codes[column] = (found if self._rows is None else found[self._rows], uniques)
        found, uniques = self._codes[column]
        wanted = np.unique(uniques.get_indexer(pd.Index(list(values), dtype=object)))
        wanted = wanted[wanted >= 0]
        if len(wanted) == 1:
            return found == wanted[0]
        return np.isin(found, wanted)


def group_labels(values) -> np.ndarray:
    """The breakdown groups of ``values`` as an object array of str, missing ones named."""
    series = pd.Series(values, copy=False)
    labels = series.astype(object).where(series.notna(), MISSING_GROUP)
    return labels.map(str).to_numpy(dtype=object)


def fold_groups(labels: np.ndarray, *, min_share: float) -> np.ndarray:
    """Fold the groups holding fewer than ``min_share`` of ``labels`` into ``"other"``.

    Parameters
    ----------
    labels : numpy.ndarray
        One group label per counted unit.
    min_share : float
        From 0 (keep every group) to 1. A group is folded when its share of the
        units is below this.

    Returns
    -------
    numpy.ndarray
        The labels, with those of small groups replaced by ``"other"``.
    """
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be between 0 and 1, got {min_share!r}.")
    if len(labels) == 0 or min_share == 0:
        return labels
    sizes = pd.Series(labels).value_counts()
    small = sizes.index[sizes / len(labels) < min_share]
    if len(small) == 0:
        return labels
    return np.where(pd.Series(labels).isin(small).to_numpy(), OTHER_GROUP, labels)


def group_order(labels: np.ndarray) -> list[str]:
    """The groups by size, largest first (ties by name), with ``"other"`` last."""
    sizes = pd.Series(labels).value_counts()
    ordered = sorted(sizes.items(), key=lambda item: (item[0] == OTHER_GROUP, -item[1], item[0]))
    return [name for name, _ in ordered]
