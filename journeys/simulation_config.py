"""What the journey simulation assumes: one documented, validated dataclass.

:class:`SimulationConfig` holds every number the generator uses, with
defaults that give a plausible movie-rental site. It is frozen, checked when
made (a bad value raises :class:`journeys.ConfigError` naming the field, or the
row of the Markov matrix, what was expected and what came), and can be read
from a TOML or JSON file with :func:`load_config`. Unknown keys are refused, so
a typo never silently falls back to a default.

A TOML file overrides only what it names::

    users = 1000
    days = 7
    weekend_factor = 1.5

    [transitions.pageview]      # one row of the Markov chain
    pageview = 0.15
    scroll = 0.55
    interaction = 0.18
    button_click = 0.07
    transaction = 0.05

    [end_probability]
    pageview = 0.12

Mixes (``device_mix``, ``price_mix``, ...) are tables of ``value = weight``;
weights need not sum to 1, they are shares of their total. A table given in a
file replaces the default table as a whole, except ``transitions`` and
``end_probability``, which replace the rows they name.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import numbers
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from journeys.errors import ConfigError

__all__ = ["CHAIN_STATES", "SimulationConfig", "load_config"]

#: The event types a session's Markov chain moves between. A session always
#: starts with a pageview; ``view`` events are not part of the chain, they
#: follow rentals after a lag.
CHAIN_STATES: tuple[str, ...] = (
    "pageview",
    "scroll",
    "interaction",
    "button_click",
    "transaction",
)


def _transitions() -> dict[str, dict[str, float]]:
    # Rows: the event just made; columns: the next event, given that the session
    # goes on. Rentals mostly come after a movie page was read or saved.
    return {
        "pageview": {
            "pageview": 0.15,
            "scroll": 0.55,
            "interaction": 0.18,
            "button_click": 0.09,
            "transaction": 0.03,
        },
        "scroll": {
            "pageview": 0.38,
            "scroll": 0.3,
            "interaction": 0.16,
            "button_click": 0.1,
            "transaction": 0.06,
        },
        "interaction": {
            "pageview": 0.7,
            "scroll": 0.05,
            "interaction": 0.15,
            "button_click": 0.05,
            "transaction": 0.05,
        },
        "button_click": {
            "pageview": 0.45,
            "scroll": 0.2,
            "interaction": 0.15,
            "button_click": 0.05,
            "transaction": 0.15,
        },
        "transaction": {
            "pageview": 0.55,
            "scroll": 0.05,
            "interaction": 0.3,
            "button_click": 0.1,
            "transaction": 0.0,
        },
    }


def _end_probability() -> dict[str, float]:
    return {
        "pageview": 0.12,
        "scroll": 0.15,
        "interaction": 0.1,
        "button_click": 0.15,
        "transaction": 0.5,
    }


def _hourly_profile() -> tuple[float, ...]:
    # Relative activity in each local hour 0..23: quiet at night, a lunch bump,
    # the evening peak. Taken as shares of their total.
    # fmt: off
    return (
        0.9, 0.5, 0.3, 0.2, 0.2, 0.3, 0.5, 0.8, 1.0, 1.0, 1.0, 1.1,
        1.3, 1.2, 1.1, 1.1, 1.2, 1.4, 1.7, 2.1, 2.4, 2.3, 1.9, 1.4,
    )
    # fmt: on


def _locations() -> dict[str, list]:
    # The 30 largest US cities by 2020 census population (city proper), with
    # their time zones: users live in them in proportion to population, and
    # keep local hours.
    return {
        "New York": [8_804_190, "America/New_York"],
        "Los Angeles": [3_898_747, "America/Los_Angeles"],
        "Chicago": [2_746_388, "America/Chicago"],
        "Houston": [2_304_580, "America/Chicago"],
        "Phoenix": [1_608_139, "America/Phoenix"],
        "Philadelphia": [1_603_797, "America/New_York"],
        "San Antonio": [1_434_625, "America/Chicago"],
        "San Diego": [1_386_932, "America/Los_Angeles"],
        "Dallas": [1_304_379, "America/Chicago"],
        "San Jose": [1_013_240, "America/Los_Angeles"],
        "Austin": [961_855, "America/Chicago"],
        "Jacksonville": [949_611, "America/New_York"],
        "Fort Worth": [918_915, "America/Chicago"],
        "Columbus": [905_748, "America/New_York"],
        "Indianapolis": [887_642, "America/Indiana/Indianapolis"],
        "Charlotte": [874_579, "America/New_York"],
        "San Francisco": [873_965, "America/Los_Angeles"],
        "Seattle": [737_015, "America/Los_Angeles"],
        "Denver": [715_522, "America/Denver"],
        "Washington": [689_545, "America/New_York"],
        "Nashville": [689_447, "America/Chicago"],
        "Oklahoma City": [681_054, "America/Chicago"],
        "El Paso": [678_815, "America/Denver"],
        "Boston": [675_647, "America/New_York"],
        "Portland": [652_503, "America/Los_Angeles"],
        "Las Vegas": [641_903, "America/Los_Angeles"],
        "Detroit": [639_111, "America/Detroit"],
        "Memphis": [633_104, "America/Chicago"],
        "Louisville": [617_638, "America/Kentucky/Louisville"],
        "Baltimore": [585_708, "America/New_York"],
    }


@dataclass(frozen=True)
class SimulationConfig:
    """Everything the journey simulation assumes, with documented defaults.

    Make one with keywords (``SimulationConfig(users=500, days=7)``), derive
    one with :meth:`replace`, or read one with :func:`load_config`. Every
    value is checked when the config is made; tables (dicts) are then stored
    read-only and lists as tuples, so a config never changes.

    Attributes
    ----------
    users : int
        How many users are simulated: those who are customers when the period
        starts and those who arrive during it. Some have no session at all.
    start : str
        Start of the period, ISO 8601; without a zone it is UTC.
    days : int
        Length of the period; events fall in ``[start, start + days)``.
    catalog_size : int
        Movies in the catalog, with ids ``m0001``, ``m0002``, ...
    zipf_exponent : float
        The movie of popularity rank ``r`` is viewed with weight ``r ** -zipf_exponent``;
        the ranks are shuffled over the ids.
    historic_rentals_per_movie : float
        ``rental_popularity`` is a movie's rentals before the period: this many
        per movie on average, shared out by popularity weight (at least 1).
    price_mix : dict of float to float
        Price tiers and the share of the catalog in each; a movie keeps its price.
    duration_mix : dict of int to float
        Rental durations in hours and their shares among rentals.
    referral_mix, device_mix : dict of str to float
        Where users come from, and the device they use, with shares of users.
    locations : dict of str to (population, time zone)
        Cities users live in, chosen in proportion to population; a user's
        daily rhythm follows the local time of the zone (IANA name).
    initial_user_share : float
        Share of the users who are customers when the period starts; the others
        arrive at uniformly random times during it.
    churn_per_day : float
        Each user's chance per day of stopping for good (an exponential
        lifetime from the start or their arrival, mean ``1 / churn_per_day`` days).
    sessions_per_day_median, sessions_per_day_sigma : float
        A user's rate of sessions per day while active is lognormal with this
        median and log standard deviation: a heavy tail of frequent visitors
        and many who come rarely.
    event_gap_median_seconds, event_gap_sigma : float
        A user's mean time between two events of a session is lognormal with
        this median (seconds) and log standard deviation; the gaps themselves
        are exponential around that mean.
    min_session_gap_minutes : float
        A user's next session starts at least this long after their previous
        session's last event; sessions never overlap.
    hourly_profile : tuple of 24 floats
        Relative session starts in each local hour 0..23.
    weekend_factor : float
        How many times more sessions start on a Saturday or Sunday hour than on
        the same hour of a weekday.
    transitions : dict of str to dict of str to float
        The Markov chain inside a session: for each event type of
        :data:`CHAIN_STATES`, the probabilities of the next event type given
        that the session goes on. Each row sums to 1.
    end_probability : dict of str to float
        For each event type, the chance that the session ends after it.
    max_session_events : int
        A session stops after this many events whatever the chain says (a guard
        against chains that almost never end).
    interaction_mix : dict of str to float
        Interaction types: a ``search`` is on the search page and a ``filter``
        on the browse page, without a movie; a ``click`` is on the current
        movie's page.
    button_mix : dict of str to float
        Buttons clicked (on the current movie's page).
    scroll_zero_share, scroll_end_share : float
        Of scroll events, the share that report depth 0 (the reader scrolled
        back to the top) and the share that reach the end (100).
    scroll_beta : tuple of 2 floats
        The others report ``100 * Beta(a, b)``, rounded to 0.1.
    view_probability : float
        Chance that a rental is ever viewed.
    lag_median_hours, lag_sigma : float
        The lag from a rental to its first view is lognormal with this median
        (hours) and log standard deviation, rounded up to whole seconds
        (at least 1 s). Views that would come after the period are not seen.
    site : str
        The site the page URLs are on.
    """

    users: int = 2000
    start: str = "2024-05-01"
    days: int = 30
    catalog_size: int = 2000
    zipf_exponent: float = 0.8
    historic_rentals_per_movie: float = 100.0
    price_mix: dict[float, float] = field(
        default_factory=lambda: {2.99: 0.3, 3.99: 0.35, 4.99: 0.25, 19.99: 0.1}
    )
    duration_mix: dict[int, float] = field(default_factory=lambda: {24: 0.5, 48: 0.3, 72: 0.2})
    referral_mix: dict[str, float] = field(
        default_factory=lambda: {
            "Google": 0.38,
            "Direct": 0.22,
            "Facebook": 0.14,
            "Email": 0.10,
            "Twitter": 0.07,
            "Bing": 0.05,
            "Instagram": 0.04,
        }
    )
    device_mix: dict[str, float] = field(
        default_factory=lambda: {"desktop": 0.4, "mobile": 0.38, "tablet": 0.1, "tv": 0.12}
    )
    locations: dict[str, list] = field(default_factory=_locations)
    initial_user_share: float = 0.7
    churn_per_day: float = 0.01
    sessions_per_day_median: float = 0.25
    sessions_per_day_sigma: float = 1.0
    event_gap_median_seconds: float = 25.0
    event_gap_sigma: float = 0.5
    min_session_gap_minutes: float = 30.0
    hourly_profile: tuple[float, ...] = field(default_factory=_hourly_profile)
    weekend_factor: float = 1.3
    transitions: dict[str, dict[str, float]] = field(default_factory=_transitions)
    end_probability: dict[str, float] = field(default_factory=_end_probability)
    max_session_events: int = 500
    interaction_mix: dict[str, float] = field(
        default_factory=lambda: {"search": 0.5, "click": 0.3, "filter": 0.2}
    )
    button_mix: dict[str, float] = field(
        default_factory=lambda: {"add_to_collection": 0.5, "set_reminder": 0.2, "share": 0.3}
    )
    scroll_zero_share: float = 0.05
    scroll_end_share: float = 0.15
    scroll_beta: tuple[float, float] = (1.6, 1.4)
    view_probability: float = 0.85
    lag_median_hours: float = 3.0
    lag_sigma: float = 1.4
    site: str = "https://example.com"

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime.date):
            object.__setattr__(self, "start", pd.Timestamp(self.start).isoformat())
        _check(self)
        # Tables are frozen too, so a checked config cannot be changed behind
        # its back (and no two configs share a mutable default).
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _frozen(getattr(self, f.name)))

    def __reduce__(self):
        # Read-only tables do not pickle; plain data does, and reads back the same.
        return (SimulationConfig.from_dict, (self.to_dict(),))

    def replace(self, **changes: Any) -> SimulationConfig:
        """A copy with the fields of ``changes`` changed, checked again."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SimulationConfig:
        """A config from a mapping of field names to values, as in a TOML or JSON file.

        Keys of numeric mixes may be strings (``"2.99"``), as files require;
        ``transitions`` and ``end_probability`` replace only the rows given.

        Raises
        ------
        ConfigError
            For an unknown key, or any value :class:`SimulationConfig` refuses.
        """
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"a config must be a table of settings, got {type(values).__name__}."
            )
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {unknown}: the keys are {names}. Check the spelling."
            )

        default = cls()
        changes = dict(values)
        for name in ("transitions", "end_probability"):
            if name in changes and isinstance(changes[name], Mapping):
                merged = dict(getattr(default, name))
                merged.update(changes[name])
                changes[name] = merged
        for name, kind in (("price_mix", float), ("duration_mix", int)):
            if name in changes and isinstance(changes[name], Mapping):
                changes[name] = {_number_key(name, k, kind): v for k, v in changes[name].items()}
        for name in ("hourly_profile", "scroll_beta"):
            if name in changes and isinstance(changes[name], list):
                changes[name] = tuple(changes[name])
        return default.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (what :meth:`from_dict` reads back)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def load_config(path: str | Path) -> SimulationConfig:
    """Read a :class:`SimulationConfig` from a ``.toml`` or ``.json`` file.

    The file names only the settings it changes; the others keep their
    defaults (see :class:`SimulationConfig`).

    Raises
    ------
    ConfigError
        For a file that is neither TOML nor JSON, cannot be parsed, or holds an
        unknown key or a bad value.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"cannot read the config {path}: use a .toml or .json file.")
    text = path.read_text(encoding="utf-8")
    try:
        values = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot parse the config {path}: {exc}") from exc
    try:
        return SimulationConfig.from_dict(values)
    except ConfigError as exc:
        raise ConfigError(f"in the config {path}: {exc}") from exc


def _number_key(name, key, kind):
    try:
        number = kind(key) if kind is float else int(str(key))
    except ValueError:
        raise ConfigError(f"{name}: the key {key!r} is not a {kind.__name__}.") from None
    return number


def _frozen(value):
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _plain(value):
    if isinstance(value, Mapping):
        return {(str(k) if not isinstance(k, str) else k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _check(config: SimulationConfig) -> None:
    """Raise ConfigError naming the first field of ``config`` that is not valid."""
    for name, least in (("users", 0), ("days", 1), ("catalog_size", 1), ("max_session_events", 1)):
        _integer(name, getattr(config, name), least)
    if config.users > 10**9:
        raise ConfigError(
            f"users must be at most 1,000,000,000 (ids have room for that), got {config.users}."
        )
    try:
        begin = pd.Timestamp(config.start)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"start must be an ISO 8601 date or time, got {config.start!r}."
        ) from exc
    _period_in_range(begin, config.days)

    for name in (
        "zipf_exponent",
        "churn_per_day",
        "sessions_per_day_sigma",
        "event_gap_sigma",
        "min_session_gap_minutes",
        "lag_sigma",
    ):
        _real(name, getattr(config, name), low=0.0)
    for name in (
        "historic_rentals_per_movie",
        "sessions_per_day_median",
        "event_gap_median_seconds",
        "weekend_factor",
        "lag_median_hours",
    ):
        _real(name, getattr(config, name), low=0.0, low_open=True)
    for name in (
        "initial_user_share",
        "scroll_zero_share",
        "scroll_end_share",
        "view_probability",
    ):
        _real(name, getattr(config, name), low=0.0, high=1.0)
    if config.scroll_zero_share + config.scroll_end_share > 1:
        raise ConfigError(
            "scroll_zero_share + scroll_end_share must be at most 1, got "
            f"{config.scroll_zero_share} + {config.scroll_end_share}."
        )
    if not isinstance(config.scroll_beta, list | tuple) or len(config.scroll_beta) != 2:
        raise ConfigError(f"scroll_beta must be two numbers (a, b), got {config.scroll_beta!r}.")
    for i, value in enumerate(config.scroll_beta):
        _real(f"scroll_beta[{i}]", value, low=0.0, low_open=True)

    if not isinstance(config.hourly_profile, list | tuple) or len(config.hourly_profile) != 24:
        raise ConfigError(
            "hourly_profile must hold 24 numbers, one per local hour, got "
            f"{config.hourly_profile!r}."
        )
    for hour, value in enumerate(config.hourly_profile):
        _real(f"hourly_profile[{hour}]", value, low=0.0)
    if sum(config.hourly_profile) <= 0:
        raise ConfigError("hourly_profile must have some hour above 0, got all zeros.")

    for name in ("price_mix", "duration_mix", "referral_mix", "device_mix"):
        _mix(name, getattr(config, name))
    for name in ("interaction_mix", "button_mix"):
        _mix(name, getattr(config, name))
    for price in config.price_mix:
        _real("price_mix key", price, low=0.0)
    for hours in config.duration_mix:
        _integer("duration_mix key", hours, 0)
    _locations_check(config.locations)
    _chain(config.transitions, config.end_probability)
    if not isinstance(config.site, str) or not config.site:
        raise ConfigError(f"site must be a non-empty string, got {config.site!r}.")


def _integer(name, value, least):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        raise ConfigError(f"{name} must be an int of at least {least}, got {value!r}.")


def _real(name, value, *, low=None, high=None, low_open=False):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}.")
    if low is not None and (value < low or (low_open and value == low)):
        bound = f"above {low}" if low_open else f"at least {low}"
        raise ConfigError(f"{name} must be {bound}, got {value!r}.")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be at most {high}, got {value!r}.")


def _mix(name, mix):
    if not isinstance(mix, Mapping) or not mix:
        raise ConfigError(f"{name} must be a non-empty table of value = weight, got {mix!r}.")
    for key, weight in mix.items():
        _real(f"{name}[{key!r}]", weight, low=0.0)
    if sum(mix.values()) <= 0:
        raise ConfigError(f"{name} must have some weight above 0, got {dict(mix)}.")


def _locations_check(locations):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(locations, Mapping) or not locations:
        raise ConfigError(
            "locations must be a non-empty table of city = [population, time zone], "
            f"got {locations!r}."
        )
    for city, value in locations.items():
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ConfigError(
                f"locations[{city!r}] must be [population, time zone], got {value!r}."
            )
        _real(f"locations[{city!r}] population", value[0], low=0.0, low_open=True)
        try:
            ZoneInfo(str(value[1]))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"locations[{city!r}]: {value[1]!r} is not a time zone; use an IANA name "
                "such as 'America/Chicago'."
            ) from None


# Nanoseconds since 1970 in an int64 (pandas' and InfluxDB's times) reach from
# 1677-09-21 to 2262-04-11; a day is kept free at each end for local times.
_FIRST_START = pd.Timestamp("1677-09-22", tz="UTC")
_LAST_END = pd.Timestamp("2262-04-11", tz="UTC")


def _period_in_range(begin: pd.Timestamp, days: int) -> None:
    begin = begin.tz_localize("UTC") if begin.tzinfo is None else begin.tz_convert("UTC")
    if begin < _FIRST_START or (_LAST_END - begin) / pd.Timedelta(days=1) < days:
        raise ConfigError(
            f"start {begin.isoformat()} and days {days} make a period outside the times "
            f"nanoseconds can hold: start on or after {_FIRST_START.date()} and end by "
            f"{_LAST_END.date()}."
        )


def _rows_named(name: str, table, what: str) -> None:
    """Check that ``table`` has one entry per chain state; name the odd ones out."""
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{name} must be a table with one entry for each of {list(CHAIN_STATES)}, "
            f"got {table!r}."
        )
    unknown = [key for key in table if key not in CHAIN_STATES]
    missing = [state for state in CHAIN_STATES if state not in table]
    if unknown:
        raise ConfigError(
            f"{name}: unknown {what} {unknown}: the {what} are the event types "
            f"{list(CHAIN_STATES)}. Check the spelling."
        )
    if missing:
        raise ConfigError(f"{name}: {what} {missing} missing; give each of {list(CHAIN_STATES)}.")


def _chain(transitions, end_probability):
    """Check the Markov chain: complete rows over the states, each summing to 1."""
    states = set(CHAIN_STATES)
    _rows_named("transitions", transitions, "rows")
    for state in CHAIN_STATES:
        row = transitions[state]
        if not isinstance(row, Mapping) or not set(row) <= states:
            extra = sorted(set(row) - states) if isinstance(row, Mapping) else row
            raise ConfigError(
                f"transitions row {state!r}: the next event must be one of "
                f"{list(CHAIN_STATES)}, got {extra}."
            )
        for target, p in row.items():
            _real(f"transitions[{state!r}][{target!r}]", p, low=0.0, high=1.0)
        total = sum(row.values())
        if abs(total - 1) > 1e-9:
            raise ConfigError(
                f"transitions row {state!r} sums to {total:.6g}, not 1: its probabilities of "
                "the next event (given that the session goes on) must add up to 1; the chance "
                "of ending goes in end_probability."
            )
    _rows_named("end_probability", end_probability, "keys")
    for state, p in end_probability.items():
        _real(f"end_probability[{state!r}]", p, low=0.0, high=1.0)

    # The session must end with certainty from every state it can reach, or
    # the expected length is infinite: (I - Q) must be invertible, Q being the
    # transitions of a session that goes on.
    import numpy as np

    q = np.array(
        [
            [(1 - end_probability[s]) * transitions[s].get(t, 0.0) for t in CHAIN_STATES]
            for s in CHAIN_STATES
        ]
    )
    if abs(np.linalg.det(np.eye(len(CHAIN_STATES)) - q)) < 1e-12:
        raise ConfigError(
            "the Markov chain never ends from some event type: give end_probability above 0 "
            "to an event type every session reaches."
        )
