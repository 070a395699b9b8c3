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
Sessions (:mod:`journeys.session_model`)
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

Where the code lives: :mod:`journeys.simulation` simulates a block of users,
:mod:`journeys.event_frame` turns blocks into an events frame,
:mod:`journeys.realised` into the tables of the truth, and
:mod:`journeys.truth` computes what the model implies.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterator

import numpy as np
import pandas as pd

from journeys.event_frame import events_frame
from journeys.realised import realised_truth
from journeys.seeds import as_generator
from journeys.simulation import BLOCK_USERS, World
from journeys.simulation_config import SimulationConfig
from journeys.truth import GroundTruth

__all__ = ["BLOCK_USERS", "as_generator", "generate", "generate_chunks", "simulate"]

logger = logging.getLogger(__name__)


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
    world = World.make(config, seed)
    blocks = [world.block(b) for b in range(world.n_blocks)]
    frame = events_frame(world, blocks)
    truth = realised_truth(world, blocks)
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
    world = World.make(config, seed)
    events = events_frame(world, [world.block(b) for b in range(world.n_blocks)])
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
    chunk_users: int = 10_000,
) -> Iterator[pd.DataFrame]:
    """The events of :func:`generate`, as frames of ``chunk_users`` users at a time.

    Each frame holds every event of its users and is sorted by time; the
    frames come in user order, so ``pd.concat(chunks).sort_index(kind="stable")``
    is exactly ``generate(...)`` with the same arguments. Memory stays about
    that of one chunk, whatever the number of users. The truth the model
    implies needs no events: ``jy.GroundTruth(config)``; the tables of what
    happened come with :func:`simulate` only, which holds everything.

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
    world = World.make(config, seed)
    per_chunk = -(-int(chunk_users) // BLOCK_USERS)
    return _chunks(world, per_chunk)


def _chunks(world, per_chunk):
    for first in range(0, world.n_blocks, per_chunk):
        blocks = [world.block(b) for b in range(first, min(first + per_chunk, world.n_blocks))]
        frame = events_frame(world, blocks)
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
