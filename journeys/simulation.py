"""One simulation: what its blocks of users share, and how a block is simulated.

:class:`World` holds the settings, the period, the catalog, the id scheme,
the daily rhythm and the root seed. :meth:`World.block` simulates the users
of one block of :data:`BLOCK_USERS` from a random stream of its own and
returns plain numpy arrays of codes (one row per event, one per user, one per
rental); :func:`journeys.event_frame.events_frame` turns blocks into an
events frame and :func:`journeys.realised.realised_truth` into the tables of
the ground truth. The model is described in :mod:`journeys.generate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.population import Catalog, IdScheme, make_catalog, make_users, pick
from journeys.seeds import as_generator
from journeys.session_model import Rhythm, lay_out, session_starts, walk_chain
from journeys.simulation_config import CHAIN_STATES, SimulationConfig

__all__ = ["BLOCK_USERS", "EVENT_NAMES", "World"]

#: Users simulated from one random stream; chunks are made of whole blocks.
BLOCK_USERS = 1000

#: The event types by code: the chain's states, then ``view``.
EVENT_NAMES = (*CHAIN_STATES, "view")

_NS = 10**9
PAGEVIEW, SCROLL, INTERACTION, BUTTON, TRANSACTION, VIEW = range(6)


def _period(start, days):
    """The period as int64 nanoseconds since the epoch, end excluded."""
    begin = pd.Timestamp(start)
    begin = begin.tz_localize("UTC") if begin.tzinfo is None else begin.tz_convert("UTC")
    begin_ns = begin.as_unit("ns").value
    return begin_ns, begin_ns + int(days) * 86_400 * _NS


@dataclass
class World:
    """What all blocks share: the settings, the period, the catalog, the rhythm, the seeds."""

    config: SimulationConfig
    start_ns: int
    end_ns: int
    entropy: list[int]
    catalog: Catalog
    ids: IdScheme
    rhythm: Rhythm
    place_zone: np.ndarray

    @classmethod
    def make(cls, config: SimulationConfig, seed) -> World:
        """The shared parts of a simulation of ``config`` from ``seed``."""
        entropy = [int(x) for x in as_generator(seed).integers(0, 2**63, size=4)]
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(0,)))
        start_ns, end_ns = _period(config.start, config.days)
        rhythm = Rhythm.make(config, start_ns)
        zones = [str(value[1]) for value in config.locations.values()]
        return cls(
            config=config,
            start_ns=start_ns,
            end_ns=end_ns,
            entropy=entropy,
            catalog=make_catalog(rng, config),
            ids=IdScheme.make(rng, config.users),
            rhythm=rhythm,
            place_zone=np.array([rhythm.zones.index(z) for z in zones]),
        )

    @property
    def n_blocks(self) -> int:
        """How many blocks of users the simulation has."""
        return -(-self.config.users // BLOCK_USERS)

    def block(self, index: int) -> dict:
        """Simulate the users of block ``index``: their events and what the truth needs."""
        config = self.config
        rng = np.random.default_rng(np.random.SeedSequence(self.entropy, spawn_key=(1, index)))
        first = index * BLOCK_USERS
        count = min(BLOCK_USERS, config.users - first)
        people = make_users(rng, config, self.ids, first, count, self.start_ns, self.end_ns)

        # When sessions start, and what happens in them.
        window = (
            people["arrival_ns"] - self.start_ns,
            np.minimum(people["churn_ns"], self.end_ns) - self.start_ns,
        )
        zone = self.place_zone[people["place"]]
        session_user, drawn = session_starts(
            rng, self.rhythm, zone, people["sessions_per_day"], window, self.start_ns
        )
        session, state = walk_chain(rng, len(session_user), config)
        user = session_user[session]

        gaps = people["mean_gap_s"][user]
        begins, time = _times(rng, config, session_user, drawn, session, gaps)
        content, latest, detail, depth, duration = self._details(rng, state)

        # A session pushed past the user's churn (or the period) is not made;
        # one running past the end of the period is cut there.
        stop = np.minimum(people["churn_ns"], self.end_ns)
        kept = (time < self.end_ns) & (begins < stop[session_user])[session]
        events = {
            "time": time[kept],
            "state": state[kept].astype(np.int64),
            "user": user[kept],
            "content": content[kept],
            "detail": detail[kept],
            "depth": depth[kept],
            "duration": duration[kept],
            "session": session[kept],
            "page": latest[kept],
            "lag": np.full(int(kept.sum()), -1, dtype=np.int64),
        }
        events, rentals, refused = self._rent_and_view(rng, events)
        _untie(events)
        return {"people": people, "events": events, "rentals": rentals, "refused": refused}

    def _details(self, rng, state):
        """What each event concerns: its movie, its page, and the values of its type."""
        config, catalog = self.config, self.catalog
        n = len(state)
        is_pageview = state == PAGEVIEW
        movie = np.zeros(n, dtype=np.int64)
        chosen = np.searchsorted(catalog.cdf, rng.random(int(is_pageview.sum())), side="right")
        movie[is_pageview] = np.minimum(chosen, len(catalog.ids) - 1)
        # Every event concerns the movie of its session's latest pageview
        # (sessions start with one, so this never reaches into another session).
        latest = np.maximum.accumulate(np.where(is_pageview, np.arange(n), 0))
        content = movie[latest]

        detail = np.full(n, -1, dtype=np.int64)
        for code, mix in ((INTERACTION, config.interaction_mix), (BUTTON, config.button_mix)):
            where = state == code
            detail[where] = pick(rng, mix, int(where.sum()))
        depth = np.full(n, np.nan)
        is_scroll = state == SCROLL
        depth[is_scroll] = _scroll_depths(rng, config, int(is_scroll.sum()))
        duration = np.full(n, -1, dtype=np.int64)
        is_rent = state == TRANSACTION
        hours = np.array(list(config.duration_mix), dtype=np.int64)
        duration[is_rent] = hours[pick(rng, config.duration_mix, int(is_rent.sum()))]
        return content, latest, detail, depth, duration

    def _rent_and_view(self, rng, events):
        """Drop second rentals of a movie by a user, and add the first view of the others."""
        config = self.config
        rent = np.flatnonzero(events["state"] == TRANSACTION)
        will_view = rng.random(len(rent)) < config.view_probability
        hours = config.lag_median_hours * np.exp(config.lag_sigma * rng.standard_normal(len(rent)))
        lag = np.maximum(1, np.ceil(hours * 3600)).astype(np.int64)
        rent_time = events["time"][rent]
        view_time = rent_time + lag * _NS

        # The chain's second transaction on one page is silent: the movie is
        # rented already (the truth models that). Events come in session order,
        # so the rentals of one page are neighbours.
        page = events["page"][rent]
        again = np.zeros(len(rent), dtype=bool)
        again[1:] = page[1:] == page[:-1]

        # Limitation: a user rents a movie at most once in the period, so that
        # each view answers exactly one rental and one view exists per user and
        # movie; re-rentals after the view would need analyses that pair each
        # view with the latest rental before it.
        pair = events["user"][rent] * len(self.catalog.ids) + events["content"][rent]
        order = np.lexsort((rent_time, pair))
        order = order[~again[order]]
        first = np.ones(len(order), dtype=bool)
        first[1:] = pair[order][1:] != pair[order][:-1]
        made = np.zeros(len(rent), dtype=bool)
        made[order[first]] = True
        refused = len(order) - int(first.sum())

        keep = np.ones(len(events["time"]), dtype=bool)
        keep[rent[~made]] = False
        rent, will_view, lag, view_time = rent[made], will_view[made], lag[made], view_time[made]
        seen = will_view & (view_time < self.end_ns)

        views = {name: values[rent[seen]].copy() for name, values in events.items()}
        views["time"] = view_time[seen]
        views["state"][:] = VIEW
        views["detail"][:] = -1
        views["depth"][:] = np.nan
        views["duration"][:] = -1
        views["session"][:] = -1
        views["page"][:] = -1
        views["lag"] = lag[seen]
        rentals = {
            "user": events["user"][rent],
            "content": events["content"][rent],
            "rental_ns": events["time"][rent],
            "view_ns": np.where(seen, view_time, -1),
            "lag": np.where(seen, lag, -1),
            "will_view": will_view,
        }
        merged = {name: np.concatenate([events[name][keep], views[name]]) for name in events}
        return merged, rentals, refused


def _times(rng, config, session_user, drawn, session, mean_gap_s):
    """Session starts spaced apart, and the time of every event.

    The gap before each event of a session is exponential with its user's
    mean (``mean_gap_s``, one per event), plus 1 ns; sessions are then laid out
    at least ``min_session_gap_minutes`` apart (:func:`journeys.session_model.lay_out`).
    """
    first_event = np.ones(len(session), dtype=bool)
    first_event[1:] = session[1:] != session[:-1]
    gaps = np.floor(rng.exponential(size=len(session)) * mean_gap_s * _NS)
    gaps = gaps.astype(np.int64) + 1
    gaps[first_event] = 0
    elapsed = np.cumsum(gaps)
    heads = np.flatnonzero(first_event)
    elapsed -= elapsed[heads][session]

    tails = np.append(heads[1:], len(session)) - 1
    # One nanosecond more than the gap: a session then starts strictly more than the
    # gap after the previous one ends, which is what jy.sessions (and PostHog, Amplitude)
    # need to see a new session; exactly the gap would be counted as the same session.
    min_gap = int(round(config.min_session_gap_minutes * 60 * _NS)) + 1
    begins = lay_out(session_user, drawn, elapsed[tails], min_gap)
    return begins, begins[session] + elapsed


def _untie(events):
    """Move an event 1 ns later where it shares its user's nanosecond with a view."""
    # Only a view can meet another event of its user (session events are 1 ns
    # apart at least, sessions apart by the gap): look among those first.
    is_view = events["state"] == VIEW
    if not np.isin(events["time"][is_view], events["time"][~is_view]).any():
        return
    while True:
        order = np.lexsort((events["time"], events["user"]))
        user, time = events["user"][order], events["time"][order]
        tied = np.flatnonzero((user[1:] == user[:-1]) & (time[1:] == time[:-1]))
        if not len(tied):
            return
        pair = np.stack([order[tied], order[tied + 1]], axis=1)
        # The event that moves is the one that is not a view (views keep their exact lag).
        views = events["state"][pair] == VIEW
        move = np.where(views[:, 0], pair[:, 1], pair[:, 0])
        events["time"][move] += 1


def _scroll_depths(rng, config, n):
    """The depths of ``n`` scroll events."""
    draw = rng.random(n)
    depth = np.round(100 * rng.beta(*config.scroll_beta, size=n), 1)
    depth[draw < config.scroll_zero_share] = 0.0
    to_end = config.scroll_zero_share + config.scroll_end_share
    depth[(draw >= config.scroll_zero_share) & (draw < to_end)] = 100.0
    return depth
