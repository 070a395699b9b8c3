"""Synthetic customer journeys, for trying analyses without a production feed.

:func:`generate` simulates the visitors of a movie-rental site over a period
and returns their events as an events frame (see :mod:`journeys.schema`). The
simulation is vectorised with numpy, so tens of thousands of sessions take a
fraction of a second, and it is reproducible: the same ``seed`` gives the same
frame.

The model, step by step:

Users
    Each user gets a numeric-looking id made by Faker, a city from a pool of
    :data:`N_PLACES` Faker cities (a few of them much more common than the
    rest), a referral source from :data:`REFERRAL_MIX` and a device from
    :data:`DEVICE_MIX`. A user keeps them on all their events.
Catalog
    ``catalog_size`` movies with ids ``m0001``, ``m0002``, ... and Zipf-like
    popularity: the movie of popularity rank ``r`` is chosen with weight
    ``1 / r ** ZIPF_EXPONENT``, ranks being shuffled over the ids. A rental's
    ``rental_popularity`` is the movie's rentals before the period: on average
    :data:`HISTORIC_RENTALS_PER_MOVIE` per movie, shared out by that weight.
Sessions
    A user has a rate of sessions per day drawn from a gamma distribution
    (mean :data:`SESSIONS_PER_DAY`), a Poisson number of sessions over the
    period and session starts spread uniformly over it.
Inside a session
    ``1 + Geometric`` pageviews of movies chosen by popularity. After each
    pageview, with the probabilities of :data:`STEP_PROBABILITIES`, a scroll
    of that page, an interaction (search, click or filter) and a button click
    follow, in that order. A session ends in a rental of the last movie viewed
    with probability ``STEP_PROBABILITIES["transaction"]``. The time between
    two events of a session is exponential, :data:`MEAN_GAP_SECONDS` on
    average, at nanosecond resolution.
Views
    A rental is followed by a ``view`` of the movie with probability
    ``STEP_PROBABILITIES["view"]``, after a lognormal lag in whole seconds
    (median :data:`VIEW_LAG_MEDIAN_HOURS` hours). The view's
    ``time_lag_from_transaction`` is that lag, and its time is exactly the
    rental's time plus the lag. Views that would fall after the period are not
    emitted: those rentals were never viewed.
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np
import pandas as pd
from faker import Faker

from journeys.schema import COLUMNS, dtypes

__all__ = ["as_generator", "generate"]

logger = logging.getLogger(__name__)

#: Referral sources and the share of users who come from each.
REFERRAL_MIX: dict[str, float] = {
    "Google": 0.38,
    "Direct": 0.22,
    "Facebook": 0.14,
    "Email": 0.10,
    "Twitter": 0.07,
    "Bing": 0.05,
    "Instagram": 0.04,
}

#: Devices and the share of users on each.
DEVICE_MIX: dict[str, float] = {"desktop": 0.45, "mobile": 0.38, "tablet": 0.11, "tv": 0.06}

#: How many cities the users live in. The city of rank ``r`` (in the order
#: Faker made them) has weight ``1 / r``, so the first few hold most users.
N_PLACES = 30

#: Popularity of the movie of rank ``r`` is proportional to ``1 / r ** ZIPF_EXPONENT``.
ZIPF_EXPONENT = 1.1

#: ``rental_popularity`` is the movie's rentals before the simulated period:
#: this many per movie on average, split over the catalog by popularity weight
#: (at least 1 per movie).
HISTORIC_RENTALS_PER_MOVIE = 100

#: Mean of the users' rates of sessions per day (gamma distributed, shape 1.5).
SESSIONS_PER_DAY = 0.3
SESSION_RATE_SHAPE = 1.5

#: Mean number of pageviews in a session (at least 1, geometric beyond that).
MEAN_PAGEVIEWS = 3.0

#: Mean time between two events of a session, in seconds (exponential).
MEAN_GAP_SECONDS = 30.0

#: Chance of each optional step: per pageview for scroll, interaction and
#: button_click; per session for transaction; per rental for view.
STEP_PROBABILITIES: dict[str, float] = {
    "scroll": 0.7,
    "interaction": 0.35,
    "button_click": 0.12,
    "transaction": 0.12,
    "view": 0.8,
}

#: Interaction types and their shares. Searches happen on the search page and
#: filters on the browse page, both without a content_id; a click is on the
#: page of the movie just viewed.
INTERACTION_MIX: dict[str, float] = {"search": 0.5, "click": 0.3, "filter": 0.2}

#: Buttons and their shares among button clicks.
BUTTON_MIX: dict[str, float] = {"add_to_collection": 0.5, "set_reminder": 0.2, "share": 0.3}

#: Prices of a rental and their shares (19.99 is the buy-to-own price).
PRICE_MIX: dict[float, float] = {2.99: 0.3, 3.99: 0.35, 4.99: 0.25, 19.99: 0.1}

#: Rental durations in hours and their shares. The rental period starts at the
#: first view, as on most stores, so a view may come later than the duration.
DURATION_MIX: dict[int, float] = {24: 0.5, 48: 0.3, 72: 0.2}

#: Scroll depth: a share read the page to its end (100), the others stop at
#: ``100 * Beta(SCROLL_BETA)``, rounded to 0.1.
SCROLL_TO_END = 0.15
SCROLL_BETA = (1.6, 1.4)

#: The lag from rental to view is lognormal with this median, in hours, and
#: this sigma (of the log), rounded to whole seconds, at least 1 s.
VIEW_LAG_MEDIAN_HOURS = 3.0
VIEW_LAG_SIGMA = 1.4

SITE = "https://example.com"

# Codes of the event types, in the order of the steps after a pageview.
_PAGEVIEW, _SCROLL, _INTERACTION, _BUTTON, _TRANSACTION, _VIEW = range(6)
_EVENT_NAMES = np.array(
    ["pageview", "scroll", "interaction", "button_click", "transaction", "view"], dtype=object
)


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


def generate(
    *,
    users: int = 2000,
    start: str | pd.Timestamp = "2024-05-01",
    days: int = 30,
    seed: None | int | np.random.Generator = None,
    catalog_size: int = 500,
) -> pd.DataFrame:
    """Simulate the journeys of ``users`` visitors over ``days`` days.

    The model is described at the top of :mod:`journeys.generate`.

    Parameters
    ----------
    users : int
        Number of users simulated. Users without any session in the period
        have no events.
    start : str or pandas.Timestamp
        Start of the period. A time without a zone is taken as UTC.
    days : int
        Length of the period; events fall in ``[start, start + days)``.
    seed : None, int or numpy.random.Generator
        Seeds both numpy and Faker: the same int gives the same frame.
    catalog_size : int
        Number of movies in the catalog.

    Returns
    -------
    pandas.DataFrame
        An events frame: indexed by ``time`` (UTC, nanoseconds), with the
        columns and dtypes of :func:`journeys.schema.dtypes`, sorted by time.

    Raises
    ------
    ValueError
        For a negative number of users, a period of no days or an empty catalog.

    Examples
    --------
    >>> events = generate(users=50, days=7, seed=1)
    >>> events.index.name, events.index.is_monotonic_increasing
    ('time', True)
    """
    for name, value, least in (("users", users, 0), ("days", days, 1)):
        if not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"{name} must be an int of at least {least}, got {value!r}.")
    if not isinstance(catalog_size, numbers.Integral) or catalog_size < 1:
        raise ValueError(f"catalog_size must be an int of at least 1, got {catalog_size!r}.")
    rng = as_generator(seed)
    start_ns, end_ns = _period(start, days)

    people = _users(rng, users)
    content_ids, weights, popularity = _catalog(rng, catalog_size)

    events = _session_events(rng, people, weights, days, start_ns, end_ns)
    events = _first_rentals(events)
    events = _add_views(rng, events, end_ns)

    frame = _to_frame(events, people, content_ids, popularity)
    logger.info(
        "generated %d events for %d users over %d days from %s",
        len(frame),
        users,
        days,
        pd.Timestamp(start_ns, tz="UTC"),
    )
    return frame


def _period(start, days):
    """The period as int64 nanoseconds since the epoch, end excluded."""
    begin = pd.Timestamp(start)
    begin = begin.tz_localize("UTC") if begin.tzinfo is None else begin.tz_convert("UTC")
    begin_ns = begin.as_unit("ns").value
    return begin_ns, begin_ns + int(days) * 86_400 * 10**9


def _pick(rng, mix, size):
    """Draw ``size`` codes into the keys of ``mix`` with its probabilities."""
    p = np.array(list(mix.values()), dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _users(rng, users):
    """Ids, places, referral sources and devices of the users, as codes and vocabularies."""
    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(2**63)))

    digits = max(5, math.ceil(math.log10(max(users, 1) * 100)))
    ids = [str(fake.unique.random_number(digits=digits, fix_len=True)) for _ in range(users)]

    places: list[str] = []
    while len(places) < N_PLACES:
        city = fake.city()
        if city not in places:
            places.append(city)
    place_weights = 1.0 / np.arange(1, N_PLACES + 1)

    return {
        "ids": np.array(ids, dtype=object),
        "places": np.array(places, dtype=object),
        "place": rng.choice(N_PLACES, size=users, p=place_weights / place_weights.sum()),
        "referral": _pick(rng, REFERRAL_MIX, users),
        "device": _pick(rng, DEVICE_MIX, users),
    }


def _catalog(rng, catalog_size):
    """Content ids, choice weights and ``rental_popularity`` of the movies."""
    width = max(4, len(str(catalog_size)))
    content_ids = np.array([f"m{i:0{width}d}" for i in range(1, catalog_size + 1)], dtype=object)

    rank = rng.permutation(catalog_size) + 1
    weights = 1.0 / rank.astype(float) ** ZIPF_EXPONENT
    weights /= weights.sum()

    historic = HISTORIC_RENTALS_PER_MOVIE * catalog_size * weights
    popularity = np.maximum(1, np.rint(historic)).astype(np.int64)
    return content_ids, weights, popularity


def _session_events(rng, people, weights, days, start_ns, end_ns):
    """Every event but views, in time order within each session, cut at the period's end."""
    n_users = len(people["ids"])
    rates = rng.gamma(SESSION_RATE_SHAPE, SESSIONS_PER_DAY / SESSION_RATE_SHAPE, size=n_users)
    n_sessions = rng.poisson(rates * days)
    session_user = np.repeat(np.arange(n_users), n_sessions)
    # Limitation: the sessions of one user are placed independently, so two of
    # them can overlap in time; placing them one after the other per user would
    # fix it at the cost of a cumulative sum over gaps between sessions.
    session_start = rng.integers(start_ns, end_ns, size=len(session_user))

    n_pageviews = rng.geometric(1.0 / MEAN_PAGEVIEWS, size=len(session_user))
    pv_session = np.repeat(np.arange(len(session_user)), n_pageviews)
    pv_content = rng.choice(len(weights), size=len(pv_session), p=weights)
    last_pv = np.cumsum(n_pageviews) - 1

    # One row per event, keyed by (pageview, step) so that sorting the keys puts
    # the events of a session in order: each pageview, then what followed it.
    pv_all = np.arange(len(pv_session))
    parts = [(pv_all, _PAGEVIEW)]
    for code in (_SCROLL, _INTERACTION, _BUTTON):
        chance = STEP_PROBABILITIES[_EVENT_NAMES[code]]
        parts.append((pv_all[rng.random(len(pv_all)) < chance], code))
    rents = rng.random(len(session_user)) < STEP_PROBABILITIES["transaction"]
    parts.append((last_pv[rents], _TRANSACTION))

    pv = np.concatenate([idx for idx, _ in parts])
    kind = np.concatenate([np.full(len(idx), code, dtype=np.int8) for idx, code in parts])
    order = np.argsort(pv * 8 + kind, kind="stable")
    pv, kind = pv[order], kind[order]
    session = pv_session[pv]

    gaps = (rng.exponential(MEAN_GAP_SECONDS * 1e9, size=len(pv))).astype(np.int64)
    first = np.ones(len(pv), dtype=bool)
    first[1:] = session[1:] != session[:-1]
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first], np.diff(np.append(np.flatnonzero(first), len(pv))))
    time = session_start[session] + elapsed

    keep = time < end_ns
    n = int(keep.sum())
    events = {
        "time": time[keep],
        "kind": kind[keep],
        "user": session_user[session[keep]],
        "content": pv_content[pv[keep]],
        "scroll_depth": np.full(n, np.nan),
        "interaction": np.full(n, -1),
        "button": np.full(n, -1),
        "price": np.full(n, np.nan),
        "duration": np.zeros(n, dtype=np.int64),
        "lag": np.zeros(n, dtype=np.int64),
    }

    is_scroll = events["kind"] == _SCROLL
    depth = 100 * rng.beta(*SCROLL_BETA, size=int(is_scroll.sum()))
    depth[rng.random(len(depth)) < SCROLL_TO_END] = 100.0
    events["scroll_depth"][is_scroll] = np.round(depth, 1)

    for column, code, mix in (
        ("interaction", _INTERACTION, INTERACTION_MIX),
        ("button", _BUTTON, BUTTON_MIX),
        ("price", _TRANSACTION, PRICE_MIX),
        ("duration", _TRANSACTION, DURATION_MIX),
    ):
        where = events["kind"] == code
        codes = _pick(rng, mix, int(where.sum()))
        # Strings are kept as codes into the mix's keys, numbers as themselves.
        numeric = column in ("price", "duration")
        events[column][where] = np.array(list(mix))[codes] if numeric else codes
    return events


def _first_rentals(events):
    """Drop the rentals of a movie the user already rented earlier in the period."""
    # Limitation: a user rents a movie at most once in the period, so that every
    # view answers exactly one rental; re-rentals would need the view of a second
    # rental to count its lag from the latest rental instead.
    is_rent = np.flatnonzero(events["kind"] == _TRANSACTION)
    by_time = is_rent[np.argsort(events["time"][is_rent], kind="stable")]
    pairs = pd.DataFrame({"user": events["user"][by_time], "content": events["content"][by_time]})
    drop = by_time[pairs.duplicated().to_numpy()]
    keep = np.ones(len(events["time"]), dtype=bool)
    keep[drop] = False
    return {name: values[keep] for name, values in events.items()}


def _add_views(rng, events, end_ns):
    """Append the first view after each rental that is viewed within the period."""
    rent = np.flatnonzero(events["kind"] == _TRANSACTION)
    rent = rent[rng.random(len(rent)) < STEP_PROBABILITIES["view"]]
    median_s = VIEW_LAG_MEDIAN_HOURS * 3600
    lag = rng.lognormal(np.log(median_s), VIEW_LAG_SIGMA, size=len(rent))
    lag = np.maximum(1, np.rint(lag)).astype(np.int64)
    time = events["time"][rent] + lag * 10**9

    seen = time < end_ns
    rent, lag, time = rent[seen], lag[seen], time[seen]
    views = {name: values[rent].copy() for name, values in events.items()}
    views["time"] = time
    views["kind"][:] = _VIEW
    views["lag"] = lag
    views["price"][:] = np.nan
    views["duration"][:] = 0
    return {name: np.concatenate([events[name], views[name]]) for name in events}


def _strings(codes, vocabulary):
    """A string array of ``vocabulary[codes]``, with NA where a code is -1."""
    categorical = pd.Categorical.from_codes(codes, categories=pd.Index(vocabulary, dtype=object))
    return pd.array(categorical, dtype=pd.StringDtype())


def _to_frame(events, people, content_ids, popularity):
    """Assemble the events frame of the contract from the event codes."""
    order = np.argsort(events["time"], kind="stable")
    ev = {name: values[order] for name, values in events.items()}
    kind, user, content = ev["kind"], ev["user"], ev["content"]
    n_movies = len(content_ids)

    interactions = list(INTERACTION_MIX)
    is_search = (kind == _INTERACTION) & (ev["interaction"] == interactions.index("search"))
    is_filter = (kind == _INTERACTION) & (ev["interaction"] == interactions.index("filter"))
    has_content = ~(is_search | is_filter)

    # Pages: movie pages, rent pages, watch pages, then the search and browse pages.
    pages = np.concatenate(
        [
            SITE + "/movie/" + content_ids,
            SITE + "/movie/" + content_ids + "/rent",
            SITE + "/watch/" + content_ids,
            np.array([SITE + "/search", SITE + "/browse"], dtype=object),
        ]
    )
    page = content.copy()
    page[kind == _TRANSACTION] += n_movies
    page[kind == _VIEW] += 2 * n_movies
    page[is_search] = 3 * n_movies
    page[is_filter] = 3 * n_movies + 1

    is_rent, is_view = kind == _TRANSACTION, kind == _VIEW
    columns = {
        "event_type": _strings(kind, _EVENT_NAMES),
        "content_id": _strings(np.where(has_content, content, -1), content_ids),
        "user_id": _strings(user, people["ids"]),
        "device_type": _strings(people["device"][user], np.array(list(DEVICE_MIX), dtype=object)),
        "location": _strings(people["place"][user], people["places"]),
        "referral_source": _strings(
            people["referral"][user], np.array(list(REFERRAL_MIX), dtype=object)
        ),
        "page_url": _strings(page, pages),
        "scroll_depth": pd.arrays.FloatingArray(
            np.nan_to_num(ev["scroll_depth"]), np.isnan(ev["scroll_depth"])
        ),
        "interaction_type": _strings(
            ev["interaction"], np.array(list(INTERACTION_MIX), dtype=object)
        ),
        "purchase_value": pd.arrays.FloatingArray(np.nan_to_num(ev["price"]), ~is_rent),
        "rental_duration": pd.arrays.IntegerArray(ev["duration"], ~is_rent),
        "rental_popularity": pd.arrays.IntegerArray(popularity[content], ~is_rent),
        "time_lag_from_transaction": pd.arrays.IntegerArray(ev["lag"], ~is_view),
        "button_clicked": _strings(ev["button"], np.array(list(BUTTON_MIX), dtype=object)),
    }
    index = pd.DatetimeIndex(pd.to_datetime(ev["time"], unit="ns", utc=True), name="time")
    frame = pd.DataFrame(columns, index=index.as_unit("ns"))
    return frame.astype(dtypes())[[c.name for c in COLUMNS]]
