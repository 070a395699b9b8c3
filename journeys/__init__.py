"""journeys: record, simulate and analyse customer journeys stored in InfluxDB.

A notebook reads like this::

    import journeys as jy

    with jy.LocalInfluxDB() as server:           # or jy.connect(url) for your own
        db = jy.connect(server.url)
        events = jy.generate(users=2000, days=30, seed=7)
        db.write(events)
        back = db.query("2024-05-01", "2024-06-01")
        jy.funnel(back)

Everything public is importable from here; see ``__all__``.
"""

from journeys.analysis import (
    Step,
    funnel,
    funnel_dropoffs,
    funnel_users,
    kaplan_meier,
    rental_lag,
    rental_lag_check,
    rental_lag_curve,
    rental_lag_summary,
    scroll_depth,
    sessions,
)
from journeys.client import InfluxDB, connect, connect_or_start
from journeys.errors import (
    CardinalityWarning,
    JourneysError,
    JourneysWarning,
    LineProtocolError,
    LocalServerError,
    SchemaError,
    ServerError,
    SkippedRowsWarning,
    StoredTypeWarning,
    TimeUnitWarning,
    ValidationError,
    WriteError,
)
from journeys.files import read_events, save_events
from journeys.generate import as_generator, generate
from journeys.lineprotocol import to_lines
from journeys.local import LocalInfluxDB
from journeys.plots import (
    plot_funnel,
    plot_funnel_breakdown,
    plot_rental_lag,
    plot_scroll_depth,
)
from journeys.schema import COLUMNS, EVENT_TYPES, LAYOUTS, Column, Layout, dtypes, get_layout
from journeys.validate import split_valid, validate
from journeys.write import WriteReport, estimate_series

__version__ = "0.1.0"

__all__ = [
    "COLUMNS",
    "EVENT_TYPES",
    "LAYOUTS",
    "CardinalityWarning",
    "Column",
    "InfluxDB",
    "JourneysError",
    "JourneysWarning",
    "Layout",
    "LineProtocolError",
    "LocalInfluxDB",
    "LocalServerError",
    "SchemaError",
    "ServerError",
    "SkippedRowsWarning",
    "Step",
    "StoredTypeWarning",
    "TimeUnitWarning",
    "ValidationError",
    "WriteError",
    "WriteReport",
    "as_generator",
    "connect",
    "connect_or_start",
    "dtypes",
    "estimate_series",
    "funnel",
    "funnel_dropoffs",
    "funnel_users",
    "generate",
    "get_layout",
    "kaplan_meier",
    "plot_funnel",
    "plot_funnel_breakdown",
    "plot_rental_lag",
    "plot_scroll_depth",
    "read_events",
    "rental_lag",
    "rental_lag_check",
    "rental_lag_curve",
    "rental_lag_summary",
    "save_events",
    "scroll_depth",
    "sessions",
    "split_valid",
    "to_lines",
    "validate",
]
