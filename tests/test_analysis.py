"""Tests of the analyses and their plots.

Each analysis is checked two ways: on tiny frames whose results were worked out
by hand, and on many small random frames against a plain per-user loop written
here, which follows the documented definition and nothing of the vectorised code.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib import pyplot as plt

from journeys.analysis import funnel, rental_lag, rental_lag_summary, scroll_depth
from journeys.errors import SchemaError
from journeys.generate import generate
from journeys.plots import plot_funnel, plot_rental_lag, plot_scroll_depth
from journeys.schema import COLUMNS, EVENT_TYPES, dtypes

BASE = pd.Timestamp("2024-05-01", tz="UTC")
SEEDS = [0, 1, 7, 2024]
RANDOM_FRAMES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


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
        if e is None or math.isnan(e):
            assert math.isnan(a)
        else:
            assert a == pytest.approx(e)


def ratio(numerator, denominator):
    return numerator / denominator if denominator else math.nan


# Random frames: few users, contents and pages, times on whole seconds so that
# ties are common, rows in no particular order, some keys missing.
random_rows = st.lists(
    st.fixed_dictionaries(
        {
            "time": st.integers(0, 40).map(lambda s: BASE + pd.Timedelta(seconds=s)),
            "user_id": st.sampled_from(["u1", "u2", "u3", "u4", None]),
            "event_type": st.sampled_from(EVENT_TYPES),
            "content_id": st.sampled_from(["a", "b", None]),
            "page_url": st.sampled_from(["/a", "/b", None]),
            "scroll_depth": st.sampled_from([None, 0.0, 10.0, 25.0, 49.9, 50.0, 75.0, 100.0]),
        }
    ),
    max_size=40,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module", params=SEEDS)
def generated(request):
    return generate(users=300, days=10, seed=request.param, catalog_size=60)


# Funnel


def reference_funnel(rows, steps, window=None):
    """Users reaching each step, one user at a time, as the funnel docstring defines it."""
    per_user = {}
    for row in rows:
        if row["user_id"] is not None:
            per_user.setdefault(row["user_id"], []).append(row)

    entered = [0] * len(steps)
    for events in per_user.values():
        first = sorted(r["time"] for r in events if r["event_type"] == steps[0])
        if not first:
            continue
        start = reached = first[0]
        entered[0] += 1
        for k, step in enumerate(steps[1:], start=1):
            later = sorted(
                r["time"] for r in events if r["event_type"] == step and r["time"] >= reached
            )
            if not later or (window is not None and later[0] - start > window):
                break
            reached = later[0]
            entered[k] += 1
    return entered


@pytest.fixture
def hand_funnel():
    rows = [
        ("d", "pageview", "11:00"),
        ("a", "view", "12:00"),
        ("a", "interaction", "09:59"),
        ("b", "pageview", "10:00"),
        ("d", "view", "3 10:00"),
        ("a", "transaction", "10:05"),
        ("c", "interaction", "10:00"),
        ("a", "pageview", "10:00"),
        ("d", "interaction", "09:30"),
        ("a", "interaction", "10:05"),
        ("b", "transaction", "10:10"),
        ("d", "transaction", "3 09:00"),
        ("d", "pageview", "09:00"),
    ]
    return make_events([{"user_id": u, "event_type": e, "time": at(t)} for u, e, t in rows])


@pytest.mark.parametrize(
    ("window", "entered", "conversion", "step_conversion"),
    [
        # a goes all the way (its interaction at 09:59 is too early, the one at
        # 10:05 ties with the transaction and counts); b has no interaction; c
        # no pageview; d starts at 09:00, its first pageview, and rents two days later.
        (None, [3, 2, 2, 2], [1, 2 / 3, 2 / 3, 2 / 3], [1, 2 / 3, 1, 1]),
        ("1D", [3, 2, 1, 1], [1, 2 / 3, 1 / 3, 1 / 3], [1, 2 / 3, 1 / 2, 1]),
        # Exactly two days from d's first pageview to its rental still counts;
        # its view an hour later does not, though it is within two days of d's
        # second pageview.
        ("2D", [3, 2, 2, 1], [1, 2 / 3, 2 / 3, 1 / 3], [1, 2 / 3, 1, 1 / 2]),
        (pd.Timedelta(0), [3, 0, 0, 0], [1, 0, 0, 0], [1, 0, math.nan, math.nan]),
    ],
)
def test_funnel_of_a_hand_computed_frame(
    hand_funnel, window, entered, conversion, step_conversion
):
    table = funnel(hand_funnel, window=window)

    assert list(table.columns) == ["step", "entered", "conversion", "step_conversion"]
    assert list(table["step"]) == ["pageview", "interaction", "transaction", "view"]
    assert list(table["entered"]) == entered
    shares_equal(list(table["conversion"]), conversion)
    shares_equal(list(table["step_conversion"]), step_conversion)


def test_funnel_by_another_column(hand_funnel):
    hand_funnel["device_type"] = pd.array(["tv"] * 6 + ["mobile"] * 7, dtype="string")

    table = funnel(hand_funnel, ["interaction", "transaction"], by="device_type")

    # tv: rows 0-5 hold an interaction at 09:59 and a transaction at 10:05;
    # mobile: d's interaction at 09:30 and b's transaction at 10:10.
    assert list(table["entered"]) == [2, 2]


@RANDOM_FRAMES
@given(
    rows=random_rows,
    steps=st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=4),
    window=st.one_of(st.none(), st.integers(0, 30).map(lambda s: pd.Timedelta(seconds=s))),
)
def test_funnel_matches_the_per_user_loop(rows, steps, window):
    expected = reference_funnel(rows, steps, window)

    table = funnel(make_events(rows), steps, window=window)

    assert list(table["step"]) == steps
    assert list(table["entered"]) == expected
    shares_equal(list(table["conversion"]), [ratio(n, expected[0]) for n in expected])
    before = [expected[0], *expected[:-1]]
    shares_equal(list(table["step_conversion"]), list(map(ratio, expected, before)))


def test_funnel_of_generated_events_matches_the_loop(generated):
    rows = [
        {"time": t, "user_id": u, "event_type": e}
        for t, u, e in zip(
            generated.index, generated["user_id"], generated["event_type"], strict=True
        )
    ]
    steps = ["pageview", "interaction", "transaction", "view"]

    table = funnel(generated, steps, window="2h")

    assert list(table["entered"]) == reference_funnel(rows, steps, pd.Timedelta("2h"))


def test_funnel_of_nothing_is_zero():
    table = funnel(make_events([]))

    assert list(table["entered"]) == [0, 0, 0, 0]
    assert table["conversion"].isna().all()


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"steps": []}, ValueError),
        ({"window": "-1h"}, ValueError),
        ({"by": "session_id"}, SchemaError),
    ],
)
def test_funnel_refuses_bad_arguments(hand_funnel, arguments, error):
    with pytest.raises(error):
        funnel(hand_funnel, **arguments)


# Rental lag


def reference_rental_lag(rows):
    """(user, content, rental time, first view time or None), rentals in time order."""
    ordered = sorted(rows, key=lambda r: r["time"])
    pairs = []
    for rent in ordered:
        if rent["event_type"] != "transaction":
            continue
        view = None
        if rent["user_id"] is not None and rent["content_id"] is not None:
            later = [
                r["time"]
                for r in ordered
                if r["event_type"] == "view"
                and r["user_id"] == rent["user_id"]
                and r["content_id"] == rent["content_id"]
                and r["time"] >= rent["time"]
            ]
            view = min(later) if later else None
        pairs.append((rent["user_id"], rent["content_id"], rent["time"], view))
    return pairs


def reference_summary(pairs):
    """The summary of rentals, by hand: quantiles interpolated linearly."""
    hours = sorted((v - r) / pd.Timedelta(hours=1) for _, _, r, v in pairs if v is not None)

    def quantile(q):
        if not hours:
            return math.nan
        position = (len(hours) - 1) * q
        low = math.floor(position)
        high = min(low + 1, len(hours) - 1)
        return hours[low] + (position - low) * (hours[high] - hours[low])

    return {
        "rentals": len(pairs),
        "viewed": len(hours),
        "never_viewed_share": ratio(len(pairs) - len(hours), len(pairs)),
        "median_lag_hours": quantile(0.5),
        "p90_lag_hours": quantile(0.9),
        "viewed_within_24h_share": ratio(sum(h <= 24 for h in hours), len(pairs)),
    }


def as_tuples(lags):
    def plain(value):
        return None if pd.isna(value) else value

    return [
        tuple(plain(v) for v in row)
        for row in lags[["user_id", "content_id", "rental_time", "view_time"]].itertuples(
            index=False
        )
    ]


@pytest.fixture
def hand_rentals():
    rows = [
        ("u1", "transaction", "m1", "10:00"),
        ("u1", "view", "m1", "09:00"),
        ("u1", "view", "m1", "14:00"),
        ("u1", "view", "m1", "13:00"),
        ("u1", "transaction", "m2", "11:00"),
        ("u2", "view", "m1", "12:00"),
        ("u2", "transaction", "m1", "12:00"),
        ("u3", "transaction", "m3", "08:00"),
        ("u3", "view", "m3", "2 10:00"),
        ("u4", "transaction", "m4", "11:00"),
        ("u4", "view", "m4", "12:00"),
        ("u4", "transaction", "m4", "10:00"),
    ]
    return make_events(
        [{"user_id": u, "event_type": e, "content_id": c, "time": at(t)} for u, e, c, t in rows]
    )


def test_rental_lag_of_a_hand_computed_frame(hand_rentals):
    lags = rental_lag(hand_rentals)

    assert list(lags.columns) == [
        "user_id",
        "content_id",
        "rental_time",
        "view_time",
        "lag",
        "lag_hours",
    ]
    assert list(lags["user_id"]) == ["u3", "u1", "u4", "u1", "u4", "u2"]
    assert list(lags["content_id"]) == ["m3", "m1", "m4", "m2", "m4", "m1"]
    shares_equal(list(lags["lag_hours"]), [26, 3, 2, math.nan, 1, 0])
    assert lags["lag"].iloc[1] == pd.Timedelta(hours=3)


def test_rental_lag_summary_of_a_hand_computed_frame(hand_rentals):
    summary = rental_lag_summary(hand_rentals)

    # Lags 0, 1, 2, 3 and 26 hours over six rentals: the 90th percentile lies
    # 0.6 of the way from 3 to 26.
    assert summary.to_dict("records") == [
        {
            "rentals": 6,
            "viewed": 5,
            "never_viewed_share": pytest.approx(1 / 6),
            "median_lag_hours": pytest.approx(2.0),
            "p90_lag_hours": pytest.approx(16.8),
            "viewed_within_24h_share": pytest.approx(4 / 6),
        }
    ]


def test_rental_lag_summary_takes_events_or_lags(hand_rentals):
    from_events = rental_lag_summary(hand_rentals)
    from_lags = rental_lag_summary(rental_lag(hand_rentals))

    pd.testing.assert_frame_equal(from_events, from_lags)


@RANDOM_FRAMES
@given(rows=random_rows)
def test_rental_lag_matches_the_per_rental_loop(rows):
    expected = reference_rental_lag(rows)
    events = make_events(rows)

    lags = rental_lag(events)
    summary = rental_lag_summary(events).iloc[0].to_dict()

    assert as_tuples(lags) == expected
    for name, value in reference_summary(expected).items():
        shares_equal([summary[name]], [value])


def test_rental_lag_of_generated_events_is_the_recorded_lag(generated):
    views = generated[generated["event_type"] == "view"]
    recorded = {
        (u, c): lag
        for u, c, lag in zip(
            views["user_id"], views["content_id"], views["time_lag_from_transaction"], strict=True
        )
    }

    lags = rental_lag(generated).dropna(subset=["view_time"])

    assert len(lags) == len(views)
    for row in lags.itertuples():
        assert row.lag == pd.Timedelta(seconds=recorded[(row.user_id, row.content_id)])


def test_rental_lag_of_nothing_is_empty():
    lags = rental_lag(make_events([]))
    summary = rental_lag_summary(lags).iloc[0]

    assert len(lags) == 0
    assert (summary["rentals"], summary["viewed"]) == (0, 0)
    assert math.isnan(summary["median_lag_hours"])


def test_rental_lag_summary_refuses_other_frames():
    with pytest.raises(SchemaError, match="rental_lag_summary needs"):
        rental_lag_summary(pd.DataFrame({"x": [1]}))


# Scroll depth


def reference_scroll_depth(rows, thresholds):
    """Pageviews reaching each threshold: every scroll goes to the latest pageview before it."""
    pageviews = [r for r in rows if r["event_type"] == "pageview"]
    deepest = [0.0] * len(pageviews)
    for scroll in rows:
        if scroll["event_type"] != "scroll" or scroll["scroll_depth"] is None:
            continue
        if scroll["user_id"] is None or scroll["page_url"] is None:
            continue
        before = [
            (pv["time"], i)
            for i, pv in enumerate(pageviews)
            if pv["user_id"] == scroll["user_id"]
            and pv["page_url"] == scroll["page_url"]
            and pv["time"] <= scroll["time"]
        ]
        if before:
            # Among pageviews at the same time, which one takes the scroll does
            # not change the counts: all later scrolls go to the same one.
            _, i = max(before)
            deepest[i] = max(deepest[i], scroll["scroll_depth"])
    return [sum(d >= t for d in deepest) for t in thresholds], len(pageviews)


@pytest.fixture
def hand_scrolls():
    rows = [
        ("u1", "scroll", "/movie/a", "10:02", 80.0),
        ("u1", "pageview", "/movie/a", "10:00", None),
        ("u1", "scroll", "/movie/a", "10:01", 30.0),
        ("u1", "pageview", "/movie/b", "10:03", None),
        ("u1", "scroll", "/movie/a", "10:04", 100.0),
        ("u2", "pageview", "/movie/a", "10:00", None),
        ("u2", "scroll", "/movie/a", "09:59", 90.0),
        ("u2", "scroll", "/movie/a", "10:00", 50.0),
        ("u2", "pageview", "/movie/c", "11:00", None),
        ("u2", "scroll", "/movie/c", "11:01", None),
        ("u3", "scroll", "/movie/a", "10:05", 100.0),
    ]
    return make_events(
        [
            {"user_id": u, "event_type": e, "page_url": p, "time": at(t), "scroll_depth": d}
            for u, e, p, t, d in rows
        ]
    )


@pytest.mark.parametrize(
    ("thresholds", "reached"),
    [
        # Depths: u1 /movie/a 100 (its last scroll comes after /movie/b), u1
        # /movie/b 0, u2 /movie/a 50 (the scroll before it does not count), u2
        # /movie/c 0 (its scroll has no depth). u3's scroll has no pageview.
        ((25, 50, 75, 100), [2, 2, 1, 1]),
        ((0,), [4]),
        ((50.1, 10), [1, 2]),
    ],
)
def test_scroll_depth_of_a_hand_computed_frame(hand_scrolls, thresholds, reached):
    table = scroll_depth(hand_scrolls, thresholds)

    assert list(table.columns) == ["threshold", "pageviews", "share"]
    assert list(table["threshold"]) == list(thresholds)
    assert list(table["pageviews"]) == reached
    shares_equal(list(table["share"]), [n / 4 for n in reached])


@RANDOM_FRAMES
@given(rows=random_rows)
def test_scroll_depth_matches_the_per_scroll_loop(rows):
    thresholds = (0, 10, 25, 50, 75, 100)
    reached, total = reference_scroll_depth(rows, thresholds)

    table = scroll_depth(make_events(rows), thresholds)

    assert list(table["pageviews"]) == reached
    shares_equal(list(table["share"]), [ratio(n, total) for n in reached])


def test_scroll_depth_of_nothing_is_zero():
    table = scroll_depth(make_events([]))

    assert list(table["pageviews"]) == [0, 0, 0, 0]
    assert table["share"].isna().all()


def test_scroll_depth_needs_its_columns():
    with pytest.raises(SchemaError, match="page_url"):
        scroll_depth(pd.DataFrame({"event_type": ["pageview"], "user_id": ["u"]}))


def test_analyses_need_a_time_index():
    frame = pd.DataFrame({"event_type": ["pageview"], "user_id": ["u"]})

    with pytest.raises(SchemaError, match="DatetimeIndex"):
        funnel(frame, ["pageview"])


# Plots


def test_plot_funnel_draws_one_bar_per_step(hand_funnel):
    table = funnel(hand_funnel)

    ax = plot_funnel(table)

    assert [bar.get_width() for bar in ax.patches] == [3, 2, 2, 2]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table["step"])
    assert ax.get_title() == "Funnel"


def test_plot_rental_lag_counts_viewed_rentals_and_marks_a_day(hand_rentals):
    _, ax = plt.subplots()

    drawn = plot_rental_lag(rental_lag(hand_rentals), ax=ax)

    assert drawn is ax
    assert sum(bar.get_height() for bar in ax.patches) == 5
    assert [list(line.get_xdata()) for line in ax.lines if line.get_linestyle() == "--"] == [
        [24, 24]
    ]
    assert "never viewed: 1" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_scroll_depth_draws_the_shares(hand_scrolls):
    ax = plot_scroll_depth(scroll_depth(hand_scrolls))

    # The curve starts at depth 0, which every pageview reaches.
    assert list(ax.lines[0].get_xdata()) == [0, 25, 50, 75, 100]
    assert list(ax.lines[0].get_ydata()) == [1.0, 0.5, 0.5, 0.25, 0.25]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


@pytest.mark.parametrize("plot", [plot_funnel, plot_rental_lag, plot_scroll_depth])
def test_plots_of_nothing_are_empty_axes(plot):
    table = {
        plot_funnel: funnel,
        plot_rental_lag: rental_lag,
        plot_scroll_depth: scroll_depth,
    }[plot](make_events([]))

    ax = plot(table)

    assert ax.get_title()
    assert np.all([bar.get_height() == 0 for bar in ax.patches if plot is plot_rental_lag])
