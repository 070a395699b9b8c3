"""First analyses of an events frame, each returning a tidy DataFrame.

:func:`funnel`
    How many users go through a sequence of steps, in order.
:func:`rental_lag` and :func:`rental_lag_summary`
    How long after renting a movie people start watching it, if they do.
:func:`scroll_depth`
    How far down the pages people read.

The functions take an events frame as :mod:`journeys.schema` describes it: its
index is the events' time. They only need the columns they use, accept
events in any order, and give zero counts (not errors) for empty input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from journeys.errors import SchemaError

__all__ = ["funnel", "rental_lag", "rental_lag_summary", "scroll_depth"]

_DEFAULT_STEPS = ("pageview", "interaction", "transaction", "view")


def funnel(
    events: pd.DataFrame,
    steps: Sequence[str] = _DEFAULT_STEPS,
    *,
    by: str = "user_id",
    window: str | pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Count the users who go through ``steps`` in that order.

    A user reaches the first step with their first event of that type; the
    later attempts at the first step are ignored. They reach step ``k`` with
    their earliest event of type ``steps[k]`` at or after the time they reached
    step ``k - 1`` (the same time counts), and only if they reached step ``k - 1``.
    Steps are matched by time alone: a step named twice in a row is reached by
    the same event twice.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame, with at least the columns ``event_type`` and ``by``.
        Events whose ``by`` is missing are left out.
    steps : sequence of str
        The event types of the steps, in order.
    by : str
        The column that tells who goes through the funnel.
    window : str or pandas.Timedelta, optional
        The longest time from reaching the first step to reaching each later
        step, such as ``"7D"``. None for no limit.

    Returns
    -------
    pandas.DataFrame
        One row per step, with the columns ``step``, ``entered`` (how many
        reached it), ``conversion`` (the share of those who reached the first
        step) and ``step_conversion`` (the share of those who reached the step
        before; 1 for the first step). Shares are NaN where nobody reached the
        step they are a share of.

    Raises
    ------
    ValueError
        For no steps or a negative window.
    SchemaError
        When ``events`` lacks a column the funnel needs.

    Examples
    --------
    >>> events = pd.DataFrame(
    ...     {"event_type": ["pageview", "transaction", "pageview"], "user_id": ["a", "a", "b"]},
    ...     index=pd.to_datetime(["2024-05-01 10:00", "2024-05-01 10:05", "2024-05-01 11:00"]),
    ... )
    >>> funnel(events, ["pageview", "transaction"])[["step", "entered"]]
              step  entered
    0     pageview        2
    1  transaction        1
    """
    steps = tuple(steps)
    if not steps:
        raise ValueError("steps must name at least one event type, got none.")
    limit = None if window is None else pd.Timedelta(window)
    if limit is not None and limit < pd.Timedelta(0):
        raise ValueError(f"window must not be negative, got {window!r}.")
    _require(events, ("event_type", by), "funnel")

    frame = pd.DataFrame(
        {
            "key": events[by].array,
            "event_type": events["event_type"].array,
            "time": _times(events),
        }
    ).dropna(subset=["key", "event_type"])

    first = frame[frame["event_type"] == steps[0]].groupby("key", sort=False)["time"].min()
    reached = first.rename("start").reset_index()
    reached["at"] = reached["start"]
    entered = [len(reached)]

    for step in steps[1:]:
        candidates = frame.loc[frame["event_type"] == step, ["key", "time"]]
        matched = pd.merge_asof(
            reached.sort_values("at", kind="stable"),
            candidates.sort_values("time", kind="stable"),
            left_on="at",
            right_on="time",
            by="key",
            direction="forward",
        ).dropna(subset=["time"])
        if limit is not None:
            matched = matched[matched["time"] - matched["start"] <= limit]
        reached = matched[["key", "start"]].assign(at=matched["time"])
        entered.append(len(reached))

    counts = np.array(entered, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        conversion = counts / counts[0] if counts[0] else np.full(len(counts), np.nan)
        before = np.concatenate([counts[:1], counts[:-1]]).astype(float)
        before[before == 0] = np.nan
        step_conversion = counts / before
    return pd.DataFrame(
        {
            "step": list(steps),
            "entered": counts,
            "conversion": conversion,
            "step_conversion": step_conversion,
        }
    )


def rental_lag(events: pd.DataFrame) -> pd.DataFrame:
    """Pair every rental with the first view of the movie by the same user after it.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame, with at least ``event_type``, ``user_id`` and
        ``content_id``. Rentals are the ``transaction`` events and views the
        ``view`` events.

    Returns
    -------
    pandas.DataFrame
        One row per rental, in time order, with the columns ``user_id``,
        ``content_id``, ``rental_time``, ``view_time`` (the first view of the
        same ``content_id`` by the same ``user_id`` at or after the rental;
        NaT if none), ``lag`` (``view_time - rental_time`` as a Timedelta) and
        ``lag_hours`` (the same in hours, a float). A view can answer several
        rentals of the same movie made before it. Rentals without a user or a
        content id are never viewed.

    Raises
    ------
    SchemaError
        When ``events`` lacks a column this needs.
    """
    keys = ["user_id", "content_id"]
    _require(events, ("event_type", *keys), "rental_lag")

    frame = pd.DataFrame({k: events[k].array for k in [*keys, "event_type"]})
    frame["time"] = _times(events)
    rentals = frame[frame["event_type"] == "transaction"]
    rentals = rentals[keys + ["time"]].rename(columns={"time": "rental_time"})
    rentals = rentals.reset_index(drop=True).rename_axis("row").reset_index()
    views = frame.loc[frame["event_type"] == "view", keys + ["time"]].dropna(subset=keys)
    views = views.rename(columns={"time": "view_time"})

    pairable = rentals[keys].notna().all(axis=1)
    paired = pd.merge_asof(
        rentals[pairable].sort_values("rental_time", kind="stable"),
        views.sort_values("view_time", kind="stable"),
        left_on="rental_time",
        right_on="view_time",
        by=keys,
        direction="forward",
    )
    unpaired = rentals[~pairable].copy()
    unpaired["view_time"] = pd.Series(
        pd.NaT, index=unpaired.index, dtype=rentals["rental_time"].dtype
    )
    lags = pd.concat([paired, unpaired]) if len(unpaired) else paired

    lags = lags.sort_values(["rental_time", "row"], kind="stable").reset_index(drop=True)
    lags["lag"] = lags["view_time"] - lags["rental_time"]
    lags["lag_hours"] = lags["lag"] / pd.Timedelta(hours=1)
    return lags[[*keys, "rental_time", "view_time", "lag", "lag_hours"]]


def rental_lag_summary(events_or_lags: pd.DataFrame) -> pd.DataFrame:
    """Summarise how soon rentals are viewed, in one row.

    Parameters
    ----------
    events_or_lags : pandas.DataFrame
        An events frame, or the result of :func:`rental_lag` (recognised by its
        ``lag`` column).

    Returns
    -------
    pandas.DataFrame
        One row with the columns ``rentals``, ``viewed`` (how many were viewed),
        ``never_viewed_share`` (of all rentals), ``median_lag_hours`` and
        ``p90_lag_hours`` (over the viewed rentals, in hours, the 90th
        percentile interpolated linearly) and ``viewed_within_24h_share`` (the
        share of all rentals viewed at most 24 hours after). Shares and lags are
        NaN when there is nothing to take them over.

    Raises
    ------
    SchemaError
        When the frame is neither an events frame nor a table of lags.
    """
    if "lag" in events_or_lags.columns:
        lags = events_or_lags
    elif "event_type" in events_or_lags.columns:
        lags = rental_lag(events_or_lags)
    else:
        raise SchemaError(
            "rental_lag_summary needs an events frame (with an event_type column) or the "
            f"result of rental_lag (with a lag column); got the columns {list(events_or_lags)}."
        )

    hours = (lags["lag"] / pd.Timedelta(hours=1)).astype(float)
    viewed = hours.dropna()
    rentals = len(hours)
    share = (lambda n: n / rentals) if rentals else (lambda n: np.nan)
    return pd.DataFrame(
        {
            "rentals": [rentals],
            "viewed": [len(viewed)],
            "never_viewed_share": [share(rentals - len(viewed))],
            "median_lag_hours": [viewed.median() if len(viewed) else np.nan],
            "p90_lag_hours": [viewed.quantile(0.9) if len(viewed) else np.nan],
            "viewed_within_24h_share": [share(int((viewed <= 24).sum()))],
        }
    )


def scroll_depth(
    events: pd.DataFrame, thresholds: Sequence[float] = (25, 50, 75, 100)
) -> pd.DataFrame:
    """Share of pageviews read down to each depth.

    A ``scroll`` event belongs to the latest ``pageview`` of the same
    ``page_url`` by the same ``user_id`` at or before it; a pageview's depth is
    the deepest of its scrolls, 0 when it has none. Scrolls without a pageview
    before them, or without a ``scroll_depth``, are left out.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame, with at least ``event_type``, ``user_id``,
        ``page_url`` and ``scroll_depth``.
    thresholds : sequence of float
        Depths in percent; a pageview reaches a threshold when its depth is at
        least that.

    Returns
    -------
    pandas.DataFrame
        One row per threshold, in the order given, with the columns
        ``threshold``, ``pageviews`` (how many reached it) and ``share`` (of all
        pageviews; NaN when there are none).

    Raises
    ------
    SchemaError
        When ``events`` lacks a column this needs.
    """
    keys = ["user_id", "page_url"]
    _require(events, ("event_type", "scroll_depth", *keys), "scroll_depth")

    frame = pd.DataFrame({k: events[k].array for k in [*keys, "event_type"]})
    frame["time"] = _times(events)
    frame["depth"] = pd.to_numeric(events["scroll_depth"]).to_numpy(dtype=float, na_value=np.nan)
    pageviews = frame.loc[frame["event_type"] == "pageview", [*keys, "time"]]
    pageviews = pageviews.reset_index(drop=True).rename_axis("pageview").reset_index()
    scrolls = frame.loc[frame["event_type"] == "scroll", [*keys, "time", "depth"]]
    scrolls = scrolls.dropna(subset=[*keys, "depth"])

    matched = pd.merge_asof(
        scrolls.sort_values("time", kind="stable"),
        pageviews.dropna(subset=keys).sort_values("time", kind="stable"),
        on="time",
        by=keys,
        direction="backward",
    ).dropna(subset=["pageview"])
    deepest = np.zeros(len(pageviews))
    if len(matched):
        best = matched.groupby("pageview")["depth"].max()
        deepest[best.index.to_numpy(dtype=np.int64)] = np.maximum(best.to_numpy(), 0)

    reached = np.array([(deepest >= t).sum() for t in thresholds], dtype=np.int64)
    share = reached / len(pageviews) if len(pageviews) else np.full(len(reached), np.nan)
    return pd.DataFrame({"threshold": list(thresholds), "pageviews": reached, "share": share})


def _require(events, columns, what):
    """Raise SchemaError naming the columns of ``columns`` that ``events`` lacks."""
    missing = [c for c in columns if c not in events.columns]
    if missing:
        raise SchemaError(
            f"{what} needs the column(s) {missing}, which the frame lacks; it has "
            f"{list(events.columns)}."
        )


def _times(events):
    """The events' times as a datetime array: the index, or a ``time`` column."""
    if "time" in events.columns:
        times = pd.to_datetime(events["time"])
    elif isinstance(events.index, pd.DatetimeIndex):
        times = events.index
    else:
        raise SchemaError(
            "an events frame is indexed by its times (a DatetimeIndex named 'time'); got "
            f"an index of dtype {events.index.dtype}. Use frame.set_index('time')."
        )
    return pd.DatetimeIndex(times).array
