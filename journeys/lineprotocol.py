"""InfluxDB line protocol from an events frame, one column at a time.

A line is ``measurement,tag=value,... field=value,... timestamp``. The rules
followed here are those of InfluxDB's line protocol reference, checked against
a real InfluxDB 1.x server by the tests:

- measurement names escape commas and spaces; tag keys, tag values and field
  keys escape commas, equals signs and spaces, with a backslash;
- string field values are double-quoted and escape double quotes and
  backslashes; they may hold newlines;
- floats are written in their shortest exact form (``19.99``, ``20.0``,
  ``1e+20``); integers carry the suffix ``i``;
- a missing value (NA) is left out of its line; tags are written sorted by key,
  as the server stores them;
- timestamps are integer nanoseconds since the epoch.

Some values cannot be carried at all, and are refused by name rather than
changed: a tag value with a line break (it would end the line), and, because
1.x servers never unescape a backslash in a tag, a tag value that ends in a
backslash or has one just before a comma, an equals sign or a space.
Infinite floats have no line protocol form either.

Two choices make sure that every event becomes exactly one stored point:

- line protocol needs at least one field, so an event with tags only gets the
  boolean field :data:`~journeys.schema.NO_FIELDS_FIELD` ``=true``;
- the server keeps one point per series and timestamp, so of several events
  with the same tags and time, the second, third, ... get the tag
  :data:`~journeys.schema.SEQUENCE_TAG` ``=1``, ``2``, .... The first gets no
  such tag, so frames without such ties create no extra series, and writing the
  same frame twice stores each event once.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from journeys.errors import LineProtocolError
from journeys.schema import NO_FIELDS_FIELD, SEQUENCE_TAG, Layout, get_layout

__all__ = [
    "escape_key",
    "split_lines",
    "escape_measurement",
    "escape_string_field",
    "tag_value_problem",
    "to_lines",
]

_TAG_SPECIALS = (",", "=", " ")

# One line of line protocol. String fields may hold raw line breaks, so a file
# of lines cannot simply be split at each one.
_RECORD = re.compile(
    r"""(?:[^ \n\\]|\\.)+"""  # measurement and tags
    r""" (?:"(?:[^"\\]|\\.)*"|[^ \n"\\]|\\.)+"""  # fields, quoted strings whole
    r"""(?: -?\d+)?[ \t\r]*(?:\n|\Z)""",
    re.DOTALL,
)
_SKIPPED = re.compile(r"(?:#[^\n]*|[ \t\r]*)(?:\n|\Z)")


def escape_measurement(name: str) -> str:
    """Escape a measurement name: commas and spaces."""
    return name.replace(",", r"\,").replace(" ", r"\ ")


def escape_key(key: str) -> str:
    """Escape a tag key, tag value or field key: commas, equals signs and spaces."""
    if tag_value_problem(key):
        raise LineProtocolError(f"the key {key!r} {tag_value_problem(key)}")
    return key.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def escape_string_field(value: str) -> str:
    """Escape a string field value (without its quotes): backslashes, double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def split_lines(text: str) -> list[str]:
    """Split a text of line protocol into its lines, leaving out blanks and comments.

    Unlike ``str.splitlines``, this keeps line breaks inside quoted string
    fields, which line protocol allows, as they are.

    Raises
    ------
    LineProtocolError
        At the first text that is not line protocol, with its line number.
    """
    lines, position = [], 0
    while position < len(text):
        skipped = _SKIPPED.match(text, position)
        if skipped is not None and skipped.end() > position:
            position = skipped.end()
            continue
        record = _RECORD.match(text, position)
        if record is None:
            number = text.count("\n", 0, position) + 1
            snippet = text[position : position + 60].split("\n")[0]
            raise LineProtocolError(f"line {number} is not line protocol: {snippet!r}")
        lines.append(record.group().rstrip("\n").rstrip(" \t\r"))
        position = record.end()
    return lines


def tag_value_problem(value: str) -> str:
    """Why a tag value cannot be carried by line protocol, or ``""`` when it can."""
    if "\n" in value or "\r" in value:
        return "holds a line break, which a tag cannot carry"
    if value.endswith("\\"):
        return "ends in a backslash, which a tag cannot carry"
    if any("\\" + special in value for special in _TAG_SPECIALS):
        return "holds a backslash before a comma, equals sign or space, which a tag cannot carry"
    return ""


def _tag_problems(values: pd.Series) -> pd.Series:
    """The reason each string of ``values`` cannot be a tag value ("" where it can)."""
    suspicious = values.str.contains(r"[\\\n\r]", regex=True, na=False)
    reasons = pd.Series("", index=values.index, dtype=object)
    if suspicious.any():
        reasons[suspicious] = [tag_value_problem(v) for v in values[suspicious]]
    return reasons


def _escape_tag_values(values: pd.Series) -> pd.Series:
    return (
        values.str.replace(",", r"\,", regex=False)
        .str.replace("=", r"\=", regex=False)
        .str.replace(" ", r"\ ", regex=False)
    )


def _field_text(values: pd.Series, kind: str) -> np.ndarray:
    """Each value of a field column as line protocol text (undefined where NA)."""
    present = values.notna().to_numpy()
    if kind == "string":
        escaped = values.str.replace("\\", "\\\\", regex=False).str.replace(
            '"', '\\"', regex=False
        )
        return ('"' + escaped + '"').to_numpy(dtype=object, na_value="")
    if kind == "integer":
        numbers = values.to_numpy(dtype="int64", na_value=0)
        return np.char.add(numbers.astype(str), "i").astype(object)
    if kind == "float":
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.isinf(numbers) & present
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise LineProtocolError(
                f"row {row}, column {values.name}: {numbers[row]} is infinite, which line "
                "protocol cannot carry"
            )
        return numbers.astype(str).astype(object)
    raise ValueError(f"unknown field kind {kind!r}")


def series_keys(frame: pd.DataFrame, layout: str | Layout = "default") -> np.ndarray:
    """The series key of every row: the measurement and its tags, escaped and sorted.

    Raises
    ------
    LineProtocolError
        For a tag value line protocol cannot carry, naming its row and column.
    """
    layout = get_layout(layout)
    keys = np.full(len(frame), escape_measurement(layout.measurement), dtype=object)
    for tag in sorted(layout.tags):
        if tag not in frame.columns:
            continue
        values = frame[tag]
        problems = _tag_problems(values)
        if (problems != "").any():
            row = int(np.flatnonzero((problems != "").to_numpy())[0])
            raise LineProtocolError(
                f"row {row}, column {tag}: {values.iloc[row]!r} {problems.iloc[row]}"
            )
        escaped = _escape_tag_values(values).to_numpy(dtype=object, na_value="")
        present = np.flatnonzero(escaped != "")
        keys[present] = keys[present] + ("," + escape_key(tag) + "=" + escaped[present])
    return keys


def field_sets(frame: pd.DataFrame, layout: str | Layout = "default") -> np.ndarray:
    """The field section of every row's line (``no_fields=true`` where it has none)."""
    layout = get_layout(layout)
    fields = np.full(len(frame), "", dtype=object)
    for name in layout.fields:
        if name not in frame.columns:
            continue
        values = frame[name]
        present = np.flatnonzero(values.notna().to_numpy())
        text = _field_text(values, layout.kind(name))
        fields[present] += "," + escape_key(name) + "=" + text[present]
    fields[fields == ""] = f",{NO_FIELDS_FIELD}=true"
    return np.array([f[1:] for f in fields], dtype=object)


def sequence_numbers(keys: np.ndarray, times: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """Number the events that share a series key and a timestamp: 0, 1, 2, ...

    Within such a tie the events are numbered in the order of their field text,
    not of the rows, so the same events get the same numbers however a frame
    was sorted: writing back a frame that was read stores nothing twice.
    """
    table = pd.DataFrame({"key": keys, "time": times})
    tied = table.duplicated(["key", "time"], keep=False).to_numpy()
    sequence = np.zeros(len(keys), dtype="int64")
    if tied.any():
        ties = table[tied].assign(fields=fields[tied])
        ties = ties.sort_values(["key", "time", "fields"], kind="stable")
        sequence[ties.index.to_numpy()] = ties.groupby(["key", "time"], sort=False).cumcount()
    return sequence


def compose(
    keys: np.ndarray, sequence: np.ndarray, fields: np.ndarray, times: np.ndarray
) -> list[str]:
    """Lines from their parts; a sequence number above 0 becomes the sequence tag."""
    heads = keys.copy()
    tied = np.flatnonzero(sequence)
    if tied.size:
        heads[tied] = heads[tied] + f",{SEQUENCE_TAG}=" + sequence[tied].astype(str).astype(object)
    return list(heads + " " + fields + " " + times.astype(str).astype(object))


def to_lines(frame: pd.DataFrame, layout: str | Layout = "default") -> list[str]:
    """Serialise a validated events frame into one line of line protocol per row.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame as returned by :func:`journeys.validate`: indexed by UTC time,
        with the schema's columns and dtypes.
    layout : str or Layout
        Which columns become tags; see :mod:`journeys.schema`.

    Returns
    -------
    list of str
        The lines, in the order of the rows, without trailing newlines.

    Raises
    ------
    LineProtocolError
        For a value line protocol cannot carry, naming its row and column.

    Examples
    --------
    >>> import journeys as jy
    >>> import pandas as pd
    >>> events = jy.validate(pd.DataFrame({
    ...     "time": ["2023-05-17T00:05:00Z"], "event_type": ["transaction"],
    ...     "device_type": ["mobile"], "purchase_value": [19.99]}))
    >>> jy.to_lines(events)
    ['events,device_type=mobile,event_type=transaction purchase_value=19.99 1684282300000000000']
    """
    if len(frame) == 0:
        return []
    keys, fields = series_keys(frame, layout), field_sets(frame, layout)
    times = frame.index.asi8
    return compose(keys, sequence_numbers(keys, times, fields), fields, times)
