"""One way to turn a seed into random numbers, shared by everything random.

Every function of journeys that draws random numbers takes ``seed`` (None, an
int, or a numpy ``Generator``) and normalises it once with :func:`as_generator`.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator"]


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
