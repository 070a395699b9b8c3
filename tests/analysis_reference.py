"""Plain per-user loops that define the analyses, for the tests to compare against.

Nothing here uses the vectorised code or numpy: each function follows the
definitions in the analyses' module docstrings one user (or rental, or
pageview) at a time, on lists of dicts with a ``time`` and some columns.
A row's position in the list is its input position, which breaks ties.
"""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import strategies as st

from journeys.schema import COLUMNS, EVENT_TYPES, dtypes

BASE = pd.Timestamp("2024-05-01", tz="UTC")


def make_events(rows):
    """An events frame of the contract from dicts holding ``time`` and some columns."""
    times = pd.DatetimeIndex([pd.Timestamp(r["time"]) for r in rows], name="time")
    columns = {c.name: pd.array([r.get(c.name) for r in rows], dtype=c.dtype) for c in COLUMNS}
    return pd.DataFrame(columns, index=times.as_unit("ns")).astype(dtypes())


def at(text):
    """A UTC time on the 1st of May 2024, or on another day as '3 09:00'."""
    day, _, clock = text.rpartition(" ")
    return pd.Timestamp(f"2024-05-{int(day or 1):02d} {clock}", tz="UTC")


def shares_equal(actual, expected):
    """Compare two lists of shares, NaN equal to NaN."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        if e is None or (isinstance(e, float) and math.isnan(e)):
            assert a is None or pd.isna(a)
        else:
            assert a == pytest_approx(e)


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-9, abs=1e-12)


def ratio(numerator, denominator):
    return numerator / denominator if denominator else math.nan


# Random frames: few users, contents and pages, times on whole seconds so that
# ties are common, rows in no particular order, some keys missing.
CHOICES = {
    "time": [BASE + pd.Timedelta(seconds=s) for s in range(41)],
    "user_id": ["u1", "u2", "u3", None],
    "event_type": list(EVENT_TYPES),
    "content_id": ["a", "b", None],
    "page_url": ["/a", "/b", None],
    "scroll_depth": [None, 0.0, 10.0, 25.0, 49.9, 50.0, 75.0, 100.0],
    "interaction_type": ["search", "click", None],
    "device_type": ["tv", "mobile", "desktop", None],
}
FUNNEL_CHOICES = CHOICES | {
    "user_id": ["u1", "u2", None],
    "event_type": ["pageview", "interaction", "transaction", "view", "scroll"],
}


def _rows(choices):
    """Lists of up to 40 rows, drawn two ways.

    Hypothesis's own draws find the edge cases (nothing, one user, everything
    at one time), but they repeat values so often that times rarely spread
    out; rows drawn evenly by a seeded ``random.Random`` give long journeys
    over many times, where windows and attempts matter.
    """
    drawn = st.lists(
        st.fixed_dictionaries({k: st.sampled_from(v) for k, v in choices.items()}),
        max_size=40,
    )
    even = st.builds(
        lambda rnd, n: [{k: rnd.choice(v) for k, v in choices.items()} for _ in range(n)],
        st.randoms(use_true_random=False),
        st.integers(0, 40),
    )
    return st.one_of(drawn, even)


# Few users, contents and pages, times on whole seconds so that ties are
# common, rows in no particular order, some keys missing.
random_rows = _rows(CHOICES)

# For funnels: fewer users and kinds, so that each user has long journeys.
funnel_rows = _rows(FUNNEL_CHOICES)


# Funnel


def matches(step, row):
    """Whether ``row`` is an event of ``step`` (a str, a dict or a journeys.Step)."""
    if isinstance(step, str):
        return row["event_type"] == step
    if isinstance(step, dict):
        wanted = dict(step)
    else:
        wanted = {"event_type": step.event_type, **step.where}
    for column, value in wanted.items():
        values = value if isinstance(value, list | tuple | set) else [value]
        if row.get(column) is None or row.get(column) not in values:
            return False
    return True


def units(rows, *, count="user", gap=None):
    """The units' events, each list in (time, input position) order, keyed by (user, session)."""
    per_user = {}
    for position, row in enumerate(rows):
        if row["user_id"] is not None and row["event_type"] is not None:
            per_user.setdefault(row["user_id"], []).append({**row, "pos": position})
    found = {}
    for user, events in per_user.items():
        events.sort(key=lambda r: (r["time"], r["pos"]))
        if count == "user":
            found[(user, None)] = events
            continue
        session = 1
        found[(user, session)] = [events[0]]
        for before, event in zip(events, events[1:], strict=False):
            if event["time"] - before["time"] > gap:
                session += 1
                found[(user, session)] = []
            found[(user, session)].append(event)
    return found


def reference_funnel(
    rows, steps, *, window=None, order="sequential", count="user", gap=None, exclude=()
):
    """The attempt counted for each unit: {(user, session): (start event, [step times])}."""
    result = {}
    for unit, events in units(rows, count=count, gap=gap).items():
        best = None
        for start, first in enumerate(events):
            if order == "any":
                times = any_order_attempt(events, start, steps, window)
            else:
                if not matches(steps[0], first):
                    continue
                times = ordered_attempt(events, start, steps, window, order, exclude)
            if times and (best is None or len(times) > len(best[1])):
                best = (first, times)
        if best is not None:
            result[unit] = best
    return result


def ordered_attempt(events, start, steps, window, order, exclude):
    """The step times of the attempt that starts at ``events[start]``, in order."""
    used = [start]
    for k in range(1, len(steps)):
        previous = events[used[-1]]
        if order == "strict":
            following = [used[-1] + 1] if used[-1] + 1 < len(events) else []
            chosen = [i for i in following if matches(steps[k], events[i])]
        else:
            chosen = [
                i
                for i, e in enumerate(events)
                if i not in used and e["time"] >= previous["time"] and matches(steps[k], e)
            ]
        if not chosen:
            break
        found = events[chosen[0]]
        if window is not None and found["time"] - events[start]["time"] > window:
            break
        if any(
            a < k + 1 <= b
            and any(
                events[used[a - 1]]["time"] < e["time"] < found["time"] and matches(step, e)
                for e in events
            )
            for step, a, b in exclude
        ):
            break
        used.append(chosen[0])
    return [events[i]["time"] for i in used]


def any_order_attempt(events, start, steps, window):
    """When steps 1..k are all done from ``events[start]`` on, for each k reached."""
    begin = events[start]["time"]
    if not any(matches(step, events[start]) for step in steps):
        return []
    later = [e for e in events if e["time"] >= begin]
    times = []
    for k in range(1, len(steps) + 1):
        done = None
        for end in sorted({e["time"] for e in later}):
            if window is not None and end - begin > window:
                break
            if assignable(steps[:k], [e for e in later if e["time"] <= end]):
                done = end
                break
        if done is None:
            break
        times.append(done)
    return times


def assignable(steps, events):
    """Whether each step can have an event of its own among ``events`` (backtracking)."""
    if not steps:
        return True
    return any(
        matches(steps[0], e) and assignable(steps[1:], events[:i] + events[i + 1 :])
        for i, e in enumerate(events)
    )


def reference_table(attempts, n_steps):
    """Entered per step, and the gaps from the step before, over a group of attempts."""
    entered = [sum(len(times) > k for _, times in attempts) for k in range(n_steps)]
    gaps = [
        sorted(times[k] - times[k - 1] for _, times in attempts if len(times) > k)
        for k in range(1, n_steps)
    ]
    return entered, gaps


def quantile(values, q):
    """Linear-interpolation quantile of a sorted list of Timedeltas; None if empty."""
    if not values:
        return None
    position = (len(values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


# Rental lag


def reference_rental_lag(rows, end=None):
    """(user, content, rental time, view time or None, followed until) per rental, in order.

    A rental is followed up to the next rental of the movie by the user (by
    time, then input position), or up to ``end``; the first view in between
    (a view at the next rental's time belongs to the next rental) answers it.
    """
    indexed = list(enumerate(rows))
    if end is None:
        end = max((r["time"] for r in rows), default=None)
    rentals = sorted(
        (i for i, r in indexed if r["event_type"] == "transaction"),
        key=lambda i: (rows[i]["time"], i),
    )
    out = []
    for i in rentals:
        rent = rows[i]
        until, view = end, None
        if rent["user_id"] is not None and rent["content_id"] is not None:
            same = [
                j
                for j, r in indexed
                if r["user_id"] == rent["user_id"] and r["content_id"] == rent["content_id"]
            ]
            nexts = [
                j
                for j in same
                if rows[j]["event_type"] == "transaction"
                and (rows[j]["time"], j) > (rent["time"], i)
            ]
            if nexts:
                until = min(rows[j]["time"] for j in nexts)
            views = [
                rows[j]["time"]
                for j in same
                if rows[j]["event_type"] == "view"
                and rent["time"] <= rows[j]["time"] <= end
                and (not nexts or rows[j]["time"] < until)
            ]
            view = min(views) if views else None
        out.append((rent["user_id"], rent["content_id"], rent["time"], view, until))
    return out


def reference_kaplan_meier(durations, observed):
    """[(time, survival)] at each distinct duration, by the product-limit definition."""
    survival, out = 1.0, []
    for t in sorted(set(durations)):
        at_risk = sum(d >= t for d in durations)
        events = sum(d == t and o for d, o in zip(durations, observed, strict=True))
        survival *= 1 - events / at_risk
        out.append((t, survival))
    return out


# Scroll depth


def reference_scroll_depth(rows):
    """[(pageview row, depth)]: every scroll goes to the latest pageview at or before it."""
    pageviews = [(i, r) for i, r in enumerate(rows) if r["event_type"] == "pageview"]
    deepest = {i: 0.0 for i, _ in pageviews}
    for scroll in rows:
        if scroll["event_type"] != "scroll" or scroll["scroll_depth"] is None:
            continue
        if scroll["user_id"] is None or scroll["page_url"] is None:
            continue
        before = [
            (pv["time"], i)
            for i, pv in pageviews
            if pv["user_id"] == scroll["user_id"]
            and pv["page_url"] == scroll["page_url"]
            and pv["time"] <= scroll["time"]
        ]
        if before:
            _, i = max(before)
            deepest[i] = max(deepest[i], scroll["scroll_depth"])
    return [(rows[i], deepest[i]) for i, _ in pageviews]
