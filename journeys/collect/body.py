"""Reading the body of a request into JSON values, or saying exactly why it cannot be.

A body is read in four steps, each refusing what it cannot read with a
:class:`BodyError` that carries the HTTP status to answer:

1. Its size: more than ``max_body_bytes`` as sent is 413.
2. Its ``Content-Type``: ``application/json``, ``text/plain`` (what
   ``navigator.sendBeacon`` sends with a text, without a CORS preflight) or
   none; a ``charset`` other than UTF-8 or any other type is 415.
3. Its ``Content-Encoding``: none, ``identity`` or ``gzip`` (``x-gzip``);
   gzip is inflated a bounded piece at a time, so a small body that inflates
   to more than ``max_body_bytes`` (a zip bomb) is 413 before it fills the
   memory, and of at most :data:`MAX_GZIP_MEMBERS` members (400 beyond); another
   encoding is 415.
4. Its text: strict UTF-8 (a byte order mark is dropped, as browsers do);
   an invalid byte, including an encoded lone surrogate, is 400 with its byte
   offset in the inflated body. Then JSON, strictly: ``NaN`` and
   ``Infinity``, which Python would read, are not JSON and are 400 like any
   syntax error, with the character offset. Of an object with a key twice,
   the last value counts, as in JavaScript.

The JSON must be an event (an object), which becomes a list of one, or an
array of at most ``max_events`` of them (more is 413). An empty body or
another JSON value is 400. What the array holds is checked event by event by
:func:`journeys.collect.contract.check_events`, so one bad event does not
refuse the others.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from typing import TYPE_CHECKING

from journeys.errors import JourneysError

if TYPE_CHECKING:
    from journeys.collect.contract import Limits

__all__ = ["BodyError", "parse_body"]

_TYPES = ("application/json", "text/plain", "")
_CHARSETS = ("utf-8", "utf8")
_GZIP = ("gzip", "x-gzip")
_BOM = b"\xef\xbb\xbf"
#: The most gzip members a body may hold: each costs an inflater, and a body of
#: thousands of empty members would hold the event loop for seconds.
MAX_GZIP_MEMBERS = 64
# The constants Python's json reads but JSON does not have, found outside strings.
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


class BodyError(JourneysError, ValueError):
    """A request body that cannot be read at all; no event of it is taken.

    Like every error of journeys it is a :class:`~journeys.errors.JourneysError`.

    Attributes
    ----------
    status : int
        The HTTP status to answer: 400 (not UTF-8 JSON, empty, not an event
        or array), 413 (too large) or 415 (a type or encoding not taken).
    message : str
        What is wrong and where, and what to send instead.
    position : int or None
        Where reading broke: the byte offset in the inflated body for UTF-8,
        the character offset in its text for JSON; None when no place applies.
    """

    def __init__(self, status: int, message: str, position: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.position = position


class _ConstantError(ValueError):
    """A constant (NaN, Infinity) that Python's json reads but JSON does not have."""


def _refuse_constant(name: str):
    raise _ConstantError(name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_body(
    body: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
    limits: Limits,
) -> list:
    """The JSON values a request body holds: one per event sent.

    Parameters
    ----------
    body : bytes
        The body as received.
    content_type, content_encoding : str or None
        The request's ``Content-Type`` and ``Content-Encoding`` headers.
    limits : Limits
        The bounds: ``max_body_bytes`` (as sent, and inflated) and
        ``max_events``.

    Returns
    -------
    list
        The body's object as a list of one, or its array; the values are
        whatever JSON held, for :func:`~journeys.collect.contract.check_events`.

    Raises
    ------
    BodyError
        When the body cannot be read, with the status, message and position.

    Examples
    --------
    >>> from journeys.collect.contract import Limits, parse_body
    >>> parse_body(b'{"event_type": "pageview"}', content_type="text/plain",
    ...            content_encoding=None, limits=Limits())
    [{'event_type': 'pageview'}]
    """
    if len(body) > limits.max_body_bytes:
        raise BodyError(
            413,
            f"the body is {len(body):,} bytes, more than the {limits.max_body_bytes:,} "
            "allowed: send fewer events per request",
        )
    _check_content_type(content_type)
    body = _decoded(body, content_encoding, limits.max_body_bytes)

    text = _text(body)
    if not text.strip():
        raise BodyError(
            400,
            "the body is empty: send one event as a JSON object, or several as an array "
            'of objects, such as {"event_type": "pageview"}',
        )
    value = _json(text)

    if type(value) is dict:
        return [value]
    if type(value) is not list:
        raise BodyError(
            400,
            f"the body is {describe_json(value)}, but events are JSON objects: send one event "
            'as an object, such as {"event_type": "pageview"}, or several as an array of them',
        )
    if len(value) > limits.max_events:
        raise BodyError(
            413,
            f"the body holds {len(value):,} events, more than the {limits.max_events:,} "
            "allowed in one request: send them in several requests",
        )
    return value


def _check_content_type(content_type: str | None) -> None:
    if not content_type:
        return
    media, *parameters = content_type.split(";")
    media = media.strip().lower()
    if media not in _TYPES:
        raise BodyError(
            415,
            f"the content type {media!r} is not taken: send the events as JSON with "
            "Content-Type application/json, or text/plain as navigator.sendBeacon does",
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        value = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and value not in _CHARSETS:
            raise BodyError(415, f"the charset {value!r} is not taken: send the events as UTF-8")


def _decoded(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in _GZIP:
        raise BodyError(
            415,
            f"the content encoding {encoding!r} is not taken: send the body as it is, "
            "or gzip-compressed with Content-Encoding gzip",
        )
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes:
    """The inflated body, at most ``limit`` bytes of it, member after member."""
    pieces, size, rest = [], 0, body
    while rest:
        if len(pieces) == MAX_GZIP_MEMBERS:
            raise BodyError(
                400,
                f"the gzip body holds more than {MAX_GZIP_MEMBERS} members: compress the "
                "body as one gzip stream",
            )
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            piece = inflater.decompress(rest, limit - size + 1)
        except zlib.error as exc:
            raise BodyError(
                400,
                f"the body is not gzip as Content-Encoding says ({exc}): send it as gzip, "
                "or leave Content-Encoding out",
            ) from None
        size += len(piece)
        if size > limit:
            raise BodyError(
                413,
                f"the body inflates to more than the {limit:,} bytes allowed: send fewer "
                "events per request",
            )
        if not inflater.eof:
            raise BodyError(400, "the gzip body is cut short: send the whole of it")
        pieces.append(piece)
        rest = inflater.unused_data
    return b"".join(pieces)


def _text(body: bytes) -> str:
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = body[exc.start : exc.end].hex(" ")
        raise BodyError(
            400,
            f"the body is not UTF-8: byte {exc.start} ({bad}) {exc.reason}; send the events "
            "as UTF-8 text",
            exc.start,
        ) from None


def _json(text: str):
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BodyError(
            400,
            f"the body is not JSON: {exc.msg}: line {exc.lineno} column {exc.colno} "
            f"(char {exc.pos})",
            exc.pos,
        ) from None
    except _ConstantError as exc:
        position = next(m.start(1) for m in _CONSTANT.finditer(text) if m.group(1))
        line = text.count("\n", 0, position) + 1
        column = position - text.rfind("\n", 0, position)
        raise BodyError(
            400,
            f"the body is not JSON: {exc} is not a JSON value: line {line} column {column} "
            f"(char {position}); send numbers as numbers, or leave the field out",
            position,
        ) from None
    except RecursionError:
        raise BodyError(
            400, "the body is not JSON that can be read: it nests arrays or objects too deep"
        ) from None
    except ValueError as exc:
        # Python refuses to read integers of more than 4,300 digits (a guard against
        # slow conversions); its message advises a setting of the server's, not the sender.
        digits = sys.get_int_max_str_digits()
        found = re.search(rf"\d{{{digits + 1},}}", text) if digits else None
        if found is None:
            raise BodyError(400, f"the body is not JSON that can be read: {exc}") from None
        position = found.start()
        line = text.count("\n", 0, position) + 1
        column = position - text.rfind("\n", 0, position)
        raise BodyError(
            400,
            f"the body holds a number of {len(found.group()):,} digits at line {line} column "
            f"{column} (char {position}), more than the {digits:,} this collector reads; no "
            "column holds such a number: send it within its column's range, or leave it out",
            position,
        ) from None


def describe_json(value) -> str:
    """How a JSON value is called in a message: null, true, an array, the text "abc", 3.5."""
    if value is None:
        return "null"
    if type(value) is bool:
        return str(value).lower()
    if type(value) is list:
        return "an array"
    if type(value) is dict:
        return "an object"
    if type(value) is str:
        return "the text " + json.dumps(value if len(value) <= 40 else value[:40] + "...")
    return repr(value)
