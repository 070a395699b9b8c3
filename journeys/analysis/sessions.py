"""Sessions: a user's events split where they were inactive for longer than a gap.

A session is a run of one user's events, in time order, in which no two
consecutive events are more than ``gap`` apart (30 minutes by default, the
usual web-analytics convention). The first event after a longer pause opens a
new session; events at the same time always share one. Every event type counts
as activity, so a session is cut by silence only, never by what was done.

:func:`sessions` numbers the sessions of each user 1, 2, ... in time order;
:func:`session_starts` is the vectorised core the funnel uses on sorted arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeys.analysis.events import codes, has_time, require, times_ns

__all__ = ["DEFAULT_SESSION_GAP", "session_gap_ns", "session_starts", "sessions"]

#: The longest pause inside one session.
DEFAULT_SESSION_GAP = pd.Timedelta(minutes=30)


def sessions(
    events: pd.DataFrame,
    *,
    gap: str | pd.Timedelta = DEFAULT_SESSION_GAP,
    by: str = "user_id",
) -> pd.Series:
    """Number each user's sessions 1, 2, ... in time order.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame (indexed by time) with at least the column ``by``.
    gap : str or pandas.Timedelta
        The longest pause between two events of one session, such as ``"30min"``.
        A longer pause starts a new session.
    by : str
        The column that tells whose event it is.

    Returns
    -------
    pandas.Series
        The session number of each event (Int64, aligned with ``events``),
        ``<NA>`` for events without a ``by`` value or a time.

    Examples
    --------
    >>> events = pd.DataFrame(
    ...     {"user_id": ["a", "a", "a"]},
    ...     index=pd.to_datetime(["2024-05-01 10:00", "2024-05-01 10:20", "2024-05-01 11:00"]),
    ... )
    >>> sessions(events).tolist()
    [1, 1, 2]
    """
    gap_ns = session_gap_ns(gap)
    require(events, (by,), "sessions")

    key, _ = codes(events[by])
    times = times_ns(events)
    known = np.flatnonzero((key >= 0) & has_time(times))
    order = known[np.lexsort((times[known], key[known]))]

    starts = session_starts(key[order], times[order], gap_ns)
    # The session number is the count of session starts since the user's first event.
    session_index = np.cumsum(starts)
    first_of_user = np.where(_user_starts(key[order]), session_index, 0)
    number = session_index - np.maximum.accumulate(first_of_user) + 1

    out = np.zeros(len(events), dtype=np.int64)
    out[order] = number
    mask = np.ones(len(events), dtype=bool)
    mask[order] = False
    return pd.Series(pd.arrays.IntegerArray(out, mask), index=events.index, name="session")


def session_gap_ns(gap: str | pd.Timedelta) -> int:
    """The session gap in nanoseconds; a ValueError unless it is a positive duration."""
    try:
        value = pd.Timedelta(gap)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"session_gap must be a duration such as '30min', got {gap!r}.") from exc
    if pd.isna(value) or value <= pd.Timedelta(0):
        raise ValueError(f"session_gap must be a positive duration, got {gap!r}.")
    return int(value.value)


def session_starts(key: np.ndarray, times: np.ndarray, gap_ns: int) -> np.ndarray:
    """Which events open a session, for events sorted by (key, time).

    Parameters
    ----------
    key : numpy.ndarray
        The user code of each event, sorted.
    times : numpy.ndarray
        The int64 nanosecond time of each event, sorted within each key.
    gap_ns : int
        The longest pause inside a session, in nanoseconds.

    Returns
    -------
    numpy.ndarray
        A bool array, true on the first event of each session.
    """
    starts = _user_starts(key)
    if len(times) > 1:
        starts[1:] |= np.diff(times) > gap_ns
    return starts


def _user_starts(key):
    """True on the first of each run of equal keys."""
    starts = np.ones(len(key), dtype=bool)
    if len(key) > 1:
        starts[1:] = key[1:] != key[:-1]
    return starts
