"""Scroll depth: how far down the pages people read, as a falling reach curve.

A ``scroll`` event belongs to the latest ``pageview`` of the same
``page_url`` by the same ``user_id`` at or before it (of pageviews at the same
time, the one later in the input). A pageview's depth is the deepest of its
scrolls, 0 when it has none; it *reaches* a threshold when its depth is at
least that. Scrolls without such a pageview, or without a depth, are left out.

The reach curve is the share of pageviews reaching each threshold; it can
only fall from one threshold to the next, and ``drop_off`` says by how much:
the share of all pageviews that got past the threshold before but not this
one (from depth 0, which every pageview reaches, for the first). Segments
(``by="page_url"``, ``"content_id"``, ``"device_type"``, ...) take their value
from the pageview.
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

__all__ = ["DEFAULT_THRESHOLDS", "scroll_depth"]

logger = logging.getLogger(__name__)

#: The usual reading marks of web analytics, in percent of the page.
DEFAULT_THRESHOLDS: tuple[float, ...] = (25, 50, 75, 90, 100)

_KEYS = ("user_id", "page_url")


def scroll_depth(
    events: pd.DataFrame,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    *,
    by: str | None = None,
    min_share: float = 0.0,
) -> pd.DataFrame:
    """Share of pageviews read down to each depth, overall or per segment.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame, with at least ``event_type``, ``user_id``,
        ``page_url``, ``scroll_depth`` and the ``by`` column.
    thresholds : sequence of float
        Depths in percent, increasing, from 0 to 100.
    by : str, optional
        A column of the pageviews, such as ``"page_url"``, ``"content_id"`` or
        ``"device_type"``, to draw one curve per value.
    min_share : float
        With ``by``, values held by fewer than this share of the pageviews are
        counted together as ``"other"``; 0 keeps all.

    Returns
    -------
    pandas.DataFrame
        One row per threshold (per segment and threshold with ``by``, the
        largest segment first), with the columns ``by`` (with ``by``),
        ``threshold``, ``pageviews`` (how many reached it), ``share`` (of the
        segment's pageviews; NaN when there are none) and ``drop_off`` (the
        share lost since the threshold before).

    Raises
    ------
    ValueError
        For thresholds that are not increasing numbers from 0 to 100.
    SchemaError
        When ``events`` lacks a column this needs.

    Examples
    --------
    >>> events = pd.DataFrame(
    ...     {
    ...         "event_type": ["pageview", "scroll", "pageview"],
    ...         "user_id": ["a", "a", "b"],
    ...         "page_url": ["/m/1", "/m/1", "/m/1"],
    ...         "scroll_depth": [None, 60.0, None],
    ...     },
    ...     index=pd.to_datetime(["2024-05-01 10:00", "2024-05-01 10:01", "2024-05-01 11:00"]),
    ... )
    >>> scroll_depth(events, [50, 100])
       threshold  pageviews  share  drop_off
    0       50.0          1    0.5       0.5
    1      100.0          0    0.0       0.5
    """
    marks = _thresholds(thresholds)
    require(events, ("event_type", "scroll_depth", *_KEYS, *([by] if by else [])), "scroll_depth")

    depth, pageviews = _deepest(events)
    if by is None:
        return _reach(marks, depth)
    labels = fold_groups(group_labels(events[by].array.take(pageviews)), min_share=min_share)
    pieces = []
    for group in group_order(labels):
        piece = _reach(marks, depth[labels == group])
        piece.insert(0, by, group)
        pieces.append(piece)
    if not pieces:
        empty = _reach(marks, depth).iloc[:0]
        empty.insert(0, by, pd.Series(dtype=object))
        return empty
    return pd.concat(pieces, ignore_index=True)


def _thresholds(thresholds):
    """The thresholds as a float array, or a ValueError saying what is wrong."""
    try:
        marks = np.asarray([float(t) for t in thresholds], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"thresholds must be numbers, got {thresholds!r}.") from exc
    if not len(marks):
        raise ValueError("thresholds must hold at least one depth, got none.")
    if np.isnan(marks).any() or (marks < 0).any() or (marks > 100).any():
        raise ValueError(f"thresholds must be depths from 0 to 100, got {list(thresholds)}.")
    if (np.diff(marks) <= 0).any():
        raise ValueError(
            f"thresholds must increase, as the reach curve falls along them; got "
            f"{list(thresholds)}. Sort them."
        )
    return marks


def _deepest(events):
    """The depth of every pageview, and the pageviews' rows in the frame."""
    times = times_ns(events)
    kind = events["event_type"].to_numpy(dtype=object, na_value=None)
    timed = has_time(times)
    depth_of_event = pd.to_numeric(events["scroll_depth"]).to_numpy(dtype=float, na_value=np.nan)
    pageviews = np.flatnonzero((kind == "pageview") & timed)
    scrolls = np.flatnonzero((kind == "scroll") & timed & ~np.isnan(depth_of_event))

    # Pageviews and scrolls of each (user, page) in time order, a scroll after a
    # pageview at the same time: each scroll goes to the pageview before it.
    rows = np.concatenate([pageviews, scrolls])
    is_scroll = np.concatenate([np.zeros(len(pageviews), bool), np.ones(len(scrolls), bool)])
    user = pd.factorize(events["user_id"].array.take(rows), use_na_sentinel=True)[0]
    page = pd.factorize(events["page_url"].array.take(rows), use_na_sentinel=True)[0]
    keyed = (user >= 0) & (page >= 0)
    rows, is_scroll, user, page = rows[keyed], is_scroll[keyed], user[keyed], page[keyed]
    chain = np.lexsort((rows, is_scroll, times[rows], page, user))
    rows, is_scroll, user, page = rows[chain], is_scroll[chain], user[chain], page[chain]

    new_key = np.ones(len(rows), dtype=bool)
    new_key[1:] = (user[1:] != user[:-1]) | (page[1:] != page[:-1])
    opens = new_key | ~is_scroll
    block = np.cumsum(opens) - 1
    opener = np.flatnonzero(opens)
    owner = np.where(~is_scroll[opener], rows[opener], -1)[block]
    taken = is_scroll & (owner >= 0)

    position = np.full(len(times), -1, dtype=np.int64)
    position[pageviews] = np.arange(len(pageviews))
    deepest = np.zeros(len(pageviews))
    np.maximum.at(deepest, position[owner[taken]], depth_of_event[rows[taken]])
    logger.info("scroll depth: %d pageviews, %d scrolls taken", len(pageviews), int(taken.sum()))
    return deepest, pageviews


def _reach(marks, depth):
    """The reach rows of one segment's pageview depths."""
    reached = np.array([(depth >= t).sum() for t in marks], dtype=np.int64)
    if len(depth):
        share = reached / len(depth)
        drop_off = np.concatenate([[1.0], share[:-1]]) - share
    else:
        share = np.full(len(marks), np.nan)
        drop_off = share.copy()
    return pd.DataFrame(
        {"threshold": marks, "pageviews": reached, "share": share, "drop_off": drop_off}
    )
