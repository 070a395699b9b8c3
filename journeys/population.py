"""The simulated people and the movie catalog they browse.

:class:`Catalog` is made once per simulation: movie ids, a Zipf-like
popularity weight per movie (shuffled over the ids, so ``m0001`` is not
always the hit), the ``rental_popularity`` that follows that weight, and the
movie's price tier.

:func:`make_users` makes a block of users at a time, so that a big
simulation never holds them all (see :mod:`journeys.generate`). Each user has

- a unique numeric-looking id: ``10**(d-1) + (a * i + b) mod 9 * 10**(d-1)``
  for the user's number ``i``, with a seeded ``a`` coprime to the modulus, so
  ids look random, never repeat, and do not depend on how users are chunked;
- a name drawn from Faker's ``en_US`` first and last names with Faker's own
  frequencies (vectorised; the name is in the ground truth, not in events);
- a city drawn in proportion to population, and its time zone;
- a referral source and a device from the configured mixes;
- a pace: sessions per day and mean seconds between clicks, both lognormal
  (heavy-tailed, so a few users come very often and click fast);
- an arrival time (the start, for customers already there; else uniform over
  the period) and a churn time (arrival plus an exponential lifetime).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from faker.providers.person.en_US import Provider as _Names

from journeys.simulation_config import SimulationConfig

__all__ = ["Catalog", "IdScheme", "make_catalog", "make_users", "pick"]

_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class Catalog:
    """The movies: ids, popularity weights (summing to 1), rental popularity and price."""

    ids: np.ndarray
    weights: np.ndarray
    rank: np.ndarray
    popularity: np.ndarray
    price: np.ndarray

    @property
    def cdf(self) -> np.ndarray:
        """Cumulative weights, for drawing movies with ``searchsorted``."""
        return np.cumsum(self.weights)


def make_catalog(rng: np.random.Generator, config: SimulationConfig) -> Catalog:
    """Make the movie catalog of ``config`` (see the module docstring)."""
    n = config.catalog_size
    width = max(4, len(str(n)))
    ids = np.array([f"m{i:0{width}d}" for i in range(1, n + 1)], dtype=object)

    rank = rng.permutation(n) + 1
    weights = rank.astype(float) ** -config.zipf_exponent
    weights /= weights.sum()

    historic = config.historic_rentals_per_movie * n * weights
    popularity = np.maximum(1, np.rint(historic)).astype(np.int64)

    prices = np.array(list(config.price_mix), dtype=float)
    price = prices[pick(rng, config.price_mix, n)]
    return Catalog(ids=ids, weights=weights, rank=rank, popularity=popularity, price=price)


@dataclass(frozen=True)
class IdScheme:
    """The seeded bijection from user numbers to ids (see the module docstring)."""

    digits: int
    factor: int
    offset: int

    @classmethod
    def make(cls, rng: np.random.Generator, users: int) -> IdScheme:
        """A scheme with room for ``users`` users: ids have at least 6 digits."""
        digits = max(6, math.ceil(math.log10(max(users, 1) * 100)))
        modulus = 9 * 10 ** (digits - 1)
        factor = int(rng.integers(1, modulus))
        while math.gcd(factor, modulus) != 1:
            factor += 1
        offset = int(rng.integers(0, modulus))
        return cls(digits, factor % modulus or 1, offset)

    def ids(self, numbers: np.ndarray) -> np.ndarray:
        """The ids, as strings, of the users numbered ``numbers``."""
        modulus = 9 * 10 ** (self.digits - 1)
        # The factor is split so that no product leaves int64.
        high, low = divmod(self.factor, 2**20)
        n = numbers.astype(np.int64) % modulus
        mixed = ((high * n) % modulus * 2**20 % modulus + low * n + self.offset) % modulus
        return (mixed + 10 ** (self.digits - 1)).astype(str).astype(object)


def make_users(
    rng: np.random.Generator,
    config: SimulationConfig,
    ids: IdScheme,
    first: int,
    count: int,
    start_ns: int,
    end_ns: int,
) -> dict[str, np.ndarray]:
    """The users numbered ``first`` to ``first + count - 1``, as arrays of one row per user.

    Returns a dict of ``number``, ``id``, ``name``, ``place`` (code into
    ``config.locations``), ``referral`` and ``device`` (codes into their
    mixes), ``sessions_per_day``, ``mean_gap_s``, ``arrival_ns`` and
    ``churn_ns`` (``end_ns`` or later when the user does not churn in the period).
    """
    numbers = np.arange(first, first + count, dtype=np.int64)
    populations = {city: value[0] for city, value in config.locations.items()}

    firsts = pick(rng, _Names.first_names, count)
    lasts = pick(rng, _Names.last_names, count)
    first_names = np.array(list(_Names.first_names), dtype=object)
    last_names = np.array(list(_Names.last_names), dtype=object)

    place = pick(rng, populations, count)
    referral = pick(rng, config.referral_mix, count)
    device = pick(rng, config.device_mix, count)

    sessions_per_day = config.sessions_per_day_median * np.exp(
        config.sessions_per_day_sigma * rng.standard_normal(count)
    )
    mean_gap_s = config.event_gap_median_seconds * np.exp(
        config.event_gap_sigma * rng.standard_normal(count)
    )

    already = rng.random(count) < config.initial_user_share
    arrival = rng.integers(start_ns, end_ns, size=count)
    arrival[already] = start_ns
    if config.churn_per_day > 0:
        lifetime_days = rng.exponential(1 / config.churn_per_day, size=count)
        lifetime = np.minimum(lifetime_days * _NS_PER_DAY, 4 * (end_ns - start_ns))
    else:
        lifetime = np.full(count, 4.0 * (end_ns - start_ns))
    churn = arrival + lifetime.astype(np.int64)

    return {
        "number": numbers,
        "id": ids.ids(numbers),
        "name": first_names[firsts] + " " + last_names[lasts],
        "place": place,
        "referral": referral,
        "device": device,
        "sessions_per_day": sessions_per_day,
        "mean_gap_s": mean_gap_s,
        "arrival_ns": arrival,
        "churn_ns": churn,
    }


def pick(rng: np.random.Generator, mix, size: int) -> np.ndarray:
    """Draw ``size`` codes into the keys of ``mix`` with its weights."""
    p = np.fromiter(mix.values(), dtype=float, count=len(mix))
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(p) - 1)
