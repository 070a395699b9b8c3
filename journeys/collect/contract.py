"""The event contract: what a client may send the collector, and what becomes of it.

Every collector of journeys (this Python service, and any other that runs the
shared test vectors of ``contract/vectors.json``) takes the same events and
refuses the same ones, for the same reasons. This module is the contract's
reference implementation; ``contract/events.schema.json``, made from it by
``python -m journeys.collect.contract``, states it as a JSON Schema (2020-12)
for the rules a schema can express.

An event
    A JSON object. Its keys are the columns of :data:`journeys.schema.COLUMNS`
    (``event_type`` required), except ``received_at``, which only the collector
    sets; and ``time`` and ``sent_at``, the client's clock when the event
    happened and when it was sent (see :mod:`journeys.collect.clock` for the
    formats and the skew correction). Any other key refuses the event, naming
    the key and listing the valid ones: a misspelt ``scrol_depth`` is never
    dropped silently, even when its value is ``null``. Otherwise ``null`` is the
    same as an absent key.
Strings
    A string column takes a JSON string only (an id sent as a number is refused
    rather than guessed at), of 1 to :attr:`~journeys.schema.Column.max_length`
    characters (code points, as Python and JSON Schema count them). An empty
    string is refused in every column: InfluxDB cannot store an empty tag, and
    one contract for every layout is simpler than one per layout; send ``null``
    or leave the key out instead. A string holding an unpaired surrogate (what
    a JSON ``"\\ud83d"``, a truncated emoji, decodes to) cannot be stored as
    UTF-8 and is refused. The columns that are a tag in some layout
    (:data:`TAG_COLUMNS`) follow the rules of tags in every layout: no line
    break, no backslash at the end or before a comma, equals sign or space.
    Everything else is escaped by the serializer, so no value can add a point.
Numbers
    A float column takes any JSON number, an integer column a number without a
    fraction (``3`` or ``3.0``, not ``3.5``); ``true`` and ``"3"`` are not
    numbers. Values must lie in the column's range (``scroll_depth`` 0 to 100,
    prices not negative), integers in 64 bits, and an integer for a float
    column must be one a float holds exactly. ``0`` is a value like any other
    and is kept.
Size
    An event's JSON, written compactly in UTF-8, may hold at most
    ``max_event_bytes``; the bound is checked before anything else.

An event is refused for the first problem found, checking the keys in the
order they were sent, then the missing ``event_type``, then the times; the
:class:`Rejected` result names the field and says what was expected, what came
and what to send instead. An accepted event becomes a :class:`Accepted` row:
the values present, converted to the column's Python type, with ``time`` in
nanoseconds and ``received_at`` in milliseconds.

The checks are plain Python over ``json.loads`` output, one precomputed check
per key, so a small event costs microseconds: no pandas and no JSON Schema
validator runs while serving.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

from journeys.collect.body import BodyError, describe_json, parse_body
from journeys.collect.clock import END, ISO_PATTERN, MAX_MS, MIN_MS, event_time, parse_client_time
from journeys.lineprotocol import tag_value_problem
from journeys.schema import COLUMNS, LAYOUTS, Column

__all__ = [
    "TAG_COLUMNS",
    "VALID_KEYS",
    "Accepted",
    "BodyError",
    "Limits",
    "Rejected",
    "check_events",
    "event_json_schema",
    "parse_body",
]

#: The keys a client sends besides the schema's columns.
TIME_KEYS = ("time", "sent_at")
#: The columns only the collector sets; sent by a client, they refuse the event.
COLLECTOR_COLUMNS = ("received_at",)
#: The columns that are a tag in some layout, and so follow the rules of tags.
TAG_COLUMNS = tuple(c.name for c in COLUMNS if any(c.name in lay.tags for lay in LAYOUTS.values()))

_INT64 = (-(2**63), 2**63 - 1)
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The bounds a collector puts on what it takes.

    Attributes
    ----------
    max_body_bytes : int
        The largest request body, as sent and again after inflating gzip:
        1 MiB.
    max_events : int
        The most events in one request: 500.
    max_event_bytes : int
        The largest event, as compact UTF-8 JSON: 32 KiB.
    skew_tolerance : float
        Seconds by which the client's clock (``sent_at``) may differ from the
        collector's and still be trusted as it is: 5. Beyond, the event's time
        is corrected (see :mod:`journeys.collect.clock`).
    max_future : float
        Seconds an event's time may lie after its receipt: 300.
    max_age : float or None
        Seconds an event's time may lie before its receipt: 30 days, room for
        an app that queued its events offline; None for no bound but
        InfluxDB's (1677 to 2262).

    Raises
    ------
    ValueError
        For a bound that is not a positive number.
    """

    max_body_bytes: int = 1_048_576
    max_events: int = 500
    max_event_bytes: int = 32_768
    skew_tolerance: float = 5.0
    max_future: float = 300.0
    max_age: float | None = 30 * 86400.0

    def __post_init__(self):
        for name in ("max_body_bytes", "max_events", "max_event_bytes"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"Limits.{name} must be a whole number above 0, not {value!r}")
        for name in ("skew_tolerance", "max_future", "max_age"):
            value = getattr(self, name)
            if value is None and name == "max_age":
                continue
            if type(value) not in (int, float) or not 0 <= value < math.inf:
                raise ValueError(
                    f"Limits.{name} must be a number of seconds, 0 or more, not {value!r}"
                )


@dataclass(frozen=True)
class Accepted:
    """An event that may be stored.

    Attributes
    ----------
    index : int
        Its position in the request, from 0.
    row : dict
        Column name to value (str, float or int) for the columns sent, plus
        ``"time"`` (int nanoseconds since 1970 UTC, after the skew
        correction), ``"received_at"`` (int milliseconds) and ``"event_id"``
        when it was sent.
    """

    index: int
    row: dict


@dataclass(frozen=True)
class Rejected:
    """An event that is refused, and why.

    Attributes
    ----------
    index : int
        Its position in the request, from 0.
    field : str or None
        The key at fault; None when the event as a whole is (not an object,
        too large).
    reason : str
        A sentence: what was expected, what came, and what to send instead.
    """

    index: int
    field: str | None
    reason: str


# A check takes a JSON value (never None) and returns the stored value and "",
# or None and the reason it is refused.
Check = Callable[[object], tuple[object, str]]


def _string_check(column: Column, tag: bool) -> Check:
    longest = column.max_length

    def check(value):
        if type(value) is not str:
            return None, f"is {describe_json(value)}, not text: send it as a JSON string"
        if not value:
            return None, "is empty: leave the key out or send null when there is no value"
        if longest is not None and len(value) > longest:
            return None, (
                f"has {len(value):,} characters, more than the {longest:,} allowed: "
                "send a shorter value"
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return None, (
                    f"holds an unpaired surrogate (U+{ord(value[exc.start]):04X} at character "
                    f"{exc.start}), as a cut emoji leaves, which is not text: send whole "
                    "characters"
                )
        if tag and ("\\" in value or "\n" in value or "\r" in value):
            problem = tag_value_problem(value)
            if problem:
                return None, (
                    f"{problem} ({describe_json(value)}); {column.name} is stored as a tag, so "
                    "send it without"
                )
        return value, ""

    return check


def _number(value) -> str:
    """A number in a message: 0, 100, 0.5, 1e+20, and 123456789...(4001 digits)."""
    if type(value) is float and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = repr(value)
    return text if len(text) <= 30 else f"{text[:20]}...({len(text)} digits)"


def _range_check(column: Column, low, high) -> Callable[[object, object], str]:
    """The check of ``low <= number <= high``; the message names the column's own range."""
    both = column.minimum is not None and column.maximum is not None

    def outside(number, sent) -> str:
        if (low is None or number >= low) and (high is None or number <= high):
            return ""
        if both:
            return (
                f"is {_number(sent)}, outside the range {_number(low)} to {_number(high)}: "
                "send a value in the range"
            )
        if number < low:
            least = _number(low)
            return f"is {_number(sent)}, below the least allowed, {least}: send {least} or more"
        most = _number(high)
        return f"is {_number(sent)}, above the most allowed, {most}: send {most} or less"

    return outside


def _float_check(column: Column) -> Check:
    outside = _range_check(column, column.minimum, column.maximum)

    def check(value):
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return None, "is infinite, which InfluxDB cannot store: send a finite number"
            number = value + 0.0  # -0.0 becomes 0.0, since InfluxDB answers 0 for it
        elif kind is int:
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            # Limitation: a collector in JavaScript cannot see this, since its JSON.parse
            # rounds such integers as it reads them, so the shared vectors leave it out;
            # a JSON parser that keeps big integers would let it check the same.
            if number != value:
                return None, (
                    f"is {_number(value)}, with more digits than a float holds: send at most 15 "
                    "significant digits"
                )
        else:
            return None, f"is {describe_json(value)}, not a number: send a JSON number"
        reason = outside(number, value)
        return (None, reason) if reason else (number + 0.0, "")

    return check


def _integer_check(column: Column) -> Check:
    low = _INT64[0] if column.minimum is None else max(column.minimum, _INT64[0])
    high = _INT64[1] if column.maximum is None else min(column.maximum, _INT64[1])
    outside = _range_check(column, low, high)

    def check(value):
        kind = type(value)
        if kind is int:
            number = value
        elif kind is float and value.is_integer():
            number = int(value)
        elif kind is float:
            if not math.isfinite(value):
                return None, "is infinite, which InfluxDB cannot store: send a whole number"
            return None, f"is {value!r}, not a whole number: send a number without a fraction"
        else:
            return None, f"is {describe_json(value)}, not a number: send a whole JSON number"
        reason = outside(number, value)
        return (None, reason) if reason else (number, "")

    return check


def _collector_check(value):
    return None, (
        "is set by the collector when it receives the event, never by a client: leave it "
        "out, and send the client's clock as time (when the event happened) and sent_at "
        "(when it was sent)"
    )


def _checks() -> dict[str, Check]:
    checks: dict[str, Check] = {}
    for column in COLUMNS:
        if column.name in COLLECTOR_COLUMNS:
            checks[column.name] = _collector_check
        elif column.kind == "string":
            checks[column.name] = _string_check(column, column.name in TAG_COLUMNS)
        elif column.kind == "float":
            checks[column.name] = _float_check(column)
        else:
            checks[column.name] = _integer_check(column)
    for key in TIME_KEYS:
        checks[key] = parse_client_time
    return checks


_CHECKS = _checks()
#: The keys an event may have, in schema order (the JSON Schema's ``properties``).
VALID_KEYS = tuple(k for k in _CHECKS if k not in COLLECTOR_COLUMNS)
# An event whose text is at most this many characters cannot exceed the byte
# limit however it is escaped (a character takes at most 6 bytes, as \u001f).
_SAFE_FACTOR = 6
_LONG = 10**20


def check_events(items: list, *, received_at: int, limits: Limits) -> list[Accepted | Rejected]:
    """Check each event of a request against the contract.

    Parameters
    ----------
    items : list
        The JSON values :func:`parse_body` returned.
    received_at : int
        The collector's clock when the request arrived, in milliseconds since
        1970 UTC: the time of events without ``time``, and the reference of the
        skew correction and of ``max_future`` and ``max_age``.
    limits : Limits
        The bounds to apply.

    Returns
    -------
    list of Accepted or Rejected
        One result per item, in order.

    Examples
    --------
    >>> from journeys.collect.contract import Limits, check_events
    >>> check_events([{"event_type": "scroll", "scroll_depth": 0}],
    ...              received_at=1_700_000_000_000, limits=Limits())[0].row
    {'event_type': 'scroll', 'scroll_depth': 0.0, 'time': 1700000000000000000, \
'received_at': 1700000000000}
    >>> check_events([{"event_type": "scroll", "scroll_depth": 101}],
    ...              received_at=1_700_000_000_000, limits=Limits())[0].reason
    'is 101, outside the range 0 to 100: send a value in the range'
    """
    if type(received_at) is not int:
        raise TypeError(f"received_at must be int milliseconds since 1970, not {received_at!r}")
    received = received_at * _NS_PER_MS
    tolerance = int(limits.skew_tolerance * _NS_PER_S)
    future = int(limits.max_future * _NS_PER_S)
    age = None if limits.max_age is None else int(limits.max_age * _NS_PER_S)
    return [
        _check_one(index, item, received_at, received, tolerance, future, age, limits)
        for index, item in enumerate(items)
    ]


def _check_one(index, item, received_at, received, tolerance, future, age, limits):
    if type(item) is not dict:
        return Rejected(
            index,
            None,
            f"is {describe_json(item)}, but an event is a JSON object: send it as "
            '{"event_type": ..., ...}',
        )
    too_big = _size_problem(item, limits.max_event_bytes)
    if too_big:
        return Rejected(index, None, too_big)

    row = {}
    checks = _CHECKS
    for key, value in item.items():
        check = checks.get(key)
        if check is None:
            return Rejected(index, _printable(key), _unknown_key(key))
        if value is None and check is not _collector_check:
            continue
        stored, reason = check(value)
        if reason:
            return Rejected(index, key, reason)
        row[key] = stored

    if "event_type" not in row:
        return Rejected(
            index,
            "event_type",
            'is missing: every event needs an event_type, such as "pageview"',
        )
    nanos, field, reason = event_time(
        row.pop("time", None),
        row.pop("sent_at", None),
        received=received,
        skew_tolerance=tolerance,
        max_future=future,
        max_age=age,
    )
    if reason:
        return Rejected(index, field, reason)
    row["time"] = nanos
    row["received_at"] = received_at
    return Accepted(index, row)


def _size_problem(item: dict, limit: int) -> str:
    """Why an event is too large, or "" when it is not; exact only when it may be."""
    # An upper bound of the text's characters: the keys and their quotes, the
    # strings, 24 for any other value (the longest float is 24 characters).
    estimate = 2 + 4 * len(item) + sum(map(len, item))
    for value in item.values():
        kind = type(value)
        if kind is str:
            estimate += len(value)
        elif kind is list or kind is dict or (kind is int and not -_LONG < value < _LONG):
            estimate = limit  # nested values and long integers: measure exactly
            break
        else:
            estimate += 24
    if estimate * _SAFE_FACTOR <= limit:
        return ""

    text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return ""
    return (
        f"is {size:,} bytes of JSON, more than the {limit:,} allowed for one event: send "
        "shorter values"
    )


def _printable(key: str) -> str:
    """The key, with lone surrogates written as ``\\udxxx`` so that it can be sent as UTF-8."""
    if key.isascii():
        return key
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _unknown_key(key: str) -> str:
    shown = key if len(key) <= 40 else key[:40] + "..."
    # The valid keys are not listed in each rejection: 500 events with a wrong key made
    # an answer of 225 KB. The collector's answer lists them once, as valid_keys (they
    # are VALID_KEYS, and the properties of the JSON Schema).
    return (
        f"is not a key of an event ({json.dumps(shown)}): use one of valid_keys, or leave it out"
    )


def _property(column: Column) -> dict:
    """The JSON Schema of one column's values."""
    schema: dict = {"description": column.description}
    if column.kind == "string":
        schema["type"] = "string"
        schema["minLength"] = 1
        if column.max_length is not None:
            schema["maxLength"] = column.max_length
        if column.name in TAG_COLUMNS:
            # No line break; a backslash only before a character a tag keeps.
            schema["pattern"] = r"^(?:[^\\\r\n]|\\(?=[^ ,=\r\n]))*" + END
    else:
        schema["type"] = "number" if column.kind == "float" else "integer"
        low, high = column.minimum, column.maximum
        if column.kind == "integer" and low is None:
            low = _INT64[0]
        if low is not None:
            schema["minimum"] = low
        if high is not None:
            schema["maximum"] = high
        elif column.kind == "integer":
            # 2**63 itself, not 2**63 - 1, which a double (JavaScript's numbers) cannot hold.
            schema["exclusiveMaximum"] = _INT64[1] + 1
    return schema


def _time_property(description: str) -> dict:
    return {
        "description": description,
        "anyOf": [
            {
                "type": "string",
                "pattern": ISO_PATTERN,
                "description": "ISO 8601 (RFC 3339) with Z or an offset",
            },
            {
                "type": "number",
                "minimum": MIN_MS,
                "maximum": MAX_MS,
                "description": "milliseconds since 1970-01-01T00:00:00Z",
            },
            {"type": "null"},
        ],
    }


def event_json_schema() -> dict:
    """The JSON Schema (2020-12) of an event, made from :data:`journeys.schema.COLUMNS`.

    It states every rule of the contract a JSON Schema can express: the keys,
    the types, the ranges, the lengths, the tag rules and the time formats.
    What it cannot express (unpaired surrogates, dates such as February 30,
    integers a float cannot hold, the size of an event, the clock rules) only
    the collector checks. ``contract/events.schema.json`` is this schema; write
    it anew with ``python -m journeys.collect.contract > contract/events.schema.json``.

    Returns
    -------
    dict
        A new dict each call.
    """
    properties: dict = {}
    for column in COLUMNS:
        if column.name in COLLECTOR_COLUMNS:
            properties[column.name] = {
                "description": f"{column.description}; set by the collector, never by a client",
                "not": {},
            }
            continue
        schema = _property(column)
        if column.name != "event_type":
            schema["type"] = [schema["type"], "null"]
        properties[column.name] = schema
    properties["time"] = _time_property(
        "when the event happened, by the client's clock; absent: when it was received"
    )
    properties["sent_at"] = _time_property(
        "when the request was sent, by the client's clock: corrects a clock that is off"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:journeys:contract:events",
        "title": "A journeys event",
        "description": (
            "One event a page or app sends to a journeys collector, as one JSON object "
            "(or one item of an array of them). Generated from journeys.schema by "
            "`python -m journeys.collect.contract`; do not edit."
        ),
        "type": "object",
        "required": ["event_type"],
        "additionalProperties": False,
        "properties": properties,
    }


def main() -> None:
    """Write :func:`event_json_schema` to standard output, as the shipped file holds it."""
    sys.stdout.write(json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
