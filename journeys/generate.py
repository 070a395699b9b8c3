"""Synthetic customer journeys with a known truth, in one piece or in chunks.

Three entry points share one simulation:

:func:`simulate`
    ``events, truth = simulate(config, seed=7)``: the events frame and the
    :class:`journeys.GroundTruth` to check analyses against.
:func:`generate`
    The events frame alone, with the most used settings as keywords
    (``generate(users=1000, days=14, seed=42)``); ``return_truth=True`` gives
    ``(events, truth)`` like :func:`simulate`.
:func:`generate_chunks`
    The same events as an iterator of frames, one per group of users, each
    sorted by time, so that tens of millions of events can go to a file or to
    InfluxDB without being held at once.

The model (every number is a field of :class:`journeys.SimulationConfig`):

People and catalog (:mod:`journeys.population`)
    Users with ids and Faker names, cities weighted by population, referral
    sources and devices from mixes, a heavy-tailed pace, arrivals during the
    period and churn; movies with Zipf-like popularity, which drives both
    what people view and ``rental_popularity``, and a price tier each.
Sessions (:mod:`journeys.sessions`)
    Starts follow a daily rhythm in the user's local time and a weekend
    effect, at least ``min_session_gap_minutes`` apart so that they never
    overlap; inside a session a Markov chain over event types picks each next
    event (or the end), with exponential gaps.
Events
    A pageview picks a movie by popularity; scrolls, clicks, button clicks and
    rentals concern the movie of the session's latest pageview. A scroll
    reports a depth of 0 with ``scroll_zero_share``, 100 with
    ``scroll_end_share``, else ``100 * Beta(*scroll_beta)`` rounded to 0.1. A
    search (page ``/search``) and a filter (``/browse``) concern no movie.
    A rental (``transaction``) has the movie's price as ``purchase_value``, a
    ``rental_duration`` from ``duration_mix`` and the movie's ``rental_popularity``.
Views
    A rental is viewed with ``view_probability``, after a lognormal lag
    rounded *up* to whole seconds (at least 1 s): the ``view`` event's time is
    exactly the rental's time plus that many seconds, so its
    ``time_lag_from_transaction`` equals ``(view_ns - rental_ns) // 10**9`` with
    no remainder. Views after the period's end are not emitted. When the chain
    comes back to ``transaction`` on a page whose movie it rented already, no
    event is made (the chain goes on; the truth models this). A user rents a
    movie at most once in the period: a rental of a movie rented on an
    earlier page is dropped and counted in ``truth.rentals_refused``. So each
    view is the first after exactly one rental, the one ``jy.rental_lag``
    pairs it with.
    Should a view fall on the very nanosecond of another event of its user,
    that other event moves 1 ns later, so a user's events strictly increase.

Reproducibility and chunks
    The seed (None, an int, or a numpy ``Generator``, see :func:`as_generator`)
    gives a root seed; the catalog and id scheme come from one stream of it,
    and each block of :data:`BLOCK_USERS` consecutive users from a stream of
    its own. A chunk is whole blocks, so the events do not depend on the chunk
    size: the chunks of :func:`generate_chunks`, concatenated and sorted by
    time (stably), are exactly the frame of :func:`generate` for the same
    settings and seed. Ties in time between users are ordered by user number.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from journeys.population import Catalog, IdScheme, make_catalog, make_users, pick
from journeys.schema import COLUMNS, dtypes
from journeys.sessions import Rhythm, lay_out, session_starts, walk_chain
from journeys.simulation_config import CHAIN_STATES, SimulationConfig
from journeys.truth import GroundTruth

__all__ = ["BLOCK_USERS", "as_generator", "generate", "generate_chunks", "simulate"]

logger = logging.getLogger(__name__)

#: Users simulated from one random stream; chunks are made of whole blocks.
BLOCK_USERS = 1000

_NS = 10**9
_EVENT_NAMES = (*CHAIN_STATES, "view")
_PAGEVIEW, _SCROLL, _INTERACTION, _BUTTON, _TRANSACTION, _VIEW = range(6)


def as_generator(seed: None | int | np.random.Generator = None) -> np.random.Generator:
    """Turn a seed into a numpy random ``Generator``.

    Parameters
    ----------
    seed : None, int or numpy.random.Generator
        None for fresh entropy, an int for a reproducible stream, or a
        ``Generator``, which is returned as it is (and so shared with the caller).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    ValueError
        For anything else, including a negative int or a bool.

    Examples
    --------
    >>> rng = as_generator(7)
    >>> as_generator(rng) is rng
    True
    >>> float(rng.random()) == float(as_generator(7).random())
    True
    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool | np.bool_):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}.")
        return np.random.default_rng(int(seed))
    raise ValueError(
        f"seed must be None, a non-negative int or a numpy.random.Generator, "
        f"got {type(seed).__name__} {seed!r}."
    )


def simulate(
    config: SimulationConfig | None = None,
    *,
    seed: None | int | np.random.Generator = None,
) -> tuple[pd.DataFrame, GroundTruth]:
    """Simulate the journeys of ``config`` and return them with their ground truth.

    Parameters
    ----------
    config : SimulationConfig, optional
        The settings; the defaults of :class:`SimulationConfig` when None.
    seed : None, int or numpy.random.Generator
        The same int gives the same events and truth.

    Returns
    -------
    (pandas.DataFrame, GroundTruth)
        The events frame (as :func:`generate` returns it) and the truth: the
        configured rates and distributions, and tables of the users, sessions,
        rentals and catalog that the simulation made.

    Examples
    --------
    >>> events, truth = simulate(SimulationConfig(users=200, days=7), seed=1)
    >>> truth.session_funnel()["step"].tolist()
    ['pageview', 'interaction', 'transaction', 'view']
    """
    config = SimulationConfig() if config is None else config
    if not isinstance(config, SimulationConfig):
        raise TypeError(f"config must be a SimulationConfig, got {type(config).__name__}.")
    world = _World.make(config, seed)
    blocks = [world.block(b) for b in range(world.n_blocks)]
    frame = world.frame(blocks)
    truth = world.truth(blocks)
    _log_done(frame, config, world)
    return frame, truth


def generate(
    *,
    users: int | None = None,
    start: str | pd.Timestamp | None = None,
    days: int | None = None,
    seed: None | int | np.random.Generator = None,
    catalog_size: int | None = None,
    config: SimulationConfig | None = None,
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, GroundTruth]:
    """Simulate the journeys of ``users`` visitors over ``days`` days.

    The model is described at the top of :mod:`journeys.generate`.

    Parameters
    ----------
    users : int
        Number of users simulated (2000 by default). Users without any session
        in the period have no events.
    start : str or pandas.Timestamp
        Start of the period ("2024-05-01" by default). A time without a zone is UTC.
    days : int
        Length of the period (30 by default); events fall in ``[start, start + days)``.
    seed : None, int or numpy.random.Generator
        The same int gives the same frame.
    catalog_size : int
        Number of movies in the catalog (2000 by default).
    config : SimulationConfig, optional
        Every other setting; the keywords above override its fields.
    return_truth : bool
        Return ``(events, truth)`` as :func:`simulate` does.

    Returns
    -------
    pandas.DataFrame
        An events frame: indexed by ``time`` (UTC, nanoseconds), with the
        columns and dtypes of :func:`journeys.schema.dtypes`, sorted by time.

    Raises
    ------
    ConfigError
        For a setting out of range (a ``ValueError``), naming it.

    Examples
    --------
    >>> events = generate(users=50, days=7, seed=1)
    >>> events.index.name, events.index.is_monotonic_increasing
    ('time', True)
    """
    config = _resolve(config, users=users, start=start, days=days, catalog_size=catalog_size)
    if return_truth:
        return simulate(config, seed=seed)
    world = _World.make(config, seed)
    events = world.frame([world.block(b) for b in range(world.n_blocks)])
    _log_done(events, config, world)
    return events


def generate_chunks(
    *,
    users: int | None = None,
    start: str | pd.Timestamp | None = None,
    days: int | None = None,
    seed: None | int | np.random.Generator = None,
    catalog_size: int | None = None,
    config: SimulationConfig | None = None,
    chunk_users: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """The events of :func:`generate`, as frames of ``chunk_users`` users at a time.

    Each frame holds every event of its users and is sorted by time; the
    frames come in user order, so ``pd.concat(chunks).sort_index(kind="stable")``
    is exactly ``generate(...)`` with the same arguments. Memory stays about
    that of one chunk, whatever the number of users.

    Parameters
    ----------
    users, start, days, seed, catalog_size, config :
        As for :func:`generate`.
    chunk_users : int
        Users per chunk, rounded up to a multiple of :data:`BLOCK_USERS`.

    Yields
    ------
    pandas.DataFrame
        Events frames as :func:`generate` returns them. A simulation of no
        users yields nothing.

    Examples
    --------
    >>> sizes = [len(c) for c in generate_chunks(users=3000, days=2, seed=1, chunk_users=1000)]
    >>> len(sizes)
    3
    """
    if not isinstance(chunk_users, numbers.Integral) or chunk_users < 1:
        raise ValueError(f"chunk_users must be an int of at least 1, got {chunk_users!r}.")
    config = _resolve(config, users=users, start=start, days=days, catalog_size=catalog_size)
    world = _World.make(config, seed)
    per_chunk = -(-int(chunk_users) // BLOCK_USERS)
    return _chunks(world, per_chunk)


def _chunks(world, per_chunk):
    for first in range(0, world.n_blocks, per_chunk):
        blocks = [world.block(b) for b in range(first, min(first + per_chunk, world.n_blocks))]
        frame = world.frame(blocks)
        logger.info(
            "chunk of users %d to %d: %d events",
            first * BLOCK_USERS,
            min((first + per_chunk) * BLOCK_USERS, world.config.users) - 1,
            len(frame),
        )
        yield frame


def _resolve(config, **overrides):
    config = SimulationConfig() if config is None else config
    if not isinstance(config, SimulationConfig):
        raise TypeError(f"config must be a SimulationConfig, got {type(config).__name__}.")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(changes.get("start"), pd.Timestamp):
        changes["start"] = changes["start"].isoformat()
    return config.replace(**changes) if changes else config


def _log_done(frame, config, world):
    logger.info(
        "generated %d events for %d users over %d days from %s",
        len(frame),
        config.users,
        config.days,
        pd.Timestamp(world.start_ns, tz="UTC"),
    )


def _period(start, days):
    """The period as int64 nanoseconds since the epoch, end excluded."""
    begin = pd.Timestamp(start)
    begin = begin.tz_localize("UTC") if begin.tzinfo is None else begin.tz_convert("UTC")
    begin_ns = begin.as_unit("ns").value
    return begin_ns, begin_ns + int(days) * 86_400 * _NS


@dataclass
class _World:
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
    def make(cls, config, seed):
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
    def n_blocks(self):
        return -(-self.config.users // BLOCK_USERS)

    def block(self, index):
        """Simulate the users of block ``index``: their events and what the truth needs."""
        config, catalog = self.config, self.catalog
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

        # Gaps inside sessions, then sessions spaced apart.
        first_event = np.ones(len(session), dtype=bool)
        first_event[1:] = session[1:] != session[:-1]
        gaps = np.floor(rng.exponential(size=len(session)) * people["mean_gap_s"][user] * _NS)
        gaps = gaps.astype(np.int64) + 1
        gaps[first_event] = 0
        elapsed = np.cumsum(gaps)
        heads = np.flatnonzero(first_event)
        elapsed -= elapsed[heads][session]
        tails = np.append(heads[1:], len(session)) - 1
        min_gap = int(round(config.min_session_gap_minutes * 60 * _NS))
        begins = lay_out(session_user, drawn, elapsed[tails], min_gap)
        time = begins[session] + elapsed

        # What each event concerns.
        n = len(session)
        is_pageview = state == _PAGEVIEW
        movie = np.searchsorted(catalog.cdf, rng.random(n), side="right")
        movie = np.minimum(movie, len(catalog.ids) - 1)
        latest = np.maximum.accumulate(np.where(is_pageview, np.arange(n), 0))
        content = movie[latest]
        detail = np.full(n, -1, dtype=np.int64)
        for code, mix in ((_INTERACTION, config.interaction_mix), (_BUTTON, config.button_mix)):
            where = state == code
            detail[where] = pick(rng, mix, int(where.sum()))
        depth = _scroll_depths(rng, config, n)
        duration = np.full(n, -1, dtype=np.int64)
        is_rent = state == _TRANSACTION
        hours = np.array(list(config.duration_mix), dtype=np.int64)
        duration[is_rent] = hours[pick(rng, config.duration_mix, int(is_rent.sum()))]

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

    def _rent_and_view(self, rng, events):
        """Drop second rentals of a movie by a user, and add the first view of the others."""
        config = self.config
        rent = np.flatnonzero(events["state"] == _TRANSACTION)
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
        views["state"][:] = _VIEW
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

    def frame(self, blocks):
        """The events frame of ``blocks``: every column of the schema, sorted by time."""
        config, catalog = self.config, self.catalog
        offsets = np.cumsum([0] + [len(b["people"]["number"]) for b in blocks])
        people = {
            name: _concat([b["people"][name] for b in blocks], dtype)
            for name, dtype in (
                ("id", object),
                ("place", np.int64),
                ("device", np.int64),
                ("referral", np.int64),
                ("number", np.int64),
            )
        }
        ev = {
            name: _concat([b["events"][name] for b in blocks], dtype)
            for name, dtype in (
                ("time", np.int64),
                ("state", np.int64),
                ("content", np.int64),
                ("detail", np.int64),
                ("depth", float),
                ("lag", np.int64),
                ("duration", np.int64),
            )
        }
        ev["user"] = _concat(
            [b["events"]["user"] + off for b, off in zip(blocks, offsets, strict=False)], np.int64
        )
        order = np.lexsort((people["number"][ev["user"]], ev["time"]))
        ev = {name: values[order] for name, values in ev.items()}
        state, user, content, detail = ev["state"], ev["user"], ev["content"], ev["detail"]
        n_movies = len(catalog.ids)

        interactions = list(config.interaction_mix)
        is_interaction = state == _INTERACTION
        no_movie = np.zeros(len(state), dtype=bool)
        page = content.copy()
        for name, where in (("search", 3 * n_movies), ("filter", 3 * n_movies + 1)):
            if name in interactions:
                hit = is_interaction & (detail == interactions.index(name))
                no_movie |= hit
                page[hit] = where
        page[state == _TRANSACTION] += n_movies
        page[state == _VIEW] += 2 * n_movies
        site = config.site
        pages = [f"{site}/movie/{m}" for m in catalog.ids]
        pages += [f"{site}/movie/{m}/rent" for m in catalog.ids]
        pages += [f"{site}/watch/{m}" for m in catalog.ids]
        pages += [f"{site}/search", f"{site}/browse"]

        is_rent, is_view = state == _TRANSACTION, state == _VIEW
        user_place = people["place"][user]
        columns = {
            "event_type": _strings(state, _EVENT_NAMES),
            "content_id": _strings(np.where(no_movie, -1, content), catalog.ids),
            "user_id": _strings(user, people["id"]),
            "device_type": _strings(people["device"][user], list(config.device_mix)),
            "location": _strings(user_place, list(config.locations)),
            "referral_source": _strings(people["referral"][user], list(config.referral_mix)),
            "page_url": _strings(page, pages),
            "scroll_depth": _floats(np.nan_to_num(ev["depth"]), state != _SCROLL),
            "interaction_type": _strings(np.where(is_interaction, detail, -1), interactions),
            "purchase_value": _floats(catalog.price[content], ~is_rent),
            "rental_duration": _integers(ev["duration"], ~is_rent),
            "rental_popularity": _integers(catalog.popularity[content], ~is_rent),
            "time_lag_from_transaction": _integers(ev["lag"], ~is_view),
            "button_clicked": _strings(
                np.where(state == _BUTTON, detail, -1), list(config.button_mix)
            ),
        }
        index = pd.DatetimeIndex(ev["time"].view("datetime64[ns]"), name="time").tz_localize("UTC")
        frame = pd.DataFrame(columns, index=index)
        return frame.astype(dtypes())[[c.name for c in COLUMNS]]

    def truth(self, blocks):
        """The :class:`GroundTruth` of ``blocks``, with tables of what happened."""
        config, catalog = self.config, self.catalog
        people = (
            {
                name: _concat([b["people"][name] for b in blocks], None)
                for name in blocks[0]["people"]
            }
            if blocks
            else None
        )
        offsets = np.cumsum([0] + [len(b["people"]["number"]) for b in blocks])
        utc = lambda ns: pd.to_datetime(ns, unit="ns", utc=True)  # noqa: E731

        if people is None:
            users = pd.DataFrame(columns=_USER_COLUMNS)
        else:
            churn = people["churn_ns"]
            users = pd.DataFrame(
                {
                    "user_id": pd.array(people["id"], dtype="string"),
                    "name": pd.array(people["name"], dtype="string"),
                    "location": np.array(list(config.locations), dtype=object)[people["place"]],
                    "device_type": np.array(list(config.device_mix), dtype=object)[
                        people["device"]
                    ],
                    "referral_source": np.array(list(config.referral_mix), dtype=object)[
                        people["referral"]
                    ],
                    "sessions_per_day": people["sessions_per_day"],
                    "mean_event_gap_seconds": people["mean_gap_s"],
                    "arrival": utc(people["arrival_ns"]),
                    "churn": utc(np.where(churn < self.end_ns, churn, self.start_ns)).where(
                        churn < self.end_ns
                    ),
                }
            )

        sessions, rentals = [], []
        for b, off in zip(blocks, offsets, strict=False):
            ev = b["events"]
            inside = ev["session"] >= 0
            s, t, u = ev["session"][inside], ev["time"][inside], ev["user"][inside]
            if len(s):
                order = np.lexsort((t, s))
                s, t, u = s[order], t[order], u[order]
                head = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
                tail = np.append(head[1:], len(s)) - 1
                sessions.append(
                    pd.DataFrame(
                        {
                            "user": u[head] + off,
                            "start": t[head],
                            "end": t[tail],
                            "events": tail - head + 1,
                        }
                    )
                )
            r = b["rentals"]
            rentals.append(pd.DataFrame({**r, "user": r["user"] + off}))
        ids = np.concatenate([b["people"]["id"] for b in blocks]) if blocks else np.array([])

        session_table = _table(sessions, ["user", "start", "end", "events"])
        session_table = pd.DataFrame(
            {
                "user_id": pd.array(ids[session_table["user"].to_numpy(int)], dtype="string"),
                "start": utc(session_table["start"].to_numpy(np.int64)),
                "end": utc(session_table["end"].to_numpy(np.int64)),
                "events": session_table["events"].to_numpy(np.int64),
            }
        ).sort_values(["start", "user_id"], kind="stable", ignore_index=True)
        rent = _table(rentals, ["user", "content", "rental_ns", "view_ns", "lag", "will_view"])
        viewed = rent["view_ns"].to_numpy(np.int64) >= 0
        rental_table = pd.DataFrame(
            {
                "user_id": pd.array(ids[rent["user"].to_numpy(int)], dtype="string"),
                "content_id": pd.array(catalog.ids[rent["content"].to_numpy(int)], dtype="string"),
                "rental_time": utc(rent["rental_ns"].to_numpy(np.int64)),
                "view_time": utc(np.where(viewed, rent["view_ns"], 0)).where(viewed),
                "lag_seconds": pd.arrays.IntegerArray(rent["lag"].to_numpy(np.int64), ~viewed),
                "will_view": rent["will_view"].to_numpy(bool),
            }
        ).sort_values(["rental_time", "user_id"], kind="stable", ignore_index=True)
        if people is not None:
            counts = session_table["user_id"].value_counts()
            users["sessions"] = users["user_id"].map(counts).fillna(0).astype(np.int64)

        catalog_table = pd.DataFrame(
            {
                "content_id": pd.array(catalog.ids, dtype="string"),
                "popularity_rank": catalog.rank,
                "weight": catalog.weights,
                "rental_popularity": catalog.popularity,
                "price": catalog.price,
            }
        )
        return GroundTruth(
            config=config,
            users=users,
            sessions=session_table,
            rentals=rental_table,
            catalog=catalog_table,
            rentals_refused=sum(b["refused"] for b in blocks),
        )


_USER_COLUMNS = [
    "user_id",
    "name",
    "location",
    "device_type",
    "referral_source",
    "sessions_per_day",
    "mean_event_gap_seconds",
    "arrival",
    "churn",
    "sessions",
]


def _table(parts, columns):
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: np.array([], dtype=np.int64) for c in columns})
    return pd.concat(parts, ignore_index=True)


def _untie(events):
    """Move an event 1 ns later where it shares its user's nanosecond with a view."""
    while True:
        order = np.lexsort((events["time"], events["user"]))
        user, time = events["user"][order], events["time"][order]
        tied = np.flatnonzero((user[1:] == user[:-1]) & (time[1:] == time[:-1]))
        if not len(tied):
            return
        pair = np.stack([order[tied], order[tied + 1]], axis=1)
        # The event that moves is the one that is not a view (views keep their exact lag).
        is_view = events["state"][pair] == _VIEW
        move = np.where(is_view[:, 0], pair[:, 1], pair[:, 0])
        events["time"][move] += 1


def _scroll_depths(rng, config, n):
    """A depth for each of ``n`` events (used by the scroll events only)."""
    draw = rng.random(n)
    depth = np.round(100 * rng.beta(*config.scroll_beta, size=n), 1)
    depth[draw < config.scroll_zero_share] = 0.0
    to_end = config.scroll_zero_share + config.scroll_end_share
    depth[(draw >= config.scroll_zero_share) & (draw < to_end)] = 100.0
    return depth


def _concat(parts, dtype):
    if not parts:
        return np.array([], dtype=dtype)
    return np.concatenate(parts)


def _strings(codes, vocabulary):
    """A string array of ``vocabulary[codes]``, with NA where a code is -1."""
    words = pa.array([str(w) for w in vocabulary], type=pa.large_string())
    indices = pa.array(np.asarray(codes, dtype=np.int64), mask=np.asarray(codes) < 0)
    return pd.arrays.ArrowStringArray(words.take(indices))


def _floats(values, missing):
    return pd.arrays.FloatingArray(np.asarray(values, dtype=float), np.asarray(missing, bool))


def _integers(values, missing):
    return pd.arrays.IntegerArray(np.asarray(values, dtype=np.int64), np.asarray(missing, bool))
