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

from journeys.aggregate import count_events
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
    ConfigError,
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
from journeys.files import iter_events, read_events, save_event_chunks, save_events
from journeys.generate import as_generator, generate, generate_chunks, simulate
from journeys.lineprotocol import to_lines
from journeys.local import LocalInfluxDB
from journeys.plots import (
    plot_funnel,
    plot_funnel_breakdown,
    plot_rental_lag,
    plot_scroll_depth,
)
from journeys.schema import COLUMNS, EVENT_TYPES, LAYOUTS, Column, Layout, dtypes, get_layout
from journeys.servers import Server, detect_server
from journeys.simulation_config import SimulationConfig, load_config
from journeys.truth import GroundTruth
from journeys.validate import split_valid, validate
from journeys.write import WriteReport, estimate_series

__version__ = "0.1.0"

__all__ = [
    "COLUMNS",
    "EVENT_TYPES",
    "LAYOUTS",
    "CardinalityWarning",
    "Column",
    "ConfigError",
    "GroundTruth",
    "InfluxDB",
    "JourneysError",
    "JourneysWarning",
    "Layout",
    "LineProtocolError",
    "LocalInfluxDB",
    "LocalServerError",
    "SchemaError",
    "Server",
    "ServerError",
    "SimulationConfig",
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
    "count_events",
    "detect_server",
    "dtypes",
    "estimate_series",
    "funnel",
    "funnel_dropoffs",
    "funnel_users",
    "generate",
    "generate_chunks",
    "get_layout",
    "iter_events",
    "kaplan_meier",
    "load_config",
    "plot_funnel",
    "plot_funnel_breakdown",
    "plot_rental_lag",
    "plot_scroll_depth",
    "read_events",
    "rental_lag",
    "rental_lag_check",
    "rental_lag_curve",
    "rental_lag_summary",
    "save_event_chunks",
    "save_events",
    "scroll_depth",
    "sessions",
    "simulate",
    "split_valid",
    "to_lines",
    "validate",
]
