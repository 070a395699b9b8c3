"""Tests of the funnel: hand-computed frames, and every option against a per-user loop.

The loops live in ``analysis_reference.py`` and follow the definitions of
:mod:`journeys.analysis.funnel` one attempt at a time; the random frames have
ties, rows out of order, users with one event and missing values.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from analysis_reference import (
    at,
    funnel_rows,
    make_events,
    quantile,
    ratio,
    reference_funnel,
    reference_table,
    shares_equal,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeys as jy
from journeys.errors import SchemaError
from journeys.generate import generate

RANDOM_FRAMES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

STEP_POOL = [
    "pageview",
    "interaction",
    "transaction",
    "view",
    jy.Step("interaction", interaction_type="search"),
    {"event_type": "interaction", "interaction_type": ["click", "filter"]},
    jy.Step("pageview", device_type="tv"),
]
steps_strategy = st.lists(st.sampled_from(STEP_POOL), min_size=1, max_size=4)
windows = st.one_of(st.none(), st.sampled_from([pd.Timedelta(seconds=s) for s in range(31)]))

TABLE_COLUMNS = [
    "step_number",
    "step",
    "entered",
    "conversion",
    "step_conversion",
    "dropped",
    "median_time_from_previous",
    "p90_time_from_previous",
]


def label(step):
    return jy.analysis.as_step(step).label


def check_against_reference(rows, steps, *, breakdown=None, min_share=0.0, **options):
    """Compare funnel, funnel_users and funnel_dropoffs with the per-user loop."""
    loop_options = {k: v for k, v in options.items() if k != "session_gap"}
    if "session_gap" in options:
        loop_options["gap"] = options["session_gap"]
    expected = reference_funnel(rows, steps, **loop_options)
    events = make_events(rows)

    users = jy.funnel_users(events, steps, breakdown=breakdown, min_share=min_share, **options)
    table = jy.funnel(events, steps, breakdown=breakdown, min_share=min_share, **options)

    # The attempt counted for each unit, with the time of each step it reached.
    session = options.get("count") == "session"
    got = {}
    for row in users.to_dict("records"):
        unit = (row["user_id"], row["session"] if session else None)
        times = [row[f"time_{k + 1}"] for k in range(row["steps_reached"])]
        got[unit] = times
        assert all(pd.isna(row[f"time_{k + 1}"]) for k in range(row["steps_reached"], len(steps)))
        assert row["converted"] == (row["steps_reached"] == len(steps))
        assert row["last_step"] == label(steps[row["steps_reached"] - 1])
    assert got == {unit: times for unit, (_, times) in expected.items()}

    # The table, per group when broken down.
    if breakdown is None:
        groups = {None: list(expected.values())}
    else:
        values = {unit: first.get(breakdown) for unit, (first, _) in expected.items()}
        names = {u: "(missing)" if v is None else v for u, v in values.items()}
        sizes = pd.Series(list(names.values())).value_counts()
        small = {n for n, size in sizes.items() if size / len(names) < min_share}
        names = {u: "other" if n in small else n for u, n in names.items()}
        groups = {}
        for unit, attempt in expected.items():
            groups.setdefault(names[unit], []).append(attempt)
        assert list(users[breakdown]) == [names[u] for u in sorted(expected)]
        order = sorted(groups, key=lambda g: (g == "other", -len(groups[g]), g))
        assert list(dict.fromkeys(table[breakdown])) == order
    for name, attempts in groups.items():
        part = table if breakdown is None else table[table[breakdown] == name]
        entered, gaps = reference_table(attempts, len(steps))
        assert list(part.columns[-len(TABLE_COLUMNS) :]) == TABLE_COLUMNS
        assert list(part["step"]) == [label(s) for s in steps]
        assert list(part["entered"]) == entered
        shares_equal(list(part["conversion"]), [ratio(n, entered[0]) for n in entered])
        before = [entered[0], *entered[:-1]]
        shares_equal(list(part["step_conversion"]), list(map(ratio, entered, before)))
        assert list(part["dropped"]) == [b - n for b, n in zip(before, entered, strict=True)]
        for column, q in [("median_time_from_previous", 0.5), ("p90_time_from_previous", 0.9)]:
            expected_times = [None] + [quantile(g, q) for g in gaps]
            for got_time, want in zip(part[column], expected_times, strict=True):
                if want is None:
                    assert pd.isna(got_time)
                else:
                    assert abs(got_time - want) <= pd.Timedelta(1, unit="ns")

    # The drop-offs after each step are the units whose attempt stopped there.
    for after in range(1, len(steps)):
        dropped = jy.funnel_dropoffs(events, steps, after=after, **options)
        stopped = sorted(u for u, (_, times) in expected.items() if len(times) == after)
        assert sorted(dropped["user_id"]) == sorted(u for u, _ in stopped)
    if breakdown is None and len(steps) > 1:
        dropped = jy.funnel_dropoffs(events, steps, after=1, **options)
        assert table["dropped"].iloc[1] == len(dropped)


@RANDOM_FRAMES
@given(rows=funnel_rows, steps=steps_strategy)
def test_sequential_funnel_matches_the_loop(rows, steps):
    check_against_reference(rows, steps)


@RANDOM_FRAMES
@given(rows=funnel_rows, steps=steps_strategy, window=windows.filter(lambda w: w is not None))
def test_funnel_with_a_window_matches_the_loop(rows, steps, window):
    check_against_reference(rows, steps, window=window)


@RANDOM_FRAMES
@given(rows=funnel_rows, steps=steps_strategy, window=windows)
def test_strict_funnel_matches_the_loop(rows, steps, window):
    check_against_reference(rows, steps, order="strict", window=window)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=funnel_rows.map(lambda rows: rows[:16]),
    steps=st.lists(st.sampled_from(STEP_POOL), min_size=1, max_size=3),
    window=windows,
)
def test_any_order_funnel_matches_the_loop(rows, steps, window):
    check_against_reference(rows, steps, order="any", window=window)


@RANDOM_FRAMES
@given(
    rows=funnel_rows,
    steps=steps_strategy,
    gap=st.integers(1, 10).map(lambda s: pd.Timedelta(seconds=s)),
    order=st.sampled_from(["sequential", "strict"]),
)
def test_funnel_by_session_matches_the_loop(rows, steps, gap, order):
    check_against_reference(rows, steps, count="session", session_gap=gap, order=order)


@RANDOM_FRAMES
@given(
    rows=funnel_rows,
    steps=st.lists(st.sampled_from(STEP_POOL), min_size=2, max_size=4),
    data=st.data(),
    window=windows,
)
def test_funnel_with_exclusions_matches_the_loop(rows, steps, data, window):
    n = len(steps)
    exclusion = st.tuples(
        st.sampled_from(STEP_POOL), st.integers(1, n - 1), st.integers(2, n)
    ).filter(lambda e: e[1] < e[2])
    exclude = data.draw(st.lists(exclusion, min_size=1, max_size=2))

    check_against_reference(rows, steps, exclude=exclude, window=window)


@RANDOM_FRAMES
@given(
    rows=funnel_rows,
    steps=steps_strategy,
    min_share=st.sampled_from([0.0, 0.2, 0.5]),
    window=windows,
)
def test_funnel_breakdown_matches_the_loop(rows, steps, min_share, window):
    check_against_reference(
        rows, steps, breakdown="device_type", min_share=min_share, window=window
    )


@RANDOM_FRAMES
@given(rows=funnel_rows, order=st.sampled_from(["sequential", "strict", "any"]))
def test_narrowed_steps_match_the_loop(rows, order):
    steps = [
        jy.Step("pageview", device_type=["tv", "mobile"]),
        {"event_type": "interaction", "interaction_type": "search"},
        jy.Step("interaction", interaction_type="click", device_type="tv"),
    ]
    check_against_reference(rows, steps, order=order)


# Hand-computed frames


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
        # its view an hour later does not. Its attempt from 11:00 has no
        # interaction after it, so the first attempt gets furthest.
        ("2D", [3, 2, 2, 1], [1, 2 / 3, 2 / 3, 1 / 3], [1, 2 / 3, 1, 1 / 2]),
        (pd.Timedelta(0), [3, 0, 0, 0], [1, 0, 0, 0], [1, 0, math.nan, math.nan]),
    ],
)
def test_funnel_of_a_hand_computed_frame(
    hand_funnel, window, entered, conversion, step_conversion
):
    table = jy.funnel(hand_funnel, window=window)

    assert list(table.columns) == TABLE_COLUMNS
    assert list(table["step"]) == ["pageview", "interaction", "transaction", "view"]
    assert list(table["entered"]) == entered
    shares_equal(list(table["conversion"]), conversion)
    shares_equal(list(table["step_conversion"]), step_conversion)


def test_funnel_times_of_a_hand_computed_frame(hand_funnel):
    table = jy.funnel(hand_funnel)

    # Pageview to interaction: a 5 min, d 30 min; to the rental: a 0, d 2 days
    # less 30 min; to the view: a 1 h 55 min, d 1 h.
    assert list(table["median_time_from_previous"].iloc[1:]) == [
        pd.Timedelta("17.5min"),
        pd.Timedelta("23h45min"),
        pd.Timedelta("1h27.5min"),
    ]
    assert table["p90_time_from_previous"].iloc[1] == pd.Timedelta("27.5min")
    assert pd.isna(table["median_time_from_previous"].iloc[0])


def test_the_attempt_that_gets_furthest_counts():
    rows = [
        ("e", "pageview", "09:00"),
        ("e", "pageview", "2 10:00"),
        ("e", "interaction", "2 10:30"),
        ("e", "pageview", "2 11:00"),
        ("e", "interaction", "2 11:10"),
    ]
    events = make_events([{"user_id": u, "event_type": e, "time": at(t)} for u, e, t in rows])

    users = jy.funnel_users(events, ["pageview", "interaction"], window="1h")

    # The first pageview starts an attempt that stops there; of the two that
    # get to the interaction, the earlier one counts.
    assert users[["user_id", "steps_reached"]].to_dict("records") == [
        {"user_id": "e", "steps_reached": 2}
    ]
    assert list(users[["time_1", "time_2"]].iloc[0]) == [at("2 10:00"), at("2 10:30")]


def test_strict_order_lets_nothing_in_between(hand_funnel):
    table = jy.funnel(hand_funnel, ["pageview", "interaction"], order="strict")

    # a's interaction at 10:05 comes after its transaction (input order at the
    # same time), d's pageview at 09:00 is followed by its interaction at 09:30.
    assert list(table["entered"]) == [3, 1]


def test_any_order_takes_steps_in_any_order(hand_funnel):
    table = jy.funnel(hand_funnel, ["transaction", "interaction", "pageview"], order="any")

    # a and d did all three; b rented but has no interaction; c has no rental.
    assert list(table["entered"]) == [3, 2, 2]
    assert list(jy.funnel(hand_funnel, ["interaction"], order="any")["entered"]) == [3]


def test_exclusions_end_attempts(hand_funnel):
    steps = ["pageview", "transaction", "view"]

    plain = jy.funnel(hand_funnel, steps)
    excluded = jy.funnel(hand_funnel, steps, exclude=["interaction"])
    late = jy.funnel(hand_funnel, steps, exclude=[("interaction", 2, 3)])

    assert list(plain["entered"]) == [3, 3, 2]
    # a's interaction at 10:05 ties with its rental, so it is not between its
    # pageview and its rental, but it is between its pageview and its view. d's
    # first attempt has an interaction before its rental; its second, from the
    # pageview at 11:00, has none and goes all the way.
    assert list(excluded["entered"]) == [3, 3, 1]
    assert list(late["entered"]) == [3, 3, 2]


def test_sessions_split_at_the_gap(hand_funnel):
    table = jy.funnel(hand_funnel, ["pageview", "transaction"], count="session")
    numbers = jy.sessions(hand_funnel)

    # a: one session 09:59 to 10:05, then the view at 12:00 alone; b one; c
    # one; d: 09:00 and 09:30 together, 11:00, then day 3 09:00 and 10:00 apart.
    assert list(table["entered"]) == [4, 2]
    assert numbers.groupby(hand_funnel["user_id"].to_numpy()).max().to_dict() == {
        "a": 2,
        "b": 1,
        "c": 1,
        "d": 4,
    }


def test_breakdown_folds_small_groups():
    devices = ["tv"] * 5 + ["mobile"] * 3 + ["tablet", None]
    rows = [
        {"user_id": f"u{i}", "event_type": "pageview", "time": at("10:00"), "device_type": d}
        for i, d in enumerate(devices)
    ]
    events = make_events(rows)

    folded = jy.funnel(events, ["pageview"], breakdown="device_type", min_share=0.2)
    kept = jy.funnel(events, ["pageview"], breakdown="device_type")

    assert folded[["device_type", "entered"]].values.tolist() == [
        ["tv", 5],
        ["mobile", 3],
        ["other", 2],
    ]
    assert list(kept["device_type"]) == ["tv", "mobile", "(missing)", "tablet"]


def test_step_labels_and_forms():
    search = jy.Step("interaction", interaction_type="search")

    assert search.label == "interaction (interaction_type=search)"
    assert jy.Step("view", label="watch").label == "watch"
    assert jy.analysis.as_step({"event_type": "interaction", "interaction_type": "search"}) == (
        search
    )
    assert repr(jy.Step("x", device_type=["tv", "mobile"])) == (
        "Step('x', device_type=['tv', 'mobile'])"
    )


def test_funnel_of_nothing_is_zero():
    table = jy.funnel(make_events([]))
    broken_down = jy.funnel(make_events([]), breakdown="device_type")

    assert list(table["entered"]) == [0, 0, 0, 0]
    assert table["conversion"].isna().all()
    assert len(broken_down) == 0 and "device_type" in broken_down.columns
    assert len(jy.funnel_users(make_events([]))) == 0


def test_funnel_of_generated_events_matches_the_loop(generated):
    rows = [
        {"time": t, "user_id": u, "event_type": e}
        for t, u, e in zip(
            generated.index, generated["user_id"], generated["event_type"], strict=True
        )
    ]
    steps = ["pageview", "interaction", "transaction", "view"]

    users = jy.funnel_users(generated, steps, window="2h")

    expected = reference_funnel(rows, steps, window=pd.Timedelta("2h"))
    assert dict(zip(users["user_id"], users["steps_reached"], strict=True)) == {
        u: len(times) for (u, _), (_, times) in expected.items()
    }


@pytest.fixture(scope="module", params=[0, 7])
def generated(request):
    return generate(users=120, days=5, seed=request.param, catalog_size=40)


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"steps": []}, ValueError, "at least one step"),
        ({"window": "-1h"}, ValueError, "window"),
        ({"order": "random"}, ValueError, "order"),
        ({"count": "visit"}, ValueError, "count"),
        ({"session_gap": "0s"}, ValueError, "session_gap"),
        ({"min_share": 2}, ValueError, "min_share"),
        ({"exclude": [("scroll", 2, 2)]}, ValueError, "1 <= a < b"),
        ({"exclude": ["scroll"], "order": "any"}, ValueError, "order"),
        ({"steps": [{"interaction_type": "search"}]}, ValueError, "event_type"),
        ({"by": "session_id"}, SchemaError, "session_id"),
        ({"breakdown": "browser"}, SchemaError, "browser"),
        ({"steps": [jy.Step("pageview", browser="x")]}, SchemaError, "browser"),
    ],
)
def test_funnel_refuses_bad_arguments(hand_funnel, arguments, error, match):
    with pytest.raises(error, match=match):
        jy.funnel(hand_funnel, **arguments)


@pytest.mark.parametrize("after", [0, 4, "2", True])
def test_funnel_dropoffs_needs_a_step_with_a_next_one(hand_funnel, after):
    with pytest.raises(ValueError, match="after"):
        jy.funnel_dropoffs(hand_funnel, after=after)


def test_analyses_need_a_time_index():
    frame = pd.DataFrame({"event_type": ["pageview"], "user_id": ["u"]})

    with pytest.raises(SchemaError, match="DatetimeIndex"):
        jy.funnel(frame, ["pageview"])


def test_funnel_users_refuses_unknown_options(hand_funnel):
    with pytest.raises(TypeError, match="unknown funnel option.*windw"):
        jy.funnel_users(hand_funnel, windw="1h")
