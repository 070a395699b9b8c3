"""Fitting the values of a write to the field types the server already holds.

InfluxDB keeps one type per field and shard: once ``rental_duration`` was
stored as a float (by another tool, or an old version of a pipeline), a line
that carries it as an integer (``48i``) is refused. Before writing, the writer
reads the types of the measurement's fields (``SHOW FIELD KEYS``) and

- writes a value in the stored type where nothing is lost: an integer into a
  float field as that float (``48.0``; integers beyond 2**53 would be rounded
  and are refused), a float without a fraction into an integer field as that
  integer (``20i``);
- writes every other value in the schema's type (text into a float field, a
  float with a fraction into an integer field, a number into a string field).

The types are read for the whole measurement, while the server keeps them
per shard (a week of data by default): a value that does not fit the stored
type may still be right for a shard of another week, which starts with the
schema's type. So the writer does not refuse such a value itself: the server
refuses it where its shard holds the other type, and the writer reports that
row with the column, the stored type and what to do
(:func:`stored_type_problem`), while the other rows land.

# Limitation: a field held in several types (by different shards) is written
# in the schema's type, without coercion; reading the types per shard would
# need the shard metadata that InfluxDB 1.x gives to administrators only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeys.client import quote_identifier
from journeys.errors import ServerError
from journeys.schema import Layout

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = ["coerce_to_stored", "stored_field_types", "stored_type_problem"]

logger = logging.getLogger(__name__)

#: Integers a float holds exactly.
_EXACT_IN_FLOAT = 2**53

_CONFLICT = re.compile(
    r'input field "((?:[^"\\]|\\.)*)" on measurement .* is type (\w+), '
    r"already exists as type (\w+)"
)


@dataclass(frozen=True)
class StoredLayout(Layout):
    """A layout whose fields are written in the types the server holds.

    Attributes
    ----------
    kinds : tuple of (str, str)
        The fields written in another type than the schema's, and that type.
    """

    kinds: tuple[tuple[str, str], ...] = ()

    def kind(self, column: str) -> str:
        """The type ``column`` is written in: the stored one where it differs."""
        for name, kind in self.kinds:
            if name == column:
                return kind
        return super().kind(column)


def stored_field_types(client: InfluxDB, measurement: str) -> dict[str, set[str]]:
    """The types the server holds for each field of ``measurement`` (in any shard)."""
    try:
        results = client.influxql(f"SHOW FIELD KEYS FROM {quote_identifier(measurement)}")
    except ServerError as exc:
        if "database not found" in exc.message:
            return {}
        raise
    types: dict[str, set[str]] = {}
    for series in results[0].get("series", []):
        for key, kind in series["values"]:
            types.setdefault(key, set()).add(kind)
    return types


def coerce_to_stored(
    frame: pd.DataFrame, layout: Layout, stored: dict[str, set[str]]
) -> tuple[Layout, np.ndarray]:
    """The layout that writes fields in their stored type, and the rows it fits.

    Parameters
    ----------
    frame : pandas.DataFrame
        A validated events frame.
    layout : Layout
        The layout it is written in.
    stored : dict
        The stored types of each field, from :func:`stored_field_types`.

    Returns
    -------
    layout : Layout
        ``layout`` itself, or a :class:`StoredLayout` that writes the fields
        held in one other type in that type.
    fits : numpy.ndarray of bool
        The rows whose every value keeps its exact value in that layout. The
        other rows are written in the schema's types, for the server to take
        them into shards that hold those types, and to refuse them, by name,
        in shards that do not.
    """
    kinds = []
    fits = np.ones(len(frame), dtype=bool)
    for name in layout.fields:
        ours = layout.kind(name)
        theirs = stored.get(name, set())
        if len(theirs) != 1 or ours in theirs or name not in frame.columns:
            continue
        (target,) = theirs
        values = frame[name]
        present = values.notna().to_numpy()
        if not present.any() or {ours, target} != {"float", "integer"}:
            continue
        kinds.append((name, target))
        fits &= _fits(values, ours, target) | ~present
        logger.info("writing %s as %s, the type the server holds", name, target)

    if not kinds:
        return layout, fits
    return StoredLayout(layout.name, layout.tags, layout.measurement, tuple(kinds)), fits


def stored_type_problem(reason: str) -> tuple[str | None, str]:
    """The field a server's type conflict names, and the reason said plainly.

    InfluxDB answers ``field type conflict: input field "purchase_value" on
    measurement "events" is type float, already exists as type string``.
    """
    found = _CONFLICT.search(reason)
    if found is None:
        return None, reason
    name, ours, theirs = found.groups()
    return name, (
        f"field type conflict: the server already holds {name} as {theirs} at this time "
        f"(its shard), and a {ours} cannot be stored in it; write into another database, or "
        f"convert the stored field ({reason})"
    )


def _fits(values: pd.Series, ours: str, target: str) -> np.ndarray:
    """Which values keep their exact value in the stored type."""
    if ours == "integer" and target == "float":
        integers = values.to_numpy(dtype="int64", na_value=0)
        return (integers >= -_EXACT_IN_FLOAT) & (integers <= _EXACT_IN_FLOAT)
    if ours == "float" and target == "integer":
        numbers = values.to_numpy(dtype="float64", na_value=0)
        return (np.floor(numbers) == numbers) & (np.abs(numbers) < 2**63)
    return np.zeros(len(values), dtype=bool)
