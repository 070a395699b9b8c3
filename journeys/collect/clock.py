"""When an event happened: the client's time, read and corrected for a wrong clock.

An event may carry two times, both by the client's clock: ``time``, when the
event happened, and ``sent_at``, when the request carrying it was sent. Each is
either an ISO 8601 text with a zone (``"2023-11-14T22:13:20.123Z"``,
``"2023-11-14T23:13:20+01:00"``; a time without a zone is refused, since it
could be any of 26 hours) or a JSON number of milliseconds since 1970 UTC, as
JavaScript's ``Date.now()`` gives. Fractions of a second are kept to the
nanosecond in a text and to the microsecond in a number.

A leap second (``"2016-12-31T23:59:60Z"``, or ``"2017-01-01T00:59:60+01:00"``)
is taken as the last instant of the second before it, 23:59:59.999999999 UTC,
whatever its fraction: InfluxDB's times, like Unix time and JavaScript's, have
no leap seconds, and this keeps the event in its day and after the events of
23:59:59 (systems without leap seconds fold it into 23:59:59 too, or smear
it). Whether the day had a leap second is not checked (no list is kept);
``:60`` at any other time than 23:59 UTC is refused.

The collector's own clock at receipt, ``received`` (milliseconds), is the only
one that can be trusted. The event's time is, with ``t`` its ``time``, ``s``
its ``sent_at`` and ``tolerance`` the :attr:`~journeys.collect.contract.Limits.skew_tolerance`:

- no ``time``: the event happened when it was received, ``received``;
- no ``sent_at``, or ``|received − s| ≤ tolerance``: the client's clock is
  trusted, ``t``;
- otherwise the clock is off by about ``skew = received − s``, and the time is
  ``t + skew``, which is ``received − (s − t)``: the time between the event and
  its sending, as the client measured it, counted back from the receipt. This
  is Snowplow's *derived timestamp*.

The correction folds the network delay (from ``s`` to ``received``) into the
skew, so a slow network moves the time later by the delay, never earlier, and
the guard ``t ≤ s + tolerance`` (an event cannot happen after the request
carrying it was sent; refused otherwise) keeps a corrected time at most the
tolerance after ``received`` (a trusted one at most twice the tolerance).
Within the tolerance nothing is corrected, so a good clock and a short delay
leave the client's time exactly as sent.

An example: a client clock 30 s behind, an event at 12:00:00 (true time), the
request sent at 12:00:10 and 2.5 s on the way. The client sends ``t`` 11:59:30
and ``s`` 11:59:40; the collector receives at 12:00:12.5, so the skew is 32.5 s
and the time 12:00:02.5: off by the network delay, not by the clock.

The time found must then lie within ``max_future`` after ``received`` and
``max_age`` before it (see :class:`~journeys.collect.contract.Limits`), and
inside the times InfluxDB can store.
"""

from __future__ import annotations

import math
import re
from datetime import date

from journeys.collect.body import describe_json
from journeys.schema import MAX_TIME, MIN_TIME

__all__ = ["event_time", "parse_client_time"]

_EXAMPLE = '"2023-11-14T22:13:20.123Z"'
# ASCII digits only: Python's \d would take "٢٠٢٣" for 2023, JavaScript's would not.
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000

#: The epoch milliseconds InfluxDB can store: the nanosecond bounds of the schema.
MIN_MS = -(-MIN_TIME // _NS_PER_MS)
MAX_MS = MAX_TIME // _NS_PER_MS

#: The end of a text in a JSON Schema pattern, for ECMA-262 and Python ``re`` alike:
#: Python's ``$`` also matches before a final line break.
END = r"(?![\s\S])"

#: The pattern of a time text, for the JSON Schema: ``[0-9]``, since Python's ``\d``
#: takes other digits too.
ISO_PATTERN = (
    r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3])"
    r":[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])" + END
)


def parse_client_time(value: object) -> tuple[int, str]:
    """A client time as nanoseconds since the epoch, or the reason it is not one.

    Parameters
    ----------
    value : object
        What ``json.loads`` made of the JSON value: a str (ISO 8601 with a zone)
        or an int or float (epoch milliseconds).

    Returns
    -------
    (int, str)
        The nanoseconds and ``""``, or ``0`` and a sentence saying what was
        expected, what came and what to send instead.
    """
    kind = type(value)
    if kind is str:
        return _from_text(value)
    if kind is int:
        if not MIN_MS <= value <= MAX_MS:
            return 0, _outside(value)
        return value * _NS_PER_MS, ""
    if kind is float:
        if not math.isfinite(value) or not MIN_MS <= value <= MAX_MS:
            return 0, _outside(value)
        # Kept to the microsecond, rounding half up, as JavaScript's Math.round does.
        return math.floor(value * 1000 + 0.5) * 1000, ""
    if kind is bool:
        return 0, f"is {str(value).lower()}, not a time: send {_EXAMPLE} or epoch milliseconds"
    return 0, f"is {describe_json(value)}, not a time: send {_EXAMPLE} or epoch milliseconds"


def _from_text(text: str) -> tuple[int, str]:
    match = _ISO.fullmatch(text)
    if match is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        return 0, (
            f"is {shown!r}, not an ISO 8601 time: send a date and time with a zone such as "
            f"{_EXAMPLE}, or epoch milliseconds as a number"
        )
    year, month, day, hour, minute, second, fraction, utc, sign, off_h, off_m = match.groups()
    if utc is None and sign is None:
        return 0, (
            f"is {text!r}, a time without a zone, which could be any of 26 hours: add 'Z' "
            "for UTC or the offset of the client's clock, such as '+01:00'"
        )

    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return 0, f"is {text!r}, whose date does not exist: send a real date"
    hour, minute, second = int(hour), int(minute), int(second)
    if hour > 23 or minute > 59 or second > 60:
        return 0, f"is {text!r}, whose time of day does not exist: send 00:00:00 to 23:59:59"
    offset = 0
    if sign is not None:
        if int(off_h) > 23 or int(off_m) > 59:
            return 0, f"is {text!r}, whose offset does not exist: send -23:59 to +23:59"
        offset = (int(off_h) * 3600 + int(off_m) * 60) * (1 if sign == "+" else -1)

    leap = second == 60
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - leap - offset
    if leap:
        # A leap second: InfluxDB's times (like Unix time) have none. It is stored
        # as the last nanosecond of 23:59:59 UTC, so it stays in its day, in order.
        if seconds % 86400 != 86399:
            return 0, (
                f"is {text!r}, a leap second (:60) at a time none can be: they come at "
                "23:59:60 UTC only; send :59"
            )
        nanos = seconds * _NS_PER_S + _NS_PER_S - 1
    else:
        nanos = seconds * _NS_PER_S + (int(fraction[:9].ljust(9, "0")) if fraction else 0)
    if not MIN_TIME <= nanos <= MAX_TIME:
        return 0, _outside(text)
    return nanos, ""


def event_time(
    time: int | None,
    sent_at: int | None,
    *,
    received: int,
    skew_tolerance: int,
    max_future: int,
    max_age: int | None,
) -> tuple[int, str, str]:
    """The event's time after the skew correction of the module docstring, checked.

    Parameters
    ----------
    time, sent_at : int or None
        The client's ``time`` and ``sent_at`` in nanoseconds, None when absent.
    received : int
        The collector's clock at receipt, in nanoseconds.
    skew_tolerance, max_future : int
        The skew up to which the client's clock is trusted, and how far after
        ``received`` an event may lie, in nanoseconds.
    max_age : int or None
        How far before ``received`` an event may lie, in nanoseconds; None for
        no bound but InfluxDB's.

    Returns
    -------
    (int, str, str)
        The time in nanoseconds and ``""`` twice, or ``0``, the field at fault
        (``"time"``) and the reason.
    """
    if time is None:
        return received, "", ""

    corrected = time
    if sent_at is not None:
        if time > sent_at + skew_tolerance:
            return (
                0,
                "time",
                (
                    f"is {_seconds(time - sent_at)} after sent_at, but an event happens before "
                    "the request that carries it is sent: send the time the event happened as "
                    "time and the time of sending as sent_at, both by the client's clock"
                ),
            )
        skew = received - sent_at
        if abs(skew) > skew_tolerance:
            corrected = time + skew

    if corrected - received > max_future:
        advice = (
            "fix the client's clock"
            if sent_at is not None
            else (
                "send sent_at, the client's clock when sending, so that the collector can "
                "correct it, or fix the client's clock"
            )
        )
        return (
            0,
            "time",
            (
                f"is {_seconds(corrected - received)} after the collector received it, more than "
                f"the {_seconds(max_future)} allowed: {advice}"
            ),
        )
    if max_age is not None and received - corrected > max_age:
        hint = ""
        if abs(time) < 10**17:
            hint = (
                " (it lies in 1970: epoch times are milliseconds, and this looks like "
                "seconds; multiply them by 1000)"
            )
        return (
            0,
            "time",
            (
                f"is {_seconds(received - corrected)} before the collector received it, more than "
                f"the {_seconds(max_age)} allowed{hint}: send events when they happen, or "
                "import old ones with `journeys write`"
            ),
        )
    if not MIN_TIME <= corrected <= MAX_TIME:
        return (
            0,
            "time",
            (
                "lies, once corrected for the client's clock, outside the times InfluxDB can "
                "store (1677-09-21 to 2262-04-11): send the time and sent_at by the same clock"
            ),
        )
    return corrected, "", ""


def _seconds(nanos: int) -> str:
    """A duration in words: "30.000 s", "2.5 days"."""
    seconds = nanos / _NS_PER_S
    if abs(seconds) >= 2 * 86400:
        return f"{seconds / 86400:,.1f} days"
    return f"{seconds:,.3f} s".replace(".000 s", " s")


def _outside(value: object) -> str:
    return (
        f"is {value!r}, outside the times InfluxDB can store (1677-09-21 to 2262-04-11): "
        f"send {_EXAMPLE} or epoch milliseconds"
    )
