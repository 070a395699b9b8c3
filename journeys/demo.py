"""The whole toolkit once: generate, write, read back, analyse, plot.

:func:`run_demo` is what ``journeys demo`` runs. Without a server address it
starts a throwaway InfluxDB (:class:`journeys.LocalInfluxDB`) and stops it at
the end, so it leaves no process behind.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from journeys.analysis import funnel, rental_lag, rental_lag_summary, scroll_depth
from journeys.client import InfluxDB
from journeys.config import Settings
from journeys.generate import generate
from journeys.local import LocalInfluxDB
from journeys.plots import plot_funnel, plot_rental_lag, plot_scroll_depth

__all__ = ["DEMO_DATABASE", "DEMO_FOLDER", "DemoResult", "run_demo"]

#: The database the demo writes to unless told otherwise. Writing the same seeded
#: events again stores nothing twice, so the demo can be rerun against one server.
DEMO_DATABASE = "journeys_demo"

#: Where the demo saves its plots unless told otherwise, below the current folder.
DEMO_FOLDER = "journeys-demo"

logger = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo found; ``str()`` gives the report ``journeys demo`` prints."""

    server: str
    users: int
    active_users: int
    generated: int
    written: int
    read: int
    funnel: pd.DataFrame
    rental_lag: pd.DataFrame
    scroll_depth: pd.DataFrame
    folder: Path
    plots: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        same = "all equal"
        if not self.generated == self.written == self.read:
            same = (
                "NOT EQUAL: the database held other events in this period already; "
                "use a new one with --database"
            )
        lag = self.rental_lag.iloc[0]
        lag_lines = [
            f"  rentals                  {int(lag['rentals']):>10,}",
            f"  viewed                   {int(lag['viewed']):>10,}",
            f"  not viewed by the end    {lag['never_viewed_share']:>10.1%}",
            f"  viewed within 24 h       {lag['viewed_within_24h_share']:>10.1%}",
            f"  half viewed after        {_hours(lag['median_lag_hours'])}",
            f"  90 % viewed after        {_hours(lag['p90_lag_hours'])}",
            "  (shares and times of all rentals, Kaplan-Meier: rentals not viewed by the end",
            "  count until then)",
        ]
        return "\n".join(
            [
                f"InfluxDB: {self.server}",
                f"users simulated {self.users:,}, of whom {self.active_users:,} came in the "
                "period",
                f"events generated {self.generated:,}, written {self.written:,}, "
                f"read back {self.read:,} ({same})",
                "",
                "Funnel (users)",
                _funnel_text(self.funnel),
                "",
                "Rental lag",
                *lag_lines,
                "",
                "Scroll depth (share of pageviews read to each depth)",
                _scroll_text(self.scroll_depth),
                "",
                f"Plots saved in {self.folder}:",
                *(f"  {p.name}" for p in self.plots),
            ]
        )


def run_demo(
    *,
    url: str | None = None,
    database: str | None = None,
    token: str | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    users: int = 3000,
    days: int = 30,
    start: str = "2024-05-01",
    seed: int = 7,
    folder: str | Path | None = None,
    step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate a month of journeys, write them, read them back and analyse them.

    Parameters
    ----------
    url, database, token : str, optional
        The server to use; the address and token left out come from the
        environment (see :mod:`journeys.config`), the database is
        :data:`DEMO_DATABASE` unless given. With no address at all, a throwaway
        server is started and stopped.
    users, days, start, seed :
        What to generate; see :func:`journeys.generate`.
    folder : str or Path, optional
        Where the PNG plots go; :data:`DEMO_FOLDER` by default.
    step : callable, optional
        Called with a short text before each step, to show progress.
    """
    say = step or logger.info
    settings = Settings.resolve(url, database=database or DEMO_DATABASE, token=token)
    folder = (Path(folder) if folder else Path(DEMO_FOLDER)).resolve()
    folder.mkdir(parents=True, exist_ok=True)

    say(f"generating {days} days of journeys for {users:,} users (seed {seed})")
    events = generate(users=users, days=days, start=start, seed=seed)
    first = pd.Timestamp(start, tz="UTC")
    last = first + pd.Timedelta(days=days)

    with contextlib.ExitStack() as stack:
        if settings.url is None:
            say("starting a throwaway InfluxDB")
            server = stack.enter_context(LocalInfluxDB(database=settings.database))
            address = f"throwaway InfluxDB at {server.url} (stopped when the demo ends)"
            settings = Settings(url=server.url, database=settings.database)
        else:
            address = f"{settings.url}, database {settings.database}"
        db = stack.enter_context(
            InfluxDB(
                settings.url,
                database=settings.database,
                token=settings.token,
                timeout=timeout,
                retries=retries,
            )
        )

        say(f"writing {len(events):,} events")
        report = db.write(events)

        say("reading them back")
        back = db.query(first, last)

    say("analysing")
    result = DemoResult(
        server=address,
        users=users,
        active_users=events["user_id"].nunique(),
        generated=len(events),
        written=report.written,
        read=len(back),
        funnel=funnel(back),
        rental_lag=rental_lag_summary(back),
        scroll_depth=scroll_depth(back),
        folder=folder,
    )
    result.plots = _save_plots(back, result, folder)
    return result


def _save_plots(events: pd.DataFrame, result: DemoResult, folder: Path) -> list[Path]:
    drawings = {
        "funnel.png": lambda ax: plot_funnel(result.funnel, ax=ax),
        "rental_lag.png": lambda ax: plot_rental_lag(rental_lag(events), ax=ax),
        "scroll_depth.png": lambda ax: plot_scroll_depth(result.scroll_depth, ax=ax),
    }
    paths = []
    for name, draw in drawings.items():
        # A bare Figure needs no pyplot backend, so a notebook's stays untouched.
        figure = Figure(figsize=(7, 4.5), layout="tight")
        draw(figure.subplots())
        figure.savefig(folder / name, dpi=110)
        paths.append(folder / name)
    return paths


def _hours(value: float) -> str:
    """A lag in hours for the summary; Kaplan-Meier leaves it NaN when never reached."""
    if pd.isna(value):
        return f"{'not reached':>12}"
    return f"{value:>10.1f} h"


def _funnel_text(table: pd.DataFrame) -> str:
    """The funnel with shares in percent and times to convert in whole minutes."""
    shown = table[["step_number", "step", "entered", "conversion", "step_conversion"]].copy()
    for name in ("conversion", "step_conversion"):
        shown[name] = shown[name].map(lambda v: f"{v:.1%}")
    for name, title in (
        ("median_time_from_previous", "median_time"),
        ("p90_time_from_previous", "p90_time"),
    ):
        shown[title] = table[name].map(_duration)
    return shown.to_string(index=False)


def _duration(value) -> str:
    """A time to convert, to the minute (``3h 12m``, ``2d 4h``); empty for the first step."""
    if pd.isna(value):
        return ""
    minutes = int(round(pd.Timedelta(value).total_seconds() / 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def _scroll_text(table: pd.DataFrame) -> str:
    """The reach table with depths as percents of the page and shares in percent."""
    shown = table.copy()
    shown["threshold"] = shown["threshold"].map(lambda v: f"{v:g} %")
    for name in ("share", "drop_off"):
        shown[name] = shown[name].map(lambda v: f"{v:.1%}")
    return shown.to_string(index=False)
