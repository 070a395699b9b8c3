"""When sessions happen, and what happens inside them.

Daily rhythm
    Session starts of a user form a Poisson process whose rate is the user's
    ``sessions_per_day`` times a weight per hour of the period: the
    ``hourly_profile`` at the local hour of the user's time zone, times
    ``weekend_factor`` on local Saturdays and Sundays, normalised so that a
    week's weights average 1. :class:`Rhythm` holds the cumulated weights per
    time zone; start times are drawn uniformly in that cumulated ("busy")
    time and mapped back, which gives exactly that rate.
Active window
    Only the part of the period between a user's arrival and churn counts, so
    the number of sessions is Poisson with mean ``sessions_per_day`` times the
    busy days in that window.
Inside a session
    :func:`walk_chain` runs the configured Markov chain over event types for
    all sessions at once, one step per loop turn: each session starts with a
    pageview, ends after an event with that event type's end probability, and
    otherwise moves to the next type by its row of the transition matrix.
Times
    The gap before each event of a session is exponential with the user's mean
    gap, plus 1 ns, so a user's events strictly increase. :func:`lay_out`
    then pushes each session to start at least ``min_session_gap_minutes``
    after the previous session's last event, whenever the drawn start is
    earlier; sessions never overlap. A session pushed past the user's churn or
    the end of the period is dropped, one running past the end is cut there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.simulation_config import CHAIN_STATES, SimulationConfig

__all__ = ["Rhythm", "lay_out", "session_starts", "walk_chain"]

_NS_PER_HOUR = 3600 * 10**9


@dataclass(frozen=True)
class Rhythm:
    """Cumulated busy-day weights at each hour edge of the period, per time zone.

    Attributes
    ----------
    edges_ns : numpy.ndarray
        Hour edges of the period, in ns since its start (float).
    busy_days : numpy.ndarray
        One row per zone of ``zones``: the busy days (weights summed, in days)
        from the start of the period to each edge.
    zones : tuple of str
        The IANA time zones, in the order of the rows.
    """

    edges_ns: np.ndarray
    busy_days: np.ndarray
    zones: tuple[str, ...]

    @classmethod
    def make(cls, config: SimulationConfig, start_ns: int) -> Rhythm:
        """The rhythm of ``config`` over its period, starting at ``start_ns``."""
        hours = config.days * 24
        middles = pd.DatetimeIndex(
            start_ns + (np.arange(hours) * _NS_PER_HOUR + _NS_PER_HOUR // 2), tz="UTC"
        )
        profile = np.array(config.hourly_profile, dtype=float)
        profile = profile / profile.mean()
        day_factor = np.ones(7)
        day_factor[5:] = config.weekend_factor
        day_factor /= day_factor.mean()

        zones = tuple(dict.fromkeys(str(value[1]) for value in config.locations.values()))
        rows = []
        for zone in zones:
            # Limitation: the weight of a whole UTC hour is that of its middle's
            # local hour, which is exact for zones a whole number of hours off UTC.
            local = middles.tz_convert(zone)
            weight = profile[local.hour] * day_factor[local.day_of_week]
            rows.append(np.concatenate([[0.0], np.cumsum(weight) / 24]))
        edges = np.arange(hours + 1, dtype=float) * _NS_PER_HOUR
        return cls(edges_ns=edges, busy_days=np.array(rows), zones=zones)

    def busy(self, zone: np.ndarray, offset_ns: np.ndarray) -> np.ndarray:
        """Busy days from the start to ``offset_ns`` for users in the zones ``zone``."""
        out = np.empty(len(offset_ns))
        for z in np.unique(zone):
            here = zone == z
            out[here] = np.interp(offset_ns[here], self.edges_ns, self.busy_days[z])
        return out

    def offset(self, zone: np.ndarray, busy: np.ndarray) -> np.ndarray:
        """The ns offsets at which users of the zones ``zone`` reach ``busy`` busy days."""
        out = np.empty(len(busy))
        for z in np.unique(zone):
            here = zone == z
            out[here] = np.interp(busy[here], self.busy_days[z], self.edges_ns)
        return out


def session_starts(
    rng: np.random.Generator,
    rhythm: Rhythm,
    zone: np.ndarray,
    rate: np.ndarray,
    window: tuple[np.ndarray, np.ndarray],
    start_ns: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw each user's session starts, before :func:`lay_out` spaces them.

    Parameters
    ----------
    zone : numpy.ndarray
        Each user's row in ``rhythm``.
    rate : numpy.ndarray
        Each user's sessions per busy day.
    window : (numpy.ndarray, numpy.ndarray)
        Each user's active window, as ns offsets from the period's start.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The user (position in the arrays given) and the start (ns since the
        epoch) of every session, sorted by user and then time.
    """
    lo = rhythm.busy(zone, window[0].astype(float))
    hi = rhythm.busy(zone, window[1].astype(float))
    counts = rng.poisson(rate * np.maximum(hi - lo, 0.0))

    user = np.repeat(np.arange(len(rate)), counts)
    busy = lo[user] + rng.random(len(user)) * (hi - lo)[user]
    offset = rhythm.offset(zone[user], busy)
    starts = start_ns + offset.astype(np.int64)
    order = np.lexsort((starts, user))
    return user[order], starts[order]


def walk_chain(
    rng: np.random.Generator, sessions: int, config: SimulationConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Run the Markov chain of ``config`` for ``sessions`` sessions at once.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The session (0 to ``sessions - 1``) and the state (index into
        :data:`CHAIN_STATES`) of every event, ordered by session and step.
    """
    states = CHAIN_STATES
    ends = np.array([config.end_probability[s] for s in states])
    matrix = np.array([[config.transitions[s].get(t, 0.0) for t in states] for s in states])
    cumulative = np.cumsum(matrix, axis=1)

    alive = np.arange(sessions)
    state = np.zeros(sessions, dtype=np.int8)
    session_parts, state_parts = [alive], [state]
    for _ in range(config.max_session_events - 1):
        goes_on = rng.random(len(alive)) >= ends[state]
        alive, state = alive[goes_on], state[goes_on]
        if not len(alive):
            break
        draw = rng.random(len(alive))
        state = (draw[:, None] >= cumulative[state]).sum(axis=1).astype(np.int8)
        # Rounding can leave the last cumulative a hair under 1.
        np.minimum(state, len(states) - 1, out=state)
        session_parts.append(alive)
        state_parts.append(state)

    session = np.concatenate(session_parts)
    order = np.argsort(session, kind="stable")
    return session[order], np.concatenate(state_parts)[order]


def lay_out(
    session_user: np.ndarray,
    drawn_start: np.ndarray,
    duration: np.ndarray,
    min_gap_ns: int,
) -> np.ndarray:
    """Session starts pushed so that each begins ``min_gap_ns`` after the previous ends.

    Sessions come sorted by user and drawn start. With ``C_k`` the summed
    durations and gaps of a user's sessions before the ``k``-th, the start is
    ``C_k + max(s_j - C_j for j <= k)``: the drawn start when that leaves room,
    else the previous session's end plus the gap.
    """
    if not len(session_user):
        return drawn_start.copy()
    step = duration + min_gap_ns
    before = np.cumsum(step) - step
    first = np.ones(len(session_user), dtype=bool)
    first[1:] = session_user[1:] != session_user[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
    before = before - before[group_start]

    slack = pd.Series(drawn_start - before).groupby(session_user).cummax().to_numpy()
    return before + slack
