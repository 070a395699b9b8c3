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

Lines are built a column at a time, never a row at a time: each column
becomes an Arrow text array of ``,key=value`` pieces (null where the value is
missing, so a missing first field leaves no stray comma), and Arrow's string
kernels join the pieces of all rows at once. A tag column is escaped once per
distinct value. Arrow writes floats with the digits of Python's ``repr``; whole
numbers get their ``.0`` added, and the rare magnitudes outside 1e-4 to 1e10,
where Arrow's form differs, are written by Python. Only rows that share a
timestamp are compared for ties.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
# Only a tag value holding one of these may be one a tag cannot carry.
_SUSPICIOUS = r"[\\\n\r]"

# Lines are built column by column with Arrow's string kernels, in 64-bit
# offsets so that a batch may exceed 2 GB of text.
_TEXT = pa.large_string()
# What goes before a field: nothing before a row's first, a comma before the
# others, nothing either (a null) where the field is missing.
_COMMAS = pa.array(["", ",", None], type=_TEXT)

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
        return "has a backslash at its end, which a tag cannot carry"
    if any("\\" + special in value for special in _TAG_SPECIALS):
        return "holds a backslash before a comma, equals sign or space, which a tag cannot carry"
    return ""


def _tag_problems(values: pd.Series) -> pd.Series:
    """The reason each string of ``values`` cannot be a tag value ("" where it can).

    The reasons are Arrow strings, so that ``reasons != ""`` is quick.
    """
    reasons = pd.Series("", index=values.index, dtype="string[pyarrow]")
    if not _holds_bytes(_strings(values), b"\\\n\r"):
        return reasons
    suspicious = values.str.contains(_SUSPICIOUS, regex=True, na=False)
    if suspicious.any():
        reasons[suspicious] = [tag_value_problem(v) for v in values[suspicious]]
    return reasons


def _strings(values: pd.Series) -> pa.Array:
    """The strings of a column as one Arrow array, null where NA (no copy for Arrow text)."""
    source = values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy()
    array = pa.array(source, type=_TEXT, from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _join(*parts, separator: str = "", missing: str | None = None) -> pa.Array:
    """Join text arrays and scalars row by row; a null part makes a null row, or ``missing``."""
    if missing is None:
        return pc.binary_join_element_wise(*parts, _text(separator))
    return pc.binary_join_element_wise(
        *parts, _text(separator), null_handling="replace", null_replacement=missing
    )


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _TEXT)


def _escape_tag_values(values: pa.Array) -> pa.Array:
    for special in _TAG_SPECIALS:
        values = pc.replace_substring(values, special, "\\" + special)
    return values


def _field_text(values: pd.Series, kind: str, key: str) -> tuple[pa.Array, np.ndarray]:
    """``key=value`` for each value of a field column (null where NA), and where present."""
    present = values.notna().to_numpy()
    prefix = _text(f"{key}=")
    if not present.any():
        return pa.nulls(len(values), type=_TEXT), present
    if kind == "string":
        return _per_distinct(_strings(values), lambda text: _string_field(prefix, text)), present
    if kind == "integer":
        numbers = values.to_numpy(dtype="int64", na_value=0)
        return _join(prefix, pc.cast(pa.array(numbers, mask=~present), _TEXT), _text("i")), present
    if kind == "float":
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.isinf(numbers) & present
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise LineProtocolError(
                f"row {row}, column {values.name}: {numbers[row]} is infinite, which line "
                "protocol cannot carry"
            )
        present = present & ~np.isnan(numbers)
        return _float_text(numbers, present, prefix), present
    raise ValueError(f"unknown field kind {kind!r}")


def _string_field(prefix: pa.Scalar, text: pa.Array) -> pa.Array:
    if _holds_bytes(text, b'\\"'):
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    return _join(prefix, _text('"'), text, _text('"'))


def _holds_bytes(text: pa.Array, chars: bytes) -> bool:
    """Whether the bytes of ``text`` hold any of the ASCII ``chars``.

    A quick scan of the whole data buffer, which spares the string kernels in
    the common case. In UTF-8 an ASCII byte is always that character; bytes
    just outside a sliced array can only make the answer a needless yes.
    """
    data = text.buffers()[2]
    if data is None:
        return False
    scanned = data.to_pybytes()  # bytes.find is a memchr, far quicker than numpy here
    return any(scanned.find(chars[i : i + 1]) >= 0 for i in range(len(chars)))


def _per_distinct(text: pa.Array, write) -> pa.Array:
    """``write(text)``, done once per distinct value when values repeat (ids, pages, ...)."""
    encoded = pc.dictionary_encode(text)
    if len(encoded.dictionary) > len(text) // 2:
        return write(text)
    return write(encoded.dictionary).take(encoded.indices)


def _float_text(numbers: np.ndarray, present: np.ndarray, prefix: pa.Scalar) -> pa.Array:
    """``prefix`` and each float as Python writes it (``repr``), null where not present.

    Arrow writes the same shortest digits as Python, fast, and in the same form
    from 1e-4 to 1e10 but for the ``.0`` of whole numbers; the rare values
    outside that range are written by Python itself.
    """
    text = pc.cast(pa.array(numbers, mask=~present), _TEXT)
    with np.errstate(invalid="ignore"):
        size = np.abs(numbers)
        usual = ((size >= 1e-4) & (size < 1e10)) | (numbers == 0)
        whole = present & usual & (numbers == np.floor(numbers))
    rare = present & ~usual
    if rare.any():
        written = pa.array([repr(float(n)) for n in numbers[rare]], type=_TEXT)
        text = pc.replace_with_mask(text, pa.array(rare), written)
    if not whole.any():
        return _join(prefix, text)
    return _join(prefix, text, pc.if_else(pa.array(whole), _text(".0"), _text("")))


def _refuse_tag_problems(tag: str, encoded: pa.DictionaryArray) -> None:
    """Raise for the first row whose tag value line protocol cannot carry."""
    distinct = encoded.dictionary
    if not pc.any(pc.match_substring_regex(distinct, _SUSPICIOUS)).as_py():
        return
    problems = [tag_value_problem(v) if v is not None else "" for v in distinct.to_pylist()]
    bad = [i for i, problem in enumerate(problems) if problem]
    if bad:
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        row = int(np.flatnonzero(np.isin(indices, bad))[0])
        value = distinct[int(indices[row])].as_py()
        raise LineProtocolError(f"row {row}, column {tag}: {value!r} {problems[indices[row]]}")


def _key_parts(frame: pd.DataFrame, layout: Layout) -> list[pa.Array]:
    """The measurement and each ``,tag=value`` (null where missing), to be joined."""
    parts = [pa.repeat(_text(escape_measurement(layout.measurement)), len(frame))]
    for tag in sorted(layout.tags):
        if tag not in frame.columns:
            continue
        # Tags hold few distinct values: each is checked and written once, then
        # spread to its rows.
        encoded = pc.dictionary_encode(_strings(frame[tag]))
        _refuse_tag_problems(tag, encoded)
        escaped = _escape_tag_values(encoded.dictionary)
        escaped = pc.if_else(pc.equal(escaped, ""), pa.scalar(None, _TEXT), escaped)
        pair = _join(_text(f",{escape_key(tag)}="), escaped)
        parts.append(pair.take(encoded.indices))
    return parts


def _field_parts(frame: pd.DataFrame, layout: Layout) -> list[pa.Array]:
    """Each ``key=value`` (null where missing) after its comma, to be joined.

    The first field of a row has no comma before it; a row without fields gets
    the marker field.
    """
    texts, present = [], []
    for name in layout.fields:
        if name in frame.columns:
            text, where = _field_text(frame[name], layout.kind(name), escape_key(name))
            if where.any():
                texts.append(text)
                present.append(where)
    anything = np.logical_or.reduce(present) if present else np.zeros(len(frame), dtype=bool)
    if not anything.all():
        marker = _text(f"{NO_FIELDS_FIELD}=true")
        texts.append(pc.if_else(pa.array(anything), pa.scalar(None, _TEXT), marker))
        present.append(~anything)

    parts, before = [], np.zeros(len(frame), dtype=bool)
    for text, where in zip(texts, present, strict=True):
        if before.any():
            comma = np.where(where, np.where(before, 1, 0), -1)
            parts.append(pc.take(_COMMAS, pa.array(np.where(comma < 0, 2, comma))))
        parts.append(text)
        before = before | where
    return parts


def _keys(frame: pd.DataFrame, layout: Layout) -> pa.Array:
    return _join(*_key_parts(frame, layout), missing="")


def _fields(frame: pd.DataFrame, layout: Layout) -> pa.Array:
    parts = _field_parts(frame, layout)
    return _join(*parts, missing="") if parts else pa.array([], type=_TEXT)


def series_keys(frame: pd.DataFrame, layout: str | Layout = "default") -> np.ndarray:
    """The series key of every row: the measurement and its tags, escaped and sorted.

    Raises
    ------
    LineProtocolError
        For a tag value line protocol cannot carry, naming its row and column.
    """
    return _keys(frame, get_layout(layout)).to_numpy(zero_copy_only=False)


def field_sets(frame: pd.DataFrame, layout: str | Layout = "default") -> np.ndarray:
    """The field section of every row's line (``no_fields=true`` where it has none)."""
    return _fields(frame, get_layout(layout)).to_numpy(zero_copy_only=False)


def _rows_of(text, rows: np.ndarray) -> pd.Series:
    """Some rows of texts given as a numpy array or an Arrow array, indexed by row."""
    if isinstance(text, pa.Array):
        chosen = text.take(pa.array(rows))
        return pd.Series(chosen, index=rows, dtype=pd.ArrowDtype(chosen.type))
    return pd.Series(text[rows], index=rows, dtype=object)


def _as_arrow(text) -> pa.Array:
    return text if isinstance(text, pa.Array) else pa.array(text, type=_TEXT)


def sequence_numbers(keys, times: np.ndarray, fields) -> np.ndarray:
    """Number the events that share a series key and a timestamp: 0, 1, 2, ...

    Within such a tie the events are numbered in the order of their field text,
    not of the rows, so the same events get the same numbers however a frame
    was sorted: writing back a frame that was read stores nothing twice.
    ``keys`` and ``fields`` may be numpy arrays of text or Arrow arrays.
    """
    sequence = np.zeros(len(keys), dtype="int64")

    # Only events that share a time can tie; most times are shared by none.
    rows = np.flatnonzero(pd.Index(times).duplicated(keep=False))
    if not rows.size:
        return sequence
    table = pd.DataFrame({"key": _rows_of(keys, rows), "time": times[rows]}, index=rows)
    tied = table.duplicated(["key", "time"], keep=False).to_numpy()
    if tied.any():
        ties = table[tied].assign(fields=_rows_of(fields, rows[tied]).to_numpy())
        ties = ties.sort_values(["key", "time", "fields"], kind="stable")
        sequence[ties.index.to_numpy()] = ties.groupby(["key", "time"], sort=False).cumcount()
    return sequence


def compose(keys, sequence: np.ndarray, fields, times: np.ndarray) -> list[str]:
    """Lines from their parts; a sequence number above 0 becomes the sequence tag.

    ``keys`` and ``fields`` may be numpy arrays of text or Arrow arrays.
    """
    parts = [_as_arrow(keys), _sequence_tags(sequence), _text(" "), _as_arrow(fields)]
    return _join(*parts, _text(" "), _stamps(times), missing="").to_pylist()


def _sequence_tags(sequence: np.ndarray) -> pa.Array:
    """``,event_seq=n`` where the sequence number is above 0, null elsewhere."""
    tied = sequence > 0
    numbers = pc.cast(pa.array(sequence, mask=~tied), _TEXT)
    return _join(_text(f",{SEQUENCE_TAG}="), numbers)


def _stamps(times: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(times, type=pa.int64()), _TEXT)


def _tie_numbers(keys: list[pa.Array], fields: list[pa.Array], times: np.ndarray) -> np.ndarray:
    """:func:`sequence_numbers` from the parts of keys and fields, joined only where needed."""
    sequence = np.zeros(len(times), dtype="int64")
    shared = np.flatnonzero(pd.Index(times).duplicated(keep=False))
    if shared.size:
        rows = pa.array(shared)
        key_text = _join(*(part.take(rows) for part in keys), missing="")
        field_text = _join(*(part.take(rows) for part in fields), missing="")
        sequence[shared] = sequence_numbers(key_text, times[shared], field_text)
    return sequence


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
    # The parts of all lines are joined at once, in one pass over the text.
    layout = get_layout(layout)
    keys, fields, times = _key_parts(frame, layout), _field_parts(frame, layout), frame.index.asi8
    ties = _sequence_tags(_tie_numbers(keys, fields, times))
    parts = [*keys, ties, _text(" "), *fields, _text(" "), _stamps(times)]
    return _join(*parts, missing="").to_pylist()
