"""Tests of the rental lag and of the Kaplan-Meier estimate behind its summaries."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from analysis_reference import (
    at,
    make_events,
    random_rows,
    reference_kaplan_meier,
    reference_rental_lag,
    shares_equal,
)
from hypothesis import HealthCheck, given, settings

import journeys as jy
from journeys.analysis import survival_at, survival_quantile
from journeys.errors import SchemaError
from journeys.generate import generate

RANDOM_FRAMES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
HOUR = pd.Timedelta(hours=1)


# Kaplan-Meier


def test_kaplan_meier_of_a_hand_computed_case():
    # Seven subjects: events at 1, 2, 3, 4 and 5, censored at 2 and 4.
    durations = [1, 2, 2, 3, 4, 4, 5]
    observed = [True, True, False, True, False, True, True]

    table = jy.kaplan_meier(durations, observed)

    assert list(table["time"]) == [1, 2, 3, 4, 5]
    assert list(table["at_risk"]) == [7, 6, 4, 3, 1]
    assert list(table["events"]) == [1, 1, 1, 1, 1]
    assert list(table["censored"]) == [0, 1, 0, 1, 0]
    # 6/7, then 6/7 * 5/6 = 5/7, 5/7 * 3/4 = 15/28, 15/28 * 2/3 = 5/14, then 0.
    shares_equal(list(table["survival"]), [6 / 7, 5 / 7, 15 / 28, 5 / 14, 0.0])
    # Greenwood at 3: 1/(7*6) + 1/(6*5) + 1/(4*3) = 59/420, on the log-log scale.
    s = 15 / 28
    spread = NormalDist().inv_cdf(0.975) * math.sqrt(59 / 420) / abs(math.log(s))
    assert table["lower"].iloc[2] == pytest.approx(s ** math.exp(spread))
    assert table["upper"].iloc[2] == pytest.approx(s ** math.exp(-spread))
    assert table["lower"].iloc[2] < s < table["upper"].iloc[2]
    assert math.isnan(table["lower"].iloc[4])

    # 15/28 is still above a half, 5/14 below.
    assert survival_quantile(table, 0.5) == 4
    assert survival_at(table, 0.5) == 1.0
    assert survival_at(table, 3.5) == pytest.approx(15 / 28)
    assert survival_quantile(table, 0.99) == 5


def test_kaplan_meier_without_events_stays_at_one():
    table = jy.kaplan_meier([3.0, 5.0], [False, False])

    assert list(table["survival"]) == [1.0, 1.0]
    assert list(table["lower"]) == [1.0, 1.0]
    assert math.isnan(survival_quantile(table, 0.5))


@pytest.mark.parametrize(
    ("durations", "observed", "confidence", "match"),
    [
        ([1, -1], [True, True], 0.95, "0 or more"),
        ([1, math.nan], [True, True], 0.95, "0 or more"),
        ([1, 2], [True], 0.95, "one length"),
        ([1], [True], 1.0, "confidence"),
    ],
)
def test_kaplan_meier_refuses_bad_input(durations, observed, confidence, match):
    with pytest.raises(ValueError, match=match):
        jy.kaplan_meier(durations, observed, confidence=confidence)


# Rental lag


@pytest.fixture
def hand_rentals():
    rows = [
        ("u1", "transaction", "m1", "10:00", "tv"),
        ("u1", "view", "m1", "09:00", "tv"),
        ("u1", "view", "m1", "14:00", "tv"),
        ("u1", "view", "m1", "13:00", "tv"),
        ("u1", "transaction", "m2", "11:00", "tv"),
        ("u2", "view", "m1", "12:00", "mobile"),
        ("u2", "transaction", "m1", "12:00", "mobile"),
        ("u3", "transaction", "m3", "08:00", "mobile"),
        ("u3", "view", "m3", "2 10:00", "mobile"),
        ("u4", "transaction", "m4", "11:00", "tv"),
        ("u4", "view", "m4", "12:00", "tv"),
        ("u4", "transaction", "m4", "10:00", None),
    ]
    return make_events(
        [
            {"user_id": u, "event_type": e, "content_id": c, "time": at(t), "device_type": d}
            for u, e, c, t, d in rows
        ]
    )


def test_rental_lag_of_a_hand_computed_frame(hand_rentals):
    lags = jy.rental_lag(hand_rentals)

    assert list(lags.columns) == [
        "user_id",
        "content_id",
        "rental_time",
        "view_time",
        "lag",
        "lag_hours",
        "viewed",
        "followed_hours",
        "device_type",
        "referral_source",
        "location",
        "stored_lag_seconds",
    ]
    assert list(lags["user_id"]) == ["u3", "u1", "u4", "u1", "u4", "u2"]
    assert list(lags["content_id"]) == ["m3", "m1", "m4", "m2", "m4", "m1"]
    # u1's view at 09:00 comes before its rental; u4's view at 12:00 answers
    # its rental at 11:00, which ends the one at 10:00 an hour after it; u1
    # never watched m2, followed until the last event (day 2, 10:00); u2
    # watched at the very time of the rental.
    shares_equal(list(lags["lag_hours"]), [26, 3, math.nan, math.nan, 1, 0])
    assert list(lags["followed_hours"]) == [26, 3, 1, 23, 1, 0]
    assert list(lags["viewed"]) == [True, True, False, False, True, True]
    assert lags["lag"].iloc[1] == 3 * HOUR
    assert pd.isna(lags["view_time"].iloc[2])


def test_rental_lag_summary_of_a_hand_computed_frame(hand_rentals):
    summary = jy.rental_lag_summary(hand_rentals)

    # Kaplan-Meier over 0, 1, 1+ (censored), 3, 23+, 26: 5/6, 2/3, 4/9, then 0.
    row = summary.iloc[0]
    assert (row["rentals"], row["viewed"], row["censored"]) == (6, 4, 2)
    assert row["never_viewed_share"] == pytest.approx(2 / 6)
    assert row["median_lag_hours"] == 3
    assert row["p90_lag_hours"] == 26
    assert row["viewed_within_24h_share"] == pytest.approx(5 / 9)
    assert row["viewed_within_48h_share"] == pytest.approx(1.0)
    assert row["viewed_within_24h_lower"] < 5 / 9 < row["viewed_within_24h_upper"]


def test_rental_lag_summary_by_segment(hand_rentals):
    summary = jy.rental_lag_summary(hand_rentals, by="device_type", within=[2])

    # tv: u1 m1 (3 h), u1 m2 (censored at 23 h), u4 at 11:00 (1 h); mobile: u3
    # (26 h) and u2 (0 h); the rental without a device stands apart.
    assert list(summary["device_type"]) == ["tv", "mobile", "(missing)"]
    assert list(summary["rentals"]) == [3, 2, 1]
    assert list(summary["viewed"]) == [2, 2, 0]
    shares_equal(list(summary["viewed_within_2h_share"]), [1 / 3, 1 / 2, 0.0])
    shares_equal(list(summary["median_lag_hours"]), [3, 0, math.nan])


def test_rental_lag_summary_takes_events_or_lags(hand_rentals):
    from_events = jy.rental_lag_summary(hand_rentals)
    from_lags = jy.rental_lag_summary(jy.rental_lag(hand_rentals))

    pd.testing.assert_frame_equal(from_events, from_lags)


def test_a_later_end_follows_unviewed_rentals_longer(hand_rentals):
    lags = jy.rental_lag(hand_rentals, end="2024-05-03")

    assert list(lags["followed_hours"]) == [26, 3, 1, 37, 1, 0]
    with pytest.raises(ValueError, match="before the rental in row"):
        jy.rental_lag(hand_rentals, end="2024-05-01 11:30")


@RANDOM_FRAMES
@given(rows=random_rows)
def test_rental_lag_matches_the_per_rental_loop(rows):
    expected = reference_rental_lag(rows)
    events = make_events(rows)

    lags = jy.rental_lag(events)
    curve = jy.rental_lag_curve(lags)

    got = [
        (
            None if pd.isna(r.user_id) else r.user_id,
            None if pd.isna(r.content_id) else r.content_id,
            r.rental_time,
            None if pd.isna(r.view_time) else r.view_time,
            r.rental_time + pd.Timedelta(hours=r.followed_hours),
        )
        for r in lags.itertuples()
    ]
    assert [g[:4] for g in got] == [e[:4] for e in expected]
    for g, e in zip(got, expected, strict=True):
        until = e[3] if e[3] is not None else e[4]
        assert abs(g[4] - until) < pd.Timedelta(microseconds=1)

    durations = [(v if v is not None else u) - r for _, _, r, v, u in expected]
    hours = [d / HOUR for d in durations]
    observed = [v is not None for *_, v, _ in expected]
    want = reference_kaplan_meier(hours, observed)
    assert len(curve) == len(want)
    for (t, s), got_t, got_s in zip(want, curve["time"], curve["survival"], strict=True):
        assert got_t == pytest.approx(t)
        assert got_s == pytest.approx(s)


def test_rental_lag_of_generated_events_agrees_with_the_stored_lag(generated):
    views = generated[generated["event_type"] == "view"]

    lags = jy.rental_lag(generated)
    check = jy.rental_lag_check(generated)

    assert int(lags["viewed"].sum()) == len(views)
    assert check.empty
    assert list(check.columns) == [
        "user_id",
        "content_id",
        "rental_time",
        "view_time",
        "lag_seconds",
        "stored_lag_seconds",
        "problem",
    ]


def test_rental_lag_check_lists_every_disagreement(generated):
    events = generated.copy()
    view_rows = np.flatnonzero((events["event_type"] == "view").to_numpy())
    stored = events["time_lag_from_transaction"].copy()
    stored.iloc[view_rows[0]] += 5
    stored.iloc[view_rows[1]] = pd.NA
    events["time_lag_from_transaction"] = stored
    # A view with a stored lag, of a movie its user never rented.
    orphan = events.iloc[[view_rows[2]]].copy()
    orphan["content_id"] = pd.array(["never-rented"], dtype="string")
    events = pd.concat([events, orphan])

    check = jy.rental_lag_check(events)

    assert sorted(check["problem"]) == ["differs", "no rental", "not stored"]
    differs = check[check["problem"] == "differs"].iloc[0]
    assert differs["stored_lag_seconds"] - differs["lag_seconds"] == 5
    assert len(jy.rental_lag_check(events, tolerance="10s")) == 2


def test_rental_lag_of_nothing_is_empty():
    lags = jy.rental_lag(make_events([]))
    summary = jy.rental_lag_summary(lags).iloc[0]

    assert len(lags) == 0
    assert (summary["rentals"], summary["viewed"]) == (0, 0)
    assert math.isnan(summary["median_lag_hours"])
    assert jy.rental_lag_check(make_events([])).empty
    assert len(jy.rental_lag_curve(lags)) == 0


def test_rental_lag_summary_refuses_other_frames():
    with pytest.raises(SchemaError, match="rental_lag_summary needs"):
        jy.rental_lag_summary(pd.DataFrame({"x": [1]}))
    with pytest.raises(SchemaError, match="time_lag_from_transaction"):
        jy.rental_lag_check(make_events([]).drop(columns="time_lag_from_transaction"))


@pytest.fixture(scope="module", params=[0, 7, 2024])
def generated(request):
    return generate(users=200, days=7, seed=request.param, catalog_size=40)
