"""Kaplan-Meier estimates, in numpy: how soon something happens when some never do yet.

A rental that has not been viewed by the end of the data is not "never
viewed": it is only known to be unviewed so far. Dropping such rentals makes
lags look short; counting them as never viewed makes the share viewed look
small. The Kaplan-Meier estimate uses each of them for as long as it was
watched (it is *censored* there) and gives the share still unviewed after
each time, ``S(t)``.

At each distinct time ``t`` with ``d`` events among the ``n`` still at risk
(those whose duration is ``t`` or more), ``S`` is multiplied by ``1 - d / n``.
Censored durations at ``t`` still count as at risk at ``t`` (the usual
convention: the event is taken to come first). The confidence band is the
log-log one built on Greenwood's variance, which stays within 0 and 1:
``S(t) ** exp(±z · sqrt(Σ d / (n (n - d))) / |log S(t)|)``.

A quantile ``q`` of the time to the event is the earliest time at which
``1 - S(t) >= q``; NaN when the curve never gets there (as lifelines does).
Its confidence interval is read off the band the same way.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = ["kaplan_meier", "survival_at", "survival_quantile"]


def kaplan_meier(
    durations: np.ndarray | pd.Series,
    observed: np.ndarray | pd.Series,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The Kaplan-Meier estimate of the share of subjects without the event over time.

    Parameters
    ----------
    durations : array-like of float
        How long each subject was followed: up to its event, or up to when it
        stopped being watched. Not negative, not missing.
    observed : array-like of bool
        True where the event happened at the duration, False where the subject
        was censored there.
    confidence : float
        The coverage of the confidence band, between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        One row per distinct duration, in increasing order, with the columns
        ``time``, ``at_risk``, ``events``, ``censored``, ``survival`` (the
        estimate just after ``time``), ``lower`` and ``upper`` (its band: 1
        before the first event, NaN once the survival is 0).

    Raises
    ------
    ValueError
        For durations that are negative or missing, arrays of different
        lengths, or a confidence outside (0, 1).

    Examples
    --------
    >>> table = kaplan_meier([1, 2, 2, 3], [True, True, False, True])
    >>> table[["time", "at_risk", "events", "survival"]]
       time  at_risk  events  survival
    0   1.0        4       1      0.75
    1   2.0        3       1      0.50
    2   3.0        1       1      0.00
    """
    durations = np.asarray(durations, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    if durations.shape != observed.shape or durations.ndim != 1:
        raise ValueError(
            f"durations and observed must be two arrays of one length, got shapes "
            f"{durations.shape} and {observed.shape}."
        )
    if np.isnan(durations).any() or (durations < 0).any():
        bad = int(np.flatnonzero(np.isnan(durations) | (durations < 0))[0])
        raise ValueError(f"durations must be 0 or more, got {durations[bad]!r} at position {bad}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}.")

    times, inverse = np.unique(durations, return_inverse=True)
    events = np.bincount(inverse, weights=observed, minlength=len(times)).astype(np.int64)
    leaving = np.bincount(inverse, minlength=len(times)).astype(np.int64)
    at_risk = len(durations) - (np.cumsum(leaving) - leaving)

    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - events / at_risk)
        greenwood = np.cumsum(events / (at_risk * (at_risk - events)))
        z = NormalDist().inv_cdf((1 + confidence) / 2)
        spread = z * np.sqrt(greenwood) / np.abs(np.log(survival))
        lower = survival ** np.exp(spread)
        upper = survival ** np.exp(-spread)
    undefined = (survival <= 0) | (survival >= 1) | ~np.isfinite(spread)
    lower[undefined] = np.nan
    upper[undefined] = np.nan
    # Before the first event the curve is exactly 1, with no uncertainty.
    untouched = np.cumsum(events) == 0
    lower[untouched] = 1.0
    upper[untouched] = 1.0
    return pd.DataFrame(
        {
            "time": times,
            "at_risk": at_risk,
            "events": events,
            "censored": leaving - events,
            "survival": survival,
            "lower": lower,
            "upper": upper,
        }
    )


def survival_at(table: pd.DataFrame, time: float, column: str = "survival") -> float:
    """The estimate (or a band, ``column="lower"`` or ``"upper"``) at ``time``.

    The curve is a step function, continuous from the right: its value at
    ``time`` is that of the last row at or before it, 1 before the first row.
    NaN past a band's last defined value.
    """
    index = int(np.searchsorted(table["time"].to_numpy(), time, side="right")) - 1
    if index < 0:
        return 1.0
    values = table[column].to_numpy(dtype=float)
    if column != "survival" and np.isnan(values[index]):
        return 0.0 if table["survival"].iloc[index] == 0 else np.nan
    return float(values[index])


def survival_quantile(table: pd.DataFrame, q: float, column: str = "survival") -> float:
    """The earliest time at which ``1 - S(t) >= q``, NaN if the curve never gets there.

    With ``column="lower"`` or ``"upper"`` the same is read off the band, which
    gives the earlier and the later end of the quantile's confidence interval.
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, got {q!r}.")
    values = table[column].to_numpy(dtype=float)
    if column != "survival":
        # Past the band's end the survival itself is 0 there, or unknown.
        values = np.where(np.isnan(values) & (table["survival"].to_numpy() == 0), 0.0, values)
    # A tolerance for products that should land exactly on 1 - q.
    reached = np.flatnonzero(values <= 1 - q + 1e-12)
    return float(table["time"].iloc[reached[0]]) if len(reached) else np.nan
