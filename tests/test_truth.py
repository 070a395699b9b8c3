"""The ground truth: its numbers are right, and analyses of generated data recover them.

Every tolerance below is 4 standard errors of the estimate, from the number of
independent units behind it: sessions for the session funnel (sessions are
independent given the chain), pageviews for the scroll reach (the chain starts
afresh at each pageview, so their scroll counts are independent, and depths
are drawn independently), rentals for the rental lag. For a share ``p`` of
``n`` units the standard error is ``sqrt(p (1 - p) / n)``; for a median it is
``1 / (2 f(m) sqrt(n))``, ``f`` the density at the median. At 4 standard errors
a correct generator fails one assertion in about 16,000.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import journeys as jy
from journeys.session_model import walk_chain
from journeys.simulation_config import CHAIN_STATES
from journeys.truth import _beta_cdf, _erfinv

SEEDS = [1, 2, 3]
# A wide, flat catalog so that users almost never meet a movie they rented
# before, which the model-implied funnel leaves out (see journeys.truth).
CONFIG = jy.SimulationConfig(users=6000, days=21, catalog_size=20_000, zipf_exponent=0.5)
END = pd.Timestamp(CONFIG.start, tz="UTC") + pd.Timedelta(days=CONFIG.days)


@pytest.fixture(scope="module", params=SEEDS)
def simulated(request):
    return jy.simulate(CONFIG, seed=request.param)


def share_tolerance(p, n):
    """4 standard errors of a share p estimated from n independent units."""
    return 4 * math.sqrt(p * (1 - p) / n)


def with_sessions(events, truth):
    """The events of sessions (no views), with the number of their session."""
    inside = events[events["event_type"] != "view"]
    table = pd.DataFrame(
        {
            "user_id": inside["user_id"].array,
            "event_type": inside["event_type"].array,
            "time": inside.index,
        }
    )
    sessions = truth.sessions.reset_index(names="session")[["session", "user_id", "start"]]
    matched = pd.merge_asof(
        table.sort_values("time"), sessions, left_on="time", right_on="start", by="user_id"
    )
    return matched.set_index("time")


@pytest.mark.parametrize(
    "steps",
    [
        ["pageview", "interaction", "transaction"],
        ["pageview", "scroll", "button_click", "transaction"],
        ["pageview", "button_click", "interaction"],
    ],
)
def test_the_session_funnel_recovers_the_chain(simulated, steps):
    events, truth = simulated
    refused_share = truth.rentals_refused / len(truth.rentals)

    measured = jy.funnel(with_sessions(events, truth), steps, by="session")
    implied = truth.session_funnel(steps)

    assert refused_share < 0.002
    for k in range(1, len(steps)):
        n = int(measured["entered"][k - 1])
        p = implied["step_conversion"][k]
        assert n > 2000
        assert abs(measured["step_conversion"][k] - p) < share_tolerance(p, n), steps[k]


def test_scroll_depth_recovers_the_reach(simulated):
    events, truth = simulated
    thresholds = (25, 50, 75, 90, 100)

    measured = jy.scroll_depth(events, thresholds=thresholds)
    implied = truth.scroll_reach(thresholds)

    n = int((events["event_type"] == "pageview").sum())
    for got, p in zip(measured["share"], implied["share"], strict=True):
        assert abs(got - p) < share_tolerance(p, n)


def test_rental_lag_summary_recovers_the_lag(simulated):
    events, truth = simulated
    lags = jy.rental_lag(events)
    expected = truth.rental_lag().iloc[0]

    # Rentals at least 48 hours before the end have had the time to be viewed
    # within 24 and within 48 hours: those shares are not cut by the period.
    early = lags[lags["rental_time"] <= END - pd.Timedelta(hours=48)]
    summary = jy.rental_lag_summary(early).iloc[0]
    n = len(early)
    within_48 = (early["lag_hours"] <= 48).mean()

    p24, p48 = expected["viewed_within_24h_share"], expected["viewed_within_48h_share"]
    assert n > 3000
    assert abs(summary["viewed_within_24h_share"] - p24) < share_tolerance(p24, n)
    assert abs(within_48 - p48) < share_tolerance(p48, n)


def test_never_viewed_and_median_lag_match_once_the_period_cut_is_allowed_for(simulated):
    events, truth = simulated
    lags = jy.rental_lag(events)
    week = pd.Timedelta(days=7)
    config = truth.config

    # Rentals at least a week before the end could all be viewed within the
    # week; counting only the views within it, the shares and the median are
    # those of the lag cut at 168 hours.
    early = lags[lags["rental_time"] <= END - week]
    early = early.assign(lag=early["lag"].where(early["lag"] <= week))
    summary = jy.rental_lag_summary(early).iloc[0]
    expected = truth.rental_lag(seen_within_hours=168).iloc[0]
    n = len(early)
    seen = 1 - expected["never_viewed_share"]
    assert seen == pytest.approx(config.view_probability * truth.lag_cdf(168))
    assert abs(summary["never_viewed_share"] - (1 - seen)) < share_tolerance(seen, n)

    # The summary's median is Kaplan-Meier's over all rentals; the truth's is that of
    # the views, so the views' own median is compared.
    median = expected["median_lag_hours"]
    seen_lags = early["lag"].dropna().dt.total_seconds() / 3600
    viewed = len(seen_lags)
    z = (math.log(median) - math.log(config.lag_median_hours)) / config.lag_sigma
    density = math.exp(-z * z / 2) / (median * config.lag_sigma * math.sqrt(2 * math.pi))
    density /= truth.lag_cdf(168)
    assert abs(seen_lags.median() - median) < 4 / (2 * density * math.sqrt(viewed))


def test_the_model_lag_is_the_configured_lognormal():
    truth = jy.GroundTruth(jy.SimulationConfig(lag_median_hours=5.0, lag_sigma=0.8))
    row = truth.rental_lag().iloc[0]

    assert row["median_lag_hours"] == pytest.approx(5.0)
    assert row["p90_lag_hours"] == pytest.approx(5.0 * math.exp(0.8 * 1.2815515655446004))
    assert truth.lag_cdf(5.0) == pytest.approx(0.5)
    assert row["viewed_within_24h_share"] == pytest.approx(
        0.85 * 0.5 * (1 + math.erf(math.log(24 / 5) / 0.8 / math.sqrt(2)))
    )
    assert row["never_viewed_share"] == pytest.approx(0.15)
    cut = truth.rental_lag(seen_within_hours=12).iloc[0]
    assert cut["viewed_within_48h_share"] == pytest.approx(0.85 * truth.lag_cdf(12))
    assert truth.lag_cdf(cut["median_lag_hours"]) == pytest.approx(truth.lag_cdf(12) / 2)
    with pytest.raises(ValueError, match="seen_within_hours must be above 0"):
        truth.rental_lag(seen_within_hours=0)


@pytest.mark.parametrize(
    "steps",
    [["pageview", "interaction", "transaction"], ["pageview", "transaction", "scroll"]],
)
def test_the_session_funnel_matches_a_walk_of_the_chain(steps):
    config = jy.SimulationConfig()
    truth = jy.GroundTruth(config)
    session, state = walk_chain(np.random.default_rng(0), 200_000, config)

    # A page's second transaction makes no event: drop it here too.
    rent = CHAIN_STATES.index("transaction")
    page = np.cumsum(state == CHAIN_STATES.index("pageview"))
    rentals = pd.Series(page[state == rent])
    silent = np.zeros(len(state), dtype=bool)
    silent[np.flatnonzero(state == rent)[rentals.duplicated().to_numpy()]] = True
    table = pd.DataFrame(
        {"session": session[~silent], "event_type": np.array(CHAIN_STATES)[state[~silent]]},
        index=pd.DatetimeIndex(np.flatnonzero(~silent) * 10**9, name="time"),
    )

    measured = jy.funnel(table, steps, by="session")
    implied = truth.session_funnel(steps)

    assert silent.sum() > 1000
    for k in (1, 2):
        n, p = int(measured["entered"][k - 1]), implied["step_conversion"][k]
        assert abs(measured["step_conversion"][k] - p) < share_tolerance(p, n)


def test_the_scroll_count_generating_function_matches_a_walk():
    config = jy.SimulationConfig()
    truth = jy.GroundTruth(config)
    session, state = walk_chain(np.random.default_rng(1), 100_000, config)
    pageview = np.cumsum(state == 0)
    scrolls = np.bincount(pageview[state == 1], minlength=pageview[-1] + 1)[1:]

    for x in (0.0, 0.5, 0.9):
        sample = x**scrolls
        expected = truth.scrolls_per_pageview(x)
        assert abs(sample.mean() - expected) < 4 * sample.std() / math.sqrt(len(sample))


@pytest.mark.parametrize(("a", "b"), [(1.6, 1.4), (1.0, 1.0), (2.5, 7.0), (0.7, 0.9)])
def test_the_beta_cdf_matches_a_numerical_integral(a, b):
    # The midpoint rule on a fine grid, away from the ends where 0.7 and 0.9 blow up.
    grid = np.linspace(0, 1, 2_000_001)
    middle = (grid[1:] + grid[:-1]) / 2
    density = middle ** (a - 1) * (1 - middle) ** (b - 1)
    density /= math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    integral = np.concatenate([[0], np.cumsum(density) / (len(grid) - 1)])

    for x in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert _beta_cdf(x, a, b) == pytest.approx(integral[int(x * (len(grid) - 1))], abs=2e-3)
    assert _beta_cdf(0.5, 1.0, 1.0) == pytest.approx(0.5, abs=1e-12)
    assert _beta_cdf(0.3, 2.0, 1.0) == pytest.approx(0.09, abs=1e-12)


def test_erfinv_inverts_erf():
    for y in (-0.999, -0.5, 0.0, 0.3, 0.9, 0.9999):
        assert math.erf(_erfinv(y)) == pytest.approx(y, abs=1e-12)


def test_the_scroll_reach_of_a_chain_with_one_scroll_per_pageview():
    # Each pageview is followed by exactly one scroll and then the session ends:
    # the reach is then the depth distribution itself.
    transitions = {s: {"pageview": 1.0} for s in jy.SimulationConfig().transitions}
    transitions["pageview"] = {"scroll": 1.0}
    ends = {s: 0.0 for s in transitions}
    ends["scroll"] = 1.0
    config = jy.SimulationConfig(
        transitions=transitions,
        end_probability=ends,
        scroll_zero_share=0.1,
        scroll_end_share=0.2,
        scroll_beta=(1.0, 1.0),
    )
    reach = jy.GroundTruth(config).scroll_reach((0, 25, 50, 100))

    # Uniform depths rounded to 0.1: P(D >= 25) = 0.2 + 0.7 * (1 - 0.2495).
    expected = [1.0, 0.2 + 0.7 * (1 - 0.2495), 0.2 + 0.7 * (1 - 0.4995), 0.2 + 0.7 * 0.0005]
    assert reach["share"].tolist() == pytest.approx(expected, abs=1e-9)


def test_truth_tables_agree_with_the_events(simulated):
    events, truth = simulated
    rentals = events[events["event_type"] == "transaction"]
    views = events[events["event_type"] == "view"]

    assert len(truth.rentals) == len(rentals)
    assert truth.rentals["view_time"].notna().sum() == len(views)
    assert truth.sessions["events"].sum() == len(events) - len(views)
    assert set(truth.users["user_id"]) >= set(events["user_id"])
    assert truth.users["sessions"].sum() == len(truth.sessions)


def test_a_session_funnel_must_start_at_a_pageview():
    truth = jy.GroundTruth(jy.SimulationConfig())

    with pytest.raises(ValueError, match="starts with 'pageview'"):
        truth.session_funnel(["interaction", "transaction"])
    with pytest.raises(ValueError, match="'view' must follow 'transaction'"):
        truth.session_funnel(["pageview", "view"])


def test_the_summary_names_its_quantities():
    summary = jy.GroundTruth(jy.SimulationConfig()).summary()

    assert "pageviews read to 50%" in set(summary["quantity"])
    assert summary["value"].between(0, 100).all()


def test_the_truth_prints_as_one_short_line():
    _, truth = jy.simulate(jy.SimulationConfig(users=40, days=2), seed=3)
    known = jy.GroundTruth(jy.SimulationConfig(users=10, days=1))

    assert repr(truth) == (
        f"<GroundTruth users=40, start='2024-05-01', days=2, users: 40 rows, "
        f"sessions: {len(truth.sessions):,} rows, rentals: {len(truth.rentals):,} rows, "
        f"catalog: 2,000 rows, rentals_refused={truth.rentals_refused}>"
    )
    assert repr(known) == "<GroundTruth users=10, start='2024-05-01', days=1>"


def test_the_session_funnel_has_the_columns_of_the_measured_one_in_their_order():
    events, truth = jy.simulate(jy.SimulationConfig(users=40, days=2), seed=3)
    steps = ["pageview", "interaction", "transaction"]

    measured = jy.funnel(events, steps=steps)
    implied = truth.session_funnel(steps)

    assert implied.columns.tolist() == ["step", "conversion", "step_conversion"]
    assert [c for c in measured.columns if c in implied.columns] == implied.columns.tolist()
