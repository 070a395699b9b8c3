"""Rental lag: how long after renting a movie people start watching it, if they do.

Pairing
    A rental is a ``transaction`` event with a ``content_id``; a view is a
    ``view`` event. Each rental is paired with the first view of the same
    ``content_id`` by the same ``user_id`` at or after it, and before the same
    user rents the same movie again: a view always answers the latest rental
    before it, and a rental followed by another rental of the movie is
    followed only up to that next rental. Of two rentals of one movie at the
    same time, the one later in the input is the latest.
Censoring
    A rental not viewed by the end of the observation (``end``, by default the
    time of the frame's last event) is *censored*: it was followed for
    ``end - rental_time`` (or up to the next rental of the movie) without a
    view. It is kept, not dropped, and the summaries are Kaplan-Meier
    estimates (:mod:`journeys.analysis.survival`) that use it for exactly that
    long. Rentals without a user or a content id cannot be paired, and are
    censored at the end too.
The stored lag
    A view carries ``time_lag_from_transaction``, the seconds since its rental
    as recorded. :func:`rental_lag_check` compares it with the lag computed
    here and lists every disagreement.

Segments (``by="device_type"`` and the like) are the values on the rental event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from journeys.analysis.events import (
    fold_groups,
    group_labels,
    group_order,
    has_time,
    require,
    times_ns,
)
from journeys.analysis.survival import kaplan_meier, survival_at, survival_quantile
from journeys.errors import SchemaError

__all__ = ["rental_lag", "rental_lag_check", "rental_lag_curve", "rental_lag_summary"]

logger = logging.getLogger(__name__)

_KEYS = ("user_id", "content_id")
_STORED = "time_lag_from_transaction"
#: The columns of the rental carried into the table of lags, when the frame has them.
SEGMENTS = ("device_type", "referral_source", "location")
_HOUR_NS = 3_600 * 10**9


def rental_lag(events: pd.DataFrame, *, end: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Pair every rental with the first view of the movie by the same user after it.

    The module docstring of :mod:`journeys.analysis.rental_lag` says which
    view answers which rental and how unviewed rentals are censored.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame, with at least ``event_type``, ``user_id`` and
        ``content_id``.
    end : str or pandas.Timestamp, optional
        When the observation ends, such as the ``stop`` of the query that read
        the events; by default the time of the last event. Views after it are
        not counted. It may not come before a rental.

    Returns
    -------
    pandas.DataFrame
        One row per rental, in time order (input order among ties), with the
        columns ``user_id``, ``content_id``, ``rental_time``, ``view_time``
        (NaT if not viewed), ``lag`` (Timedelta, NaT if not viewed),
        ``lag_hours``, ``viewed`` (bool), ``followed_hours`` (how long the
        rental was followed: the lag, or up to the censoring), the columns of
        :data:`SEGMENTS` the frame has (from the rental event) and
        ``stored_lag_seconds`` (the view's ``time_lag_from_transaction``, when
        the frame has that column).

    Raises
    ------
    SchemaError
        When ``events`` lacks a column this needs.
    ValueError
        When ``end`` comes before a rental.
    """
    table, _ = _pair(events, end)
    return table


def rental_lag_check(
    events: pd.DataFrame,
    *,
    tolerance: str | pd.Timedelta = "1s",
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Where the stored ``time_lag_from_transaction`` disagrees with the computed lag.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame with ``time_lag_from_transaction`` besides the columns
        :func:`rental_lag` needs.
    tolerance : str or pandas.Timedelta
        The stored lag is in whole seconds: it agrees when it is less than this
        far from the computed one.
    end : str or pandas.Timestamp, optional
        As for :func:`rental_lag`.

    Returns
    -------
    pandas.DataFrame
        One row per disagreement, with the columns ``user_id``, ``content_id``,
        ``rental_time``, ``view_time``, ``lag_seconds`` (computed; NaN for a
        view without a rental), ``stored_lag_seconds`` and ``problem``:
        ``"differs"`` (both known, further apart than ``tolerance``),
        ``"not stored"`` (a viewed rental whose view has no stored lag) or
        ``"no rental"`` (a view with a stored lag that answers no rental). Empty
        when all agree; ``len()`` is the number of mismatches.

    Raises
    ------
    SchemaError
        When ``events`` lacks ``time_lag_from_transaction`` or a column
        :func:`rental_lag` needs.
    """
    require(events, (_STORED,), "rental_lag_check")
    limit = pd.Timedelta(tolerance)
    if pd.isna(limit) or limit <= pd.Timedelta(0):
        raise ValueError(f"tolerance must be a positive duration, got {tolerance!r}.")
    lags, orphans = _pair(events, end)

    viewed = lags[lags["viewed"]]
    computed = viewed["lag"] / pd.Timedelta(seconds=1)
    stored = viewed["stored_lag_seconds"].astype("Float64")
    far = ((computed - stored).abs() * 10**9 >= limit.value).fillna(False).to_numpy(dtype=bool)
    missing = stored.isna().to_numpy()
    problems = [
        viewed.assign(problem="differs")[far & ~missing],
        viewed.assign(problem="not stored")[missing],
    ]
    found = pd.concat(problems).sort_values(["rental_time", "view_time"], kind="stable")
    found = found.assign(lag_seconds=found["lag"] / pd.Timedelta(seconds=1))
    columns = [*_KEYS, "rental_time", "view_time", "lag_seconds", "stored_lag_seconds", "problem"]
    result = pd.concat([found[columns], orphans[columns]], ignore_index=True)
    logger.info("rental lag check: %d of %d viewed rentals disagree", len(result), len(viewed))
    return result


def rental_lag_summary(
    events_or_lags: pd.DataFrame,
    *,
    by: str | None = None,
    within: Sequence[float] = (24, 48),
    confidence: float = 0.95,
    min_share: float = 0.0,
) -> pd.DataFrame:
    """Summarise how soon rentals are viewed, with censored rentals counted right.

    Parameters
    ----------
    events_or_lags : pandas.DataFrame
        An events frame, or the result of :func:`rental_lag` (recognised by its
        ``followed_hours`` column).
    by : str, optional
        A segment column of the lags (``device_type``, ``referral_source``,
        ``location``) to summarise each of its values apart.
    within : sequence of float
        Hours after the rental at which to give the share viewed.
    confidence : float
        The coverage of the confidence intervals.
    min_share : float
        With ``by``, values held by fewer than this share of the rentals are
        counted together as ``"other"``.

    Returns
    -------
    pandas.DataFrame
        One row (per segment with ``by``, the largest first) with the columns
        ``by`` (with ``by``), ``rentals``, ``viewed`` (seen by the end),
        ``censored`` (not seen by the end), ``never_viewed_share`` (censored
        over rentals, as observed), ``median_lag_hours`` with
        ``median_lag_lower`` and ``median_lag_upper`` (Kaplan-Meier median of
        the lag over all rentals and its confidence interval; NaN when fewer
        than half are ever seen, or a bound is not reached), ``p90_lag_hours``
        (the same for 90 % of rentals), and for each hour ``h`` of ``within``
        ``viewed_within_{h}h_share`` with ``viewed_within_{h}h_lower`` and
        ``viewed_within_{h}h_upper`` (Kaplan-Meier share viewed by then).

    Raises
    ------
    SchemaError
        When the frame is neither an events frame nor a table of lags, or
        lacks the ``by`` column.
    """
    lags = _as_lags(events_or_lags, "rental_lag_summary")
    within = tuple(float(h) for h in within)
    if any(h < 0 or np.isnan(h) for h in within):
        raise ValueError(f"within must hold hours of 0 or more, got {within!r}.")
    rows = []
    for group, part in _segments(lags, by, min_share):
        curve = _curve(part, confidence)
        viewed = int(part["viewed"].sum())
        row = {} if by is None else {by: group}
        row |= {
            "rentals": len(part),
            "viewed": viewed,
            "censored": len(part) - viewed,
            "never_viewed_share": (len(part) - viewed) / len(part) if len(part) else np.nan,
            "median_lag_hours": _quantile(curve, 0.5, "survival"),
            "median_lag_lower": _quantile(curve, 0.5, "lower"),
            "median_lag_upper": _quantile(curve, 0.5, "upper"),
            "p90_lag_hours": _quantile(curve, 0.9, "survival"),
        }
        for hours in within:
            name = f"viewed_within_{hours:g}h"
            row[f"{name}_share"] = _share_viewed(curve, hours, "survival")
            row[f"{name}_lower"] = _share_viewed(curve, hours, "upper")
            row[f"{name}_upper"] = _share_viewed(curve, hours, "lower")
        rows.append(row)
    return pd.DataFrame(rows)


def rental_lag_curve(
    events_or_lags: pd.DataFrame,
    *,
    by: str | None = None,
    confidence: float = 0.95,
    min_share: float = 0.0,
) -> pd.DataFrame:
    """The Kaplan-Meier share of rentals viewed over the hours after renting.

    Parameters
    ----------
    events_or_lags : pandas.DataFrame
        An events frame, or the result of :func:`rental_lag`.
    by, confidence, min_share
        As for :func:`rental_lag_summary`.

    Returns
    -------
    pandas.DataFrame
        The table of :func:`journeys.analysis.survival.kaplan_meier` over
        ``followed_hours`` (``time`` in hours), per segment with ``by`` (its
        first column), with ``share_viewed`` (``1 - survival``) and its band
        ``share_viewed_lower`` and ``share_viewed_upper`` added.
    """
    lags = _as_lags(events_or_lags, "rental_lag_curve")
    pieces = []
    for group, part in _segments(lags, by, min_share):
        curve = _curve(part, confidence)
        curve["share_viewed"] = 1 - curve["survival"]
        curve["share_viewed_lower"] = 1 - curve["upper"]
        curve["share_viewed_upper"] = 1 - curve["lower"]
        if by is not None:
            curve.insert(0, by, group)
        pieces.append(curve)
    if not pieces:
        return _curve(lags.iloc[:0], confidence)
    return pd.concat(pieces, ignore_index=True)


def _pair(events, end):
    """The table of lags, and the views with a stored lag that answer no rental."""
    require(events, ("event_type", *_KEYS), "rental_lag")
    times = times_ns(events)
    kind = events["event_type"].to_numpy(dtype=object, na_value=None)
    timed = has_time(times)
    rentals = np.flatnonzero((kind == "transaction") & timed)
    views = np.flatnonzero((kind == "view") & timed)
    stop = _end(times, timed, rentals, end)
    views = views[times[views] <= stop]

    # Rentals and views of each (user, content) in time order, a view after a
    # rental at the same time. A rental opens a block that holds the views
    # after it up to the next rental of the movie; a block opened by a view
    # holds views that answer no rental.
    rows = np.concatenate([rentals, views])
    is_view = np.concatenate([np.zeros(len(rentals), bool), np.ones(len(views), bool)])
    user = pd.factorize(events["user_id"].array.take(rows), use_na_sentinel=True)[0]
    content = pd.factorize(events["content_id"].array.take(rows), use_na_sentinel=True)[0]
    pairable = (user >= 0) & (content >= 0)
    chain = pairable.nonzero()[0]
    chain = chain[np.lexsort((rows[chain], is_view[chain], times[rows[chain]], content[chain]))]
    chain = chain[np.argsort(user[chain], kind="stable")]
    rows, is_view, user, content = rows[chain], is_view[chain], user[chain], content[chain]

    new_key = np.ones(len(rows), dtype=bool)
    new_key[1:] = (user[1:] != user[:-1]) | (content[1:] != content[:-1])
    starts = np.flatnonzero(new_key | ~is_view)
    ends = np.append(starts[1:], len(rows))
    by_rental = ~is_view[starts]
    first_view = np.where(by_rental, starts + 1, starts)
    has_view = first_view < ends
    followed_by_rental = np.append(~new_key[starts[1:]], False)
    next_time = np.append(times[rows[starts[1:]]], 0)

    view_of = np.full(len(times), -1, dtype=np.int64)
    until = np.full(len(times), stop, dtype=np.int64)
    answered = starts[by_rental]
    view_of[rows[answered]] = np.where(
        has_view[by_rental], rows[np.minimum(first_view[by_rental], len(rows) - 1)], -1
    )
    ended = by_rental & followed_by_rental
    until[rows[starts[ended]]] = next_time[ended]
    orphan_views = rows[starts[~by_rental]]

    order = rentals[np.lexsort((rentals, times[rentals]))]
    table = _table(events, times, order, view_of[order], until[order])
    orphans = _orphans(events, times, orphan_views)
    logger.info(
        "rental lag: %d rentals, %d viewed by the end", len(table), int(table["viewed"].sum())
    )
    return table, orphans


def _end(times, timed, rentals, end):
    """The end of the observation in int64 nanoseconds, checked against the rentals."""
    if end is None:
        return int(times[timed].max()) if timed.any() else 0
    stamp = pd.Timestamp(end)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    stop = int(stamp.as_unit("ns").value)
    if len(rentals) and int(times[rentals].max()) > stop:
        late = rentals[int(np.argmax(times[rentals]))]
        raise ValueError(
            f"end {stamp} comes before the rental in row {late} at "
            f"{pd.Timestamp(int(times[late]), tz='UTC')}; give an end after the last rental."
        )
    return stop


def _table(events, times, rentals, views, until):
    """The table of lags of the ``rentals`` (rows, in order) and their ``views`` (-1: none)."""
    viewed = views >= 0
    view_ns = np.where(viewed, times[np.maximum(views, 0)], np.iinfo(np.int64).min)
    rental_ns = times[rentals]
    lag_ns = np.where(viewed, view_ns - rental_ns, np.iinfo(np.int64).min)
    followed_ns = np.where(viewed, lag_ns, until - rental_ns)
    columns = {
        "user_id": events["user_id"].array.take(rentals),
        "content_id": events["content_id"].array.take(rentals),
        "rental_time": pd.to_datetime(rental_ns, utc=True).as_unit("ns"),
        "view_time": pd.to_datetime(view_ns, utc=True).as_unit("ns"),
        "lag": pd.to_timedelta(lag_ns).as_unit("ns"),
        "lag_hours": np.where(viewed, lag_ns / _HOUR_NS, np.nan),
        "viewed": viewed,
        "followed_hours": followed_ns / _HOUR_NS,
    }
    for segment in SEGMENTS:
        if segment in events.columns:
            columns[segment] = events[segment].array.take(rentals)
    if _STORED in events.columns:
        stored = pd.array(events[_STORED].array, dtype="Int64")
        columns["stored_lag_seconds"] = stored.take(np.where(viewed, views, -1), allow_fill=True)
    return pd.DataFrame(columns)


def _orphans(events, times, views):
    """The views with a stored lag that answer no rental, as rows of the check."""
    # Limitation: only the first view after a rental, or one with no rental
    # before it, is checked; a stored lag on a later view of the same rental
    # is not looked at. Listing those as "not the first view" would cover them.
    views = np.asarray(views, dtype=np.int64)
    if _STORED in events.columns:
        stored = pd.array(events[_STORED].array, dtype="Int64").take(views)
        known = ~pd.isna(stored)
        views, stored = views[known], stored[known]
    else:
        views, stored = views[:0], pd.array([], dtype="Int64")
    return pd.DataFrame(
        {
            "user_id": events["user_id"].array.take(views),
            "content_id": events["content_id"].array.take(views),
            "rental_time": pd.to_datetime(np.full(len(views), np.iinfo(np.int64).min), utc=True),
            "view_time": pd.to_datetime(times[views], utc=True).as_unit("ns"),
            "lag_seconds": np.full(len(views), np.nan),
            "stored_lag_seconds": stored,
            "problem": "no rental",
        }
    )


def _as_lags(frame, what):
    """The table of lags: ``frame`` itself, or :func:`rental_lag` of an events frame."""
    if "followed_hours" in frame.columns:
        return frame
    if "event_type" in frame.columns:
        return rental_lag(frame)
    raise SchemaError(
        f"{what} needs an events frame (with an event_type column) or the result of "
        f"rental_lag (with a followed_hours column); got the columns {list(frame)}."
    )


def _segments(lags, by, min_share):
    """(segment, its lags) pairs: one ``(None, lags)`` without ``by``."""
    if by is None:
        return [(None, lags)]
    require(lags, (by,), "the rental lag summary")
    labels = fold_groups(group_labels(lags[by].array), min_share=min_share)
    return [(group, lags[labels == group]) for group in group_order(labels)]


def _curve(lags, confidence):
    """The Kaplan-Meier table over the lags' ``followed_hours``."""
    return kaplan_meier(
        lags["followed_hours"].to_numpy(dtype=float),
        lags["viewed"].to_numpy(dtype=bool),
        confidence=confidence,
    )


def _quantile(curve, q, column):
    return survival_quantile(curve, q, column) if len(curve) else np.nan


def _share_viewed(curve, hours, column):
    return 1 - survival_at(curve, hours, column) if len(curve) else np.nan
