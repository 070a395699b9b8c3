"""The events schema: its columns, their types, and how they map onto InfluxDB.

Every event is one point of the measurement ``events``; the point's time is the
event's time. A *layout* decides which columns become tags (indexed, part of
the series key) and which become fields.

Two layouts exist:

``"default"``
    Only the low-cardinality columns ``event_type``, ``device_type``,
    ``location`` and ``referral_source`` are tags; ``user_id`` and
    ``content_id`` are string fields. The number of series stays in the
    hundreds whatever the number of users.
``"published"``
    The layout of the original write-up of this schema, with ``user_id`` and
    ``content_id`` as tags too. On InfluxDB 1.x and 2.x that makes nearly every
    event its own series (one million events became one million series when
    measured, with ingest three times slower and counts fifty times slower), so
    writing it warns with the number of series it creates.

In memory an events frame is indexed by ``time`` (``datetime64[ns, UTC]``) and
holds the columns of :data:`COLUMNS` in that order, with the pandas dtypes of
:func:`dtypes`. :func:`journeys.validate` turns any reasonable frame into that
form, and :func:`journeys.InfluxDB.query` returns it.

The last two columns, ``event_id`` and ``received_at``, are set by the
collector (``journeys collect``) and empty for generated events: the id the
sender gave the event, for de-duplication (or ``c-`` and a UUID the collector
made for an event sent without one), and when the collector received it.
Both are fields in every layout, since each is unique or nearly so per event.

String lengths
    Every string column has a :attr:`Column.max_length`, in characters:
    ``event_id`` 64 (a UUID is 36, a ULID 26; room for a prefix), ``page_url``
    4,096 (Snowplow's limit for page URLs; URLs with campaign parameters pass
    the 2,048 of old browsers), every other string 256 (ids, event types and
    tags; Snowplow allows 255 for a user id). InfluxDB itself stores strings up
    to 64 KB; the limits are the schema's, so that what a collector accepts and
    what a file import accepts are the same, and no layout's tags, even every
    string column made a tag, can make a series key longer than the 65,535
    bytes InfluxDB allows. :func:`journeys.validate` (and so every write)
    and the collector refuse a longer string.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "COLUMNS",
    "EVENT_TYPES",
    "LAYOUTS",
    "MAX_TIME",
    "MEASUREMENT",
    "MIN_TIME",
    "NO_FIELDS_FIELD",
    "REQUIRED",
    "SEQUENCE_TAG",
    "SHORT_TEXT",
    "Column",
    "Layout",
    "column",
    "dtypes",
    "get_layout",
]

MEASUREMENT = "events"

#: The earliest and latest times InfluxDB stores, in nanoseconds since the epoch
#: (1677-09-21T00:12:43.145224194Z and 2262-04-11T23:47:16.854775806Z).
MIN_TIME = -9_223_372_036_854_775_806
MAX_TIME = 9_223_372_036_854_775_806

#: The columns a frame must have; every other column of the schema may be absent.
REQUIRED = ("time", "event_type")

#: A tag added only to the second, third, ... of several events that share a
#: series and a timestamp, numbering them 1, 2, ... so that none overwrites
#: another on the server; dropped again when reading.
SEQUENCE_TAG = "event_seq"

#: A field written only on events that have no field of their own (line protocol
#: needs one), so that they are stored too; dropped again when reading.
NO_FIELDS_FIELD = "no_fields"


@dataclass(frozen=True)
class Column:
    """One column of the events schema.

    Attributes
    ----------
    name : str
        The column's name, which is also its tag or field key.
    kind : {"string", "float", "integer"}
        The InfluxDB type of the value. Tags are always strings.
    description : str
        What the column holds, for documentation and error messages.
    minimum, maximum : float, optional
        The range a numeric value must lie in, both ends included.
    max_length : int, optional
        For a string column, the most characters (code points) a value may
        have; None for numeric columns.
    """

    name: str
    kind: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None

    def __post_init__(self):
        if self.kind not in _DTYPES:
            raise ValueError(f"column {self.name}: kind must be one of {list(_DTYPES)}")
        if self.max_length is not None and (self.kind != "string" or self.max_length < 1):
            raise ValueError(
                f"column {self.name}: max_length is a positive number of characters, for "
                f"string columns only, not {self.max_length!r} for a column of kind {self.kind!r}"
            )

    @property
    def dtype(self) -> pd.api.extensions.ExtensionDtype:
        """The nullable pandas dtype used for this column in memory."""
        return _DTYPES[self.kind]


_DTYPES = {
    "string": pd.StringDtype(),
    "float": pd.Float64Dtype(),
    "integer": pd.Int64Dtype(),
}

#: The longest text of a string column, in characters, unless it says otherwise.
SHORT_TEXT = 256

COLUMNS: tuple[Column, ...] = (
    Column(
        "event_type",
        "string",
        "what happened: pageview, scroll, transaction, ...",
        max_length=SHORT_TEXT,
    ),
    Column("content_id", "string", "the movie or page the event concerns", max_length=SHORT_TEXT),
    Column("user_id", "string", "who did it", max_length=SHORT_TEXT),
    Column("device_type", "string", "desktop, mobile, tablet or tv", max_length=SHORT_TEXT),
    Column("location", "string", "the city the user is in", max_length=SHORT_TEXT),
    Column(
        "referral_source",
        "string",
        "where the user came from: Google, Email, ...",
        max_length=SHORT_TEXT,
    ),
    Column("page_url", "string", "the page the event happened on", max_length=4096),
    Column("scroll_depth", "float", "how far down the page was read, in percent", 0, 100),
    Column(
        "interaction_type",
        "string",
        "search, click, filter, ... for interactions",
        max_length=SHORT_TEXT,
    ),
    Column("purchase_value", "float", "the price paid in a transaction", 0),
    Column("rental_duration", "integer", "how long a rental lasts, in hours", 0),
    Column("rental_popularity", "integer", "how popular the rented movie is", 0),
    Column(
        "time_lag_from_transaction",
        "integer",
        "on the first view after a rental: seconds since that rental",
        0,
    ),
    Column(
        "button_clicked",
        "string",
        "add_to_collection, set_reminder, share, ...",
        max_length=SHORT_TEXT,
    ),
    Column(
        "event_id",
        "string",
        "the id the sender gave the event (a UUID from the browser snippet), unique per "
        "event; empty for generated events",
        max_length=64,
    ),
    Column(
        "received_at",
        "integer",
        "when the collector received the event, in milliseconds since 1970 UTC; empty "
        "for generated events",
        0,
    ),
)

_BY_NAME = {c.name: c for c in COLUMNS}

#: The event types the generator emits. The vocabulary is open: any other
#: non-empty string is a valid ``event_type`` too.
EVENT_TYPES: tuple[str, ...] = (
    "pageview",
    "scroll",
    "interaction",
    "button_click",
    "transaction",
    "view",
)


@dataclass(frozen=True)
class Layout:
    """How the columns of the schema are stored in InfluxDB.

    Attributes
    ----------
    name : str
        The layout's name, as given to :func:`get_layout`.
    tags : tuple of str
        The columns stored as tags. Every other column is a field.
    measurement : str
        The measurement the events go to.
    """

    name: str
    tags: tuple[str, ...]
    measurement: str = MEASUREMENT

    @property
    def fields(self) -> tuple[str, ...]:
        """The columns stored as fields, in schema order."""
        return tuple(c.name for c in COLUMNS if c.name not in self.tags)

    def kind(self, column: str) -> str:
        """The InfluxDB type of a column: tags are strings whatever the schema says."""
        return "tag" if column in self.tags else _BY_NAME[column].kind


LAYOUTS: dict[str, Layout] = {
    "default": Layout("default", ("event_type", "device_type", "location", "referral_source")),
    "published": Layout(
        "published",
        ("event_type", "content_id", "user_id", "device_type", "location", "referral_source"),
    ),
}


def get_layout(layout: str | Layout = "default") -> Layout:
    """Return the layout of that name, or the layout itself when given one.

    Parameters
    ----------
    layout : str or Layout
        ``"default"`` or ``"published"``, or a :class:`Layout`.

    Raises
    ------
    SchemaError
        For an unknown name.
    """
    from journeys.errors import SchemaError

    if isinstance(layout, Layout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        names = ", ".join(repr(n) for n in LAYOUTS)
        raise SchemaError(f"unknown layout {layout!r}: choose one of {names}") from None


def dtypes() -> dict[str, pd.api.extensions.ExtensionDtype]:
    """The pandas dtype of every column of an events frame, in schema order."""
    return {c.name: c.dtype for c in COLUMNS}


def column(name: str) -> Column:
    """The :class:`Column` of that name (KeyError for a name outside the schema)."""
    return _BY_NAME[name]
