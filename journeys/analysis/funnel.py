"""Funnels: how many users (or sessions) go through a sequence of steps.

What counts as going through
    A step is an event type, optionally narrowed by other columns (see
    :mod:`journeys.analysis.steps`). Each event serves at most one step of an
    attempt. With ``order="sequential"`` (the default) step ``k`` is reached
    with the earliest event of that step at or after the event of step
    ``k - 1`` (the same time counts; of tied events, the one earlier in the
    input comes first), whatever happened in between. With ``order="strict"``
    it must be the very next event of the user (or session), in time order and,
    among events at the same time, in input order: anything else in between
    ends the attempt. With ``order="any"`` step ``k`` is reached once steps
    ``1..k`` have all been done, in any order, each by its own event.
Attempts
    Every event of the first step starts an attempt (with ``order="any"``,
    every event of any step). A user or session is counted once, with the
    attempt that gets furthest; among attempts that get equally far, the
    earliest. This is how PostHog and Amplitude count, and it makes the counts
    independent of how often someone tried. In sequential or any order without
    a window or exclusions the first attempt always gets furthest, so only it
    is followed.
Conversion window
    With ``window``, every step of an attempt must come at most that long after
    the attempt's first event (inclusive).
Exclusions
    ``exclude`` names events that must not happen between two steps: an
    attempt with such an event strictly between the times of step ``a`` and
    step ``b`` stops at the last step before the event. Such users are counted
    as dropping off, not removed from the funnel.
Counting by session
    With ``count="session"`` each session (see :mod:`journeys.analysis.sessions`)
    is a unit of its own, so a user who tries in three sessions counts three
    times, and an attempt never spans two sessions.
Breakdown
    With ``breakdown="device_type"`` (or any other column) a unit belongs to the
    value of that column on the first event of its attempt (first touch), or to
    ``"(missing)"``. Values held by fewer than ``min_share`` of the units that
    entered are folded into ``"other"``.

The vectorised core works on the events sorted by (unit, time, input position)
and follows all attempts of a step at once with ``numpy.searchsorted``; no
Python loop runs per user. The tests check it against a per-user loop.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeys.analysis.events import (
    CodedColumns,
    codes,
    fold_groups,
    group_labels,
    group_order,
    has_time,
    require,
    sort_codes,
    times_ns,
)
from journeys.analysis.sessions import DEFAULT_SESSION_GAP, session_gap_ns, session_starts
from journeys.analysis.steps import Step, StepLike, as_step

__all__ = ["DEFAULT_STEPS", "funnel", "funnel_dropoffs", "funnel_users"]

logger = logging.getLogger(__name__)

#: The steps of the site's main funnel: look, act, rent, watch.
DEFAULT_STEPS: tuple[str, ...] = ("pageview", "interaction", "transaction", "view")

ORDERS = ("sequential", "strict", "any")
COUNTS = ("user", "session")

#: With ``order="any"`` the work doubles with each step; beyond this it is refused.
MAX_ANY_ORDER_STEPS = 10

Order = Literal["sequential", "strict", "any"]
Count = Literal["user", "session"]
Exclusion = StepLike | tuple[StepLike, int, int]


def funnel(
    events: pd.DataFrame,
    steps: Sequence[StepLike] = DEFAULT_STEPS,
    *,
    window: str | pd.Timedelta | None = None,
    order: Order = "sequential",
    count: Count = "user",
    session_gap: str | pd.Timedelta = DEFAULT_SESSION_GAP,
    exclude: Sequence[Exclusion] = (),
    breakdown: str | None = None,
    min_share: float = 0.0,
    by: str = "user_id",
) -> pd.DataFrame:
    """Count the users (or sessions) who go through ``steps``.

    The module docstring of :mod:`journeys.analysis.funnel` defines what
    counts as going through, which attempt counts, and how windows,
    exclusions, sessions and breakdowns work.

    Parameters
    ----------
    events : pandas.DataFrame
        An events frame indexed by time, with at least ``event_type``, ``by``
        and the columns the steps look at. Events without a ``by`` value, an
        event type or a time are left out.
    steps : sequence of str, mapping or Step
        The steps in order: an event type such as ``"pageview"``, a mapping such
        as ``{"event_type": "interaction", "interaction_type": "search"}``, or a
        :class:`journeys.Step`.
    window : str or pandas.Timedelta, optional
        The longest time from an attempt's first event to each later step, such
        as ``"1D"``. None for no limit.
    order : {"sequential", "strict", "any"}
        Steps in order with anything in between, in order with nothing in
        between, or in any order.
    count : {"user", "session"}
        Count users, or sessions (runs of a user's events with no pause longer
        than ``session_gap``).
    session_gap : str or pandas.Timedelta
        The longest pause inside a session, 30 minutes by default.
    exclude : sequence
        Events that end an attempt when they happen between two of its steps:
        a step (between the first and the last step), or a tuple
        ``(step, a, b)`` for between step ``a`` and step ``b`` (counted from 1).
    breakdown : str, optional
        A column, such as ``"device_type"``, to count each of its values apart.
    min_share : float
        With ``breakdown``, values held by fewer than this share of the units
        that entered are counted together as ``"other"``; 0 keeps all.
    by : str
        The column that tells whose event it is.

    Returns
    -------
    pandas.DataFrame
        One row per step (per breakdown value and step with ``breakdown``, the
        largest group first and ``"other"`` last), with the columns
        ``breakdown`` (only with a breakdown, named after its column),
        ``step_number`` (from 1), ``step`` (the step's label), ``entered`` (how
        many reached it), ``conversion`` (share of those who reached the first
        step), ``step_conversion`` (share of those who reached the step
        before; 1 on the first step), ``dropped`` (reached the step before but
        not this one; 0 on the first step), ``median_time_from_previous`` and
        ``p90_time_from_previous`` (Timedelta from the step before, over those
        who reached this step; the 90th percentile interpolated linearly).
        Shares are NaN and times NaT where there is nothing to take them over.

    Raises
    ------
    ValueError
        For no steps, an unknown order or count, a negative window, a bad
        exclusion or share.
    SchemaError
        When ``events`` lacks a column the funnel needs.

    See Also
    --------
    funnel_users : the attempt counted for each user, with its times.
    funnel_dropoffs : the users who stopped after a given step.

    Examples
    --------
    >>> events = pd.DataFrame(
    ...     {"event_type": ["pageview", "transaction", "pageview"], "user_id": ["a", "a", "b"]},
    ...     index=pd.to_datetime(["2024-05-01 10:00", "2024-05-01 10:05", "2024-05-01 11:00"]),
    ... )
    >>> funnel(events, ["pageview", "transaction"])[["step", "entered", "conversion"]]
              step  entered  conversion
    0     pageview        2         1.0
    1  transaction        1         0.5
    """
    options = {k: v for k, v in locals().items() if k not in ("events", "steps")}
    return _follow(events, steps, **options).table()


def funnel_users(
    events: pd.DataFrame, steps: Sequence[StepLike] = DEFAULT_STEPS, **options: Any
) -> pd.DataFrame:
    """The attempt counted for each user (or session) who entered the funnel.

    Takes the same arguments as :func:`funnel` (its keyword options as
    ``**options``), and gives what its counts are made of, so that any number
    in the funnel can be traced to its users.

    Returns
    -------
    pandas.DataFrame
        One row per user (per session with ``count="session"``) who reached
        the first step, sorted by ``by``, with the columns ``by`` (such as
        ``user_id``), ``session`` (the session's number for the user, from 1;
        only with ``count="session"``), the breakdown column (with
        ``breakdown``), ``steps_reached`` (from 1 to the number of steps),
        ``last_step`` (the label of the furthest step reached), ``converted``
        (reached the last step) and ``time_1``, ``time_2``, ... (when each step
        was reached; NaT after the last one reached). With ``order="any"``
        ``time_k`` is when steps ``1..k`` had all been done.

    Examples
    --------
    >>> events = pd.DataFrame(
    ...     {"event_type": ["pageview", "transaction", "pageview"], "user_id": ["a", "a", "b"]},
    ...     index=pd.to_datetime(["2024-05-01 10:00", "2024-05-01 10:05", "2024-05-01 11:00"]),
    ... )
    >>> funnel_users(events, ["pageview", "transaction"])[["user_id", "steps_reached"]]
      user_id  steps_reached
    0       a              2
    1       b              1
    """
    return _follow(events, steps, **options).users()


def funnel_dropoffs(
    events: pd.DataFrame,
    steps: Sequence[StepLike] = DEFAULT_STEPS,
    *,
    after: int,
    **options: Any,
) -> pd.DataFrame:
    """The users (or sessions) who reached step ``after`` but not the next one.

    Takes the same arguments as :func:`funnel` (its keyword options as
    ``**options``), and ``after``, a step number
    from 1 to one less than the number of steps. The ``dropped`` count of step
    ``after + 1`` in :func:`funnel` is the number of rows returned.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`funnel_users` whose ``steps_reached`` is ``after``.

    Raises
    ------
    ValueError
        When ``after`` is not the number of a step that has a next one.

    Examples
    --------
    >>> events = pd.DataFrame(
    ...     {"event_type": ["pageview", "transaction", "pageview"], "user_id": ["a", "a", "b"]},
    ...     index=pd.to_datetime(["2024-05-01 10:00", "2024-05-01 10:05", "2024-05-01 11:00"]),
    ... )
    >>> funnel_dropoffs(events, ["pageview", "transaction"], after=1)["user_id"].tolist()
    ['b']
    """
    steps = tuple(steps)
    if isinstance(after, bool) or not isinstance(after, int | np.integer):
        raise ValueError(f"after must be a step number (an int), got {after!r}.")
    if not 1 <= after < len(steps):
        raise ValueError(
            f"after must be a step number from 1 to {len(steps) - 1} (a step with a next one), "
            f"got {after}."
        )
    users = funnel_users(events, steps, **options)
    return users[users["steps_reached"] == after].reset_index(drop=True)


@dataclass(frozen=True)
class _Options:
    """The funnel's options, checked."""

    steps: tuple[Step, ...]
    window_ns: int | None
    order: str
    count: str
    session_gap_ns: int
    exclusions: tuple[tuple[Step, int, int], ...]
    breakdown: str | None
    min_share: float
    by: str


@dataclass
class _Sorted:
    """The events that matter, sorted by (unit, time, input position)."""

    row: np.ndarray  # position of the event in the caller's frame
    unit: np.ndarray  # unit code: a user, or a session
    time: np.ndarray  # int64 nanoseconds
    tie_firsts: np.ndarray  # the first position of each run of equal (unit, time)
    step_masks: list[np.ndarray]  # which sorted events match each step
    exclusion_masks: list[np.ndarray]  # which sorted events match each exclusion

    def tie_start(self, positions: np.ndarray) -> np.ndarray:
        """The first position with the same unit and time as each of ``positions``."""
        return self.tie_firsts[np.searchsorted(self.tie_firsts, positions, side="right") - 1]

    def tie_end(self, positions: np.ndarray) -> np.ndarray:
        """The last position with the same unit and time as each of ``positions``."""
        following = np.append(self.tie_firsts, len(self.unit))
        return following[np.searchsorted(self.tie_firsts, positions, side="right")] - 1


@dataclass
class _Result:
    """The attempt counted for each unit that entered, and how to show it."""

    options: _Options
    keys: np.ndarray  # the ``by`` value of each unit
    session: np.ndarray | None  # the session number of each unit, with count="session"
    groups: np.ndarray | None  # the breakdown group of each unit
    reached: np.ndarray  # steps reached, 1..K
    times: np.ndarray  # (units, K) int64 nanoseconds of each step reached

    def table(self) -> pd.DataFrame:
        """The tidy funnel table, one row per (group and) step."""
        steps = self.options.steps
        if self.groups is None:
            return _step_rows(steps, self.reached, self.times)
        pieces = []
        for group in group_order(self.groups):
            mine = self.groups == group
            piece = _step_rows(steps, self.reached[mine], self.times[mine])
            piece.insert(0, self.options.breakdown, group)
            pieces.append(piece)
        if not pieces:
            empty = _step_rows(steps, self.reached, self.times).iloc[:0]
            empty.insert(0, self.options.breakdown, pd.Series(dtype=object))
            return empty
        return pd.concat(pieces, ignore_index=True)

    def users(self) -> pd.DataFrame:
        """One row per unit that entered, with its attempt."""
        steps = self.options.steps
        columns: dict[str, object] = {self.options.by: self.keys}
        if self.session is not None:
            columns["session"] = self.session
        if self.groups is not None:
            columns[self.options.breakdown] = self.groups
        columns["steps_reached"] = self.reached
        labels = np.array([s.label for s in steps], dtype=object)
        columns["last_step"] = labels[self.reached - 1] if len(self.reached) else labels[:0]
        columns["converted"] = self.reached == len(steps)
        for k in range(len(steps)):
            reached = self.reached > k
            values = np.where(reached, self.times[:, k], np.iinfo(np.int64).min)
            columns[f"time_{k + 1}"] = pd.to_datetime(values, utc=True).as_unit("ns")
        users = pd.DataFrame(columns)
        keys = [self.options.by] + (["session"] if self.session is not None else [])
        return users.sort_values(keys, kind="stable", ignore_index=True)


def _follow(events, steps, **options):
    """Check the options, sort the events and follow every attempt: the core of the funnel."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(funnel).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY
    }
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"unknown funnel option(s) {unknown}; the options are {sorted(defaults)}.")
    checked = _check(events, steps, **(defaults | options))
    ordered, keys = _sort(events, checked)
    starts = _starts(ordered, checked)

    if checked.order == "any":
        at, start = _follow_any(ordered, checked, starts)
    else:
        at, start = _follow_in_order(ordered, checked, starts)
    reached = (at >= 0).sum(axis=1)
    chosen = _furthest(ordered.unit[start], reached, start)
    at, start, reached = at[chosen], start[chosen], reached[chosen]

    times = np.where(at >= 0, ordered.time[np.maximum(at, 0)], 0)
    rows = ordered.row[start]
    user_codes = keys[0][rows]
    session = None
    if checked.count == "session":
        session = keys[1][start]
    groups = None
    if checked.breakdown is not None:
        labels = group_labels(events[checked.breakdown].array[rows])
        groups = fold_groups(labels, min_share=checked.min_share)
    logger.info(
        "funnel of %d events: %d %ss entered, %d went through all %d steps",
        len(events),
        len(reached),
        checked.count,
        int((reached == len(checked.steps)).sum()),
        len(checked.steps),
    )
    return _Result(
        options=checked,
        keys=np.asarray(keys[2].take(user_codes), dtype=object),
        session=session,
        groups=groups,
        reached=reached.astype(np.int64),
        times=times,
    )


def _check(events, steps, *, window, order, count, session_gap, exclude, breakdown, min_share, by):
    """The options as :class:`_Options`, or a clear error for the first one that is wrong."""
    steps = tuple(as_step(s) for s in steps)
    if not steps:
        raise ValueError("steps must name at least one step, got none.")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}.")
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}.")
    if order == "any" and len(steps) > MAX_ANY_ORDER_STEPS:
        raise ValueError(
            f"order='any' takes at most {MAX_ANY_ORDER_STEPS} steps, got {len(steps)}; "
            "split the funnel or use order='sequential'."
        )
    window_ns = None
    if window is not None:
        limit = pd.Timedelta(window)
        if pd.isna(limit) or limit < pd.Timedelta(0):
            raise ValueError(f"window must be a duration of 0 or more, got {window!r}.")
        window_ns = int(limit.value)
    gap_ns = session_gap_ns(session_gap)
    if not isinstance(min_share, int | float) or not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be a share from 0 to 1, got {min_share!r}.")

    exclusions = tuple(_exclusion(item, len(steps)) for item in exclude)
    if exclusions and order == "any":
        raise ValueError(
            "exclude needs steps in an order (order='sequential' or 'strict'): with "
            "order='any' there is no 'between two steps'."
        )

    needed = {"event_type", by}
    for step in (*steps, *(e[0] for e in exclusions)):
        needed.update(step.columns)
    if breakdown is not None:
        needed.add(breakdown)
    require(events, sorted(needed), "funnel")
    return _Options(
        steps=steps,
        window_ns=window_ns,
        order=order,
        count=count,
        session_gap_ns=gap_ns,
        exclusions=exclusions,
        breakdown=breakdown,
        min_share=float(min_share),
        by=by,
    )


def _exclusion(item, n_steps):
    """An exclusion as (step, a, b): between step a and step b, counted from 1."""
    if isinstance(item, tuple):
        if len(item) != 3:
            raise ValueError(
                f"an exclusion is a step, or a tuple (step, a, b) with step numbers a < b; "
                f"got {item!r}."
            )
        step, a, b = item
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (a, b)) or not (
            1 <= a < b <= n_steps
        ):
            raise ValueError(
                f"an exclusion (step, a, b) needs step numbers 1 <= a < b <= {n_steps}, "
                f"got a={a!r}, b={b!r}."
            )
        return as_step(step), a, b
    if n_steps < 2:
        raise ValueError("exclude needs a funnel of two steps or more, to be between them.")
    return as_step(item), 1, n_steps


def _sort(events, options):
    """The usable events sorted by (unit, time, input position), and the unit keys.

    Returns the :class:`_Sorted` events and ``(user code of each row, session
    number of each sorted event or None, distinct users)``.
    """
    user, users = codes(events[options.by])
    times = times_ns(events)
    kinds = events["event_type"].notna().to_numpy(dtype=bool, na_value=False)
    usable = (user >= 0) & has_time(times) & kinds
    coded = CodedColumns(events)
    step_masks = [s.matches(events, coded) for s in options.steps]
    exclusion_masks = [e[0].matches(events, coded) for e in options.exclusions]
    if options.order != "strict" and options.count == "user":
        # Only events of a step or an exclusion can change the outcome; in
        # strict order any event in between does, and sessions need them all.
        usable &= np.logical_or.reduce(step_masks + exclusion_masks)

    # Two stable sorts, by time then by user, order by (user, time, row); both
    # are quick on events read in time order, and on small integer codes.
    rows = np.flatnonzero(usable)
    order = rows[np.argsort(times[rows], kind="stable")]
    user_by_time = sort_codes(user)[order]
    by_user = np.argsort(user_by_time, kind="stable")
    order = order[by_user]
    user_sorted, time_sorted = user_by_time[by_user], times[order]

    session = None
    if options.count == "session":
        opens = session_starts(user_sorted, time_sorted, options.session_gap_ns)
        unit = np.cumsum(opens) - 1
        first = np.ones(len(order), dtype=bool)
        first[1:] = user_sorted[1:] != user_sorted[:-1]
        session = unit - np.maximum.accumulate(np.where(first, unit, 0)) + 1
    else:
        unit = user_sorted

    # Matching the steps again on the sorted codes gathers one small code per
    # column and event, not one mask per step.
    sorted_codes = coded.at(order)
    new_tie = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        new_tie[1:] = (unit[1:] != unit[:-1]) | (time_sorted[1:] != time_sorted[:-1])
    ordered = _Sorted(
        row=order,
        unit=unit,
        time=time_sorted,
        tie_firsts=np.flatnonzero(new_tie),
        step_masks=[s.matches(events, sorted_codes) for s in options.steps],
        exclusion_masks=[e[0].matches(events, sorted_codes) for e in options.exclusions],
    )
    return ordered, (user, session, users)


def _starts(ordered, options):
    """The sorted positions of the events that start an attempt."""
    if options.order == "any":
        mask = np.logical_or.reduce(ordered.step_masks)
    else:
        mask = ordered.step_masks[0]
    starts = np.flatnonzero(mask)
    if options.window_ns is None and not options.exclusions and options.order != "strict":
        # The first attempt of a unit then gets at least as far as any later
        # one (not so in strict order, where what follows each start differs).
        first = np.ones(len(starts), dtype=bool)
        first[1:] = ordered.unit[starts[1:]] != ordered.unit[starts[:-1]]
        starts = starts[first]
    return starts


def _follow_in_order(ordered, options, starts):
    """Follow attempts step by step; the (attempts, K) positions reached (-1: not) and starts."""
    n_steps = len(options.steps)
    n = len(ordered.unit)
    at = np.full((len(starts), n_steps), -1, dtype=np.int64)
    at[:, 0] = starts
    alive = np.arange(len(starts))
    exclusions = [
        (np.flatnonzero(mask), a - 1, b - 1)
        for mask, (_, a, b) in zip(ordered.exclusion_masks, options.exclusions, strict=True)
    ]

    for k in range(1, n_steps):
        if not len(alive):
            break
        prev = at[alive, k - 1]
        if options.order == "strict":
            found = prev + 1
            ok = found < n
            found = np.minimum(found, max(n - 1, 0))
            ok &= ordered.step_masks[k][found]
        else:
            found, ok = _next_unused(np.flatnonzero(ordered.step_masks[k]), ordered, at, alive, k)
        ok &= ordered.unit[found] == ordered.unit[prev]
        if options.window_ns is not None:
            ok &= ordered.time[found] - ordered.time[at[alive, 0]] <= options.window_ns
        for positions, a, b in exclusions:
            if a < k <= b:
                after = np.searchsorted(positions, ordered.tie_end(at[alive, a]), side="right")
                before = np.searchsorted(positions, ordered.tie_start(found), side="left")
                ok &= before <= after
        at[alive[ok], k] = found[ok]
        alive = alive[ok]
    return at, starts


def _next_unused(candidates, ordered, at, alive, k):
    """For each live attempt, the first candidate at or after its step ``k - 1`` time not used."""
    # Limitation: of tied events that match a step, the one first in input
    # order serves it, even where another would leave the first free for a
    # later step (steps "interaction" then an interaction narrowed to searches,
    # both at one time): such an attempt stops early. A matching within each
    # group of tied events (as order="any" does with Hall's condition) would fix it.
    if not len(candidates):
        return np.zeros(len(alive), dtype=np.int64), np.zeros(len(alive), dtype=bool)
    prev = at[alive, k - 1]
    index = np.searchsorted(candidates, ordered.tie_start(prev), side="left")
    # An event already used by an earlier step (only those tied with step k - 1
    # can be found here) is skipped; there are at most k of them.
    for _ in range(k):
        found = candidates[np.minimum(index, len(candidates) - 1)]
        used = (at[alive, :k] == found[:, None]).any(axis=1) & (index < len(candidates))
        if not used.any():
            break
        index = index + used
    ok = index < len(candidates)
    return candidates[np.minimum(index, len(candidates) - 1)], ok


def _follow_any(ordered, options, starts):
    """Attempts in any order: when steps 1..k are all done, each by its own event.

    Steps ``1..k`` can be done by distinct events from ``start`` on by the
    ``m``-th position exactly when, for every subset S of them, at least |S|
    events from ``start`` up to it match some step of S (Hall's theorem). So
    the earliest such position is the largest, over the subsets S, of the
    position of the |S|-th event matching S from ``start`` on.
    """
    n_steps = len(options.steps)
    n = len(ordered.unit)
    begin = ordered.tie_start(starts)
    done = np.full((len(starts), n_steps), -1, dtype=np.int64)
    latest = np.full(len(starts), -1, dtype=np.int64)

    for k in range(n_steps):
        # The subsets of steps 0..k that hold step k.
        for subset in range(1 << k, 1 << (k + 1)):
            members = [j for j in range(k + 1) if subset >> j & 1]
            mask = np.logical_or.reduce([ordered.step_masks[j] for j in members])
            positions = np.flatnonzero(mask)
            index = np.searchsorted(positions, begin, side="left") + len(members) - 1
            ok = index < len(positions)
            found = np.full(len(starts), n, dtype=np.int64)
            found[ok] = positions[index[ok]]
            latest = np.maximum(latest, found)
        ok = latest < n
        safe = np.minimum(latest, max(n - 1, 0))
        ok &= ordered.unit[safe] == ordered.unit[starts]
        if options.window_ns is not None:
            ok &= ordered.time[safe] - ordered.time[starts] <= options.window_ns
        if k > 0:
            ok &= done[:, k - 1] >= 0
        done[ok, k] = latest[ok]
    return done, starts


def _furthest(unit, reached, start):
    """For each unit, the index of its attempt that got furthest (the earliest of those)."""
    if not len(unit):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((start, -reached, unit))
    first = np.ones(len(order), dtype=bool)
    first[1:] = unit[order[1:]] != unit[order[:-1]]
    chosen = order[first]
    return chosen[reached[chosen] > 0]


def _step_rows(steps, reached, times):
    """The funnel rows of one group: counts, shares, drop-offs and times per step."""
    n_steps = len(steps)
    entered = np.array([(reached > k).sum() for k in range(n_steps)], dtype=np.int64)
    before = np.concatenate([entered[:1], entered[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        conversion = np.where(entered[0] > 0, entered / max(entered[0], 1), np.nan)
        step_conversion = np.where(before > 0, entered / np.maximum(before, 1), np.nan)

    medians, p90s = [pd.NaT], [pd.NaT]
    for k in range(1, n_steps):
        mine = reached > k
        gaps = times[mine, k] - times[mine, k - 1]
        medians.append(_quantile(gaps, 0.5))
        p90s.append(_quantile(gaps, 0.9))
    return pd.DataFrame(
        {
            "step_number": np.arange(1, n_steps + 1),
            "step": [s.label for s in steps],
            "entered": entered,
            "conversion": conversion.astype(float),
            "step_conversion": step_conversion.astype(float),
            "dropped": before - entered,
            "median_time_from_previous": pd.to_timedelta(medians).as_unit("ns"),
            "p90_time_from_previous": pd.to_timedelta(p90s).as_unit("ns"),
        }
    )


def _quantile(nanoseconds, q):
    """The q-quantile (linear interpolation) of int64 nanoseconds as a Timedelta, NaT if none."""
    if not len(nanoseconds):
        return pd.NaT
    ordered = np.sort(nanoseconds)
    position = (len(ordered) - 1) * q
    low = int(np.floor(position))
    high = min(low + 1, len(ordered) - 1)
    # Exact in integers: low + (high - low) * fraction, rounded to the nanosecond.
    fraction = position - low
    value = int(ordered[low]) + round((int(ordered[high]) - int(ordered[low])) * fraction)
    return pd.Timedelta(value, unit="ns")
