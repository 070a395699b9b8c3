"""The generator's model: time order, sessions, people, chunks and reproducible files."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import journeys as jy
from journeys.generate import BLOCK_USERS

SEEDS = [0, 3, 11]
START = pd.Timestamp("2024-05-01", tz="UTC")


@pytest.fixture(scope="module", params=SEEDS)
def simulated(request):
    config = jy.SimulationConfig(users=2500, days=14, catalog_size=300)
    return jy.simulate(config, seed=request.param)


def test_a_users_events_strictly_increase(simulated):
    events, _ = simulated
    table = pd.DataFrame({"user": events["user_id"].array, "ns": events.index.asi8})

    steps = table.groupby("user", sort=False)["ns"].diff().dropna()

    assert len(steps) > 10_000
    assert steps.min() >= 1


def test_sessions_never_overlap_and_keep_the_minimum_gap(simulated):
    events, truth = simulated
    sessions = truth.sessions.sort_values(["user_id", "start"], kind="stable")
    gap = truth.config.min_session_gap_minutes * pd.Timedelta(minutes=1)

    following = sessions.groupby("user_id")["start"].shift(-1)
    between = (following - sessions["end"]).dropna()

    assert (sessions["end"] >= sessions["start"]).all()
    assert len(between) > 1000
    assert between.min() >= gap


def test_every_event_but_views_lies_in_one_session_of_its_user(simulated):
    events, truth = simulated
    inside = events[events["event_type"] != "view"]
    table = pd.DataFrame({"user_id": inside["user_id"].array, "time": inside.index})
    sessions = truth.sessions.reset_index(names="session")

    matched = pd.merge_asof(
        table.sort_values("time"),
        sessions.sort_values("start"),
        left_on="time",
        right_on="start",
        by="user_id",
    )

    assert matched["session"].notna().all()
    assert (matched["time"] <= matched["end"]).all()
    assert matched.groupby("session").size().sum() == truth.sessions["events"].sum()


def test_every_session_starts_with_a_pageview(simulated):
    events, truth = simulated
    firsts = events[events.index.isin(truth.sessions["start"])]

    assert set(firsts["event_type"]) == {"pageview"}


def test_sessions_fall_between_arrival_and_churn(simulated):
    _, truth = simulated
    users = truth.users.set_index("user_id")
    sessions = truth.sessions.join(users[["arrival", "churn"]], on="user_id")

    assert (sessions["start"] >= sessions["arrival"]).all()
    churned = sessions["churn"].notna()
    assert (sessions.loc[churned, "start"] < sessions.loc[churned, "churn"]).all()


def test_some_users_arrive_during_the_period_and_some_churn(simulated):
    _, truth = simulated
    users = truth.users
    config = truth.config
    arrived_later = (users["arrival"] > START).mean()
    # A binomial share: 4 standard errors of sqrt(p (1 - p) / n) around 1 - initial share.
    p = 1 - config.initial_user_share
    tolerance = 4 * np.sqrt(p * (1 - p) / len(users))

    assert abs(arrived_later - p) < tolerance
    assert users["churn"].notna().sum() > 0


def test_pace_is_heavy_tailed(simulated):
    _, truth = simulated
    sessions = np.sort(truth.users["sessions"].to_numpy())[::-1]
    top_tenth = sessions[: len(sessions) // 10].sum() / sessions.sum()
    log_rate = np.log(truth.users["sessions_per_day"])

    # A lognormal rate of sigma 1 gives the top tenth about 39% of the rate.
    assert top_tenth > 0.3
    assert (truth.users["sessions"] == 0).sum() > 0
    assert abs(np.exp(np.median(log_rate)) / truth.config.sessions_per_day_median - 1) < 0.1
    assert abs(log_rate.std() - truth.config.sessions_per_day_sigma) < 0.1


def test_users_have_faker_names_and_unique_ids(simulated):
    _, truth = simulated
    users = truth.users

    assert users["user_id"].is_unique
    assert users["name"].str.fullmatch(r"[A-Z][a-z'A-Z-]+ [A-Z][a-z'A-Z-]+").all()
    assert users["name"].nunique() > len(users) / 2


def test_locations_follow_population():
    config = jy.SimulationConfig(users=20_000, days=1)
    _, truth = jy.simulate(config, seed=5)
    population = pd.Series({c: v[0] for c, v in config.locations.items()})
    expected = population / population.sum()

    observed = truth.users["location"].value_counts(normalize=True).reindex(expected.index)

    # 4 standard errors of a binomial share over 20,000 users.
    tolerance = 4 * np.sqrt(expected * (1 - expected) / len(truth.users))
    assert (abs(observed.fillna(0) - expected) < tolerance).all()


def test_session_starts_follow_the_local_daily_rhythm():
    config = jy.SimulationConfig(
        users=4000,
        days=28,
        churn_per_day=0.0,
        initial_user_share=1.0,
        min_session_gap_minutes=0.0,
    )
    _, truth = jy.simulate(config, seed=2)
    zones = truth.users.set_index("user_id")["location"].map(
        {c: v[1] for c, v in config.locations.items()}
    )
    starts = truth.sessions.assign(zone=truth.sessions["user_id"].map(zones).to_numpy())
    local = pd.concat(
        [
            group["start"].dt.tz_convert(zone).dt.tz_localize(None)
            for zone, group in starts.groupby("zone")
        ]
    )

    profile = np.array(config.hourly_profile) / sum(config.hourly_profile)
    hours = local.dt.hour.value_counts(normalize=True).sort_index().to_numpy()
    weekend = (local.dt.day_of_week >= 5).mean()
    expected_weekend = 2 * config.weekend_factor / (5 + 2 * config.weekend_factor)

    # Sessions of a user are not independent (pushed apart when they would
    # overlap, rarely with no gap), so allow 5 binomial standard errors.
    n = len(local)
    assert n > 20_000
    assert (abs(hours - profile) < 5 * np.sqrt(profile * (1 - profile) / n)).all()
    assert abs(weekend - expected_weekend) < 5 * np.sqrt(expected_weekend / n)


def test_popular_movies_are_viewed_and_rented_more(simulated):
    events, truth = simulated
    catalog = truth.catalog.set_index("content_id")
    pageviews = events.loc[events["event_type"] == "pageview", "content_id"].value_counts()
    rentals = events[events["event_type"] == "transaction"]

    both = pd.DataFrame({"weight": catalog["weight"], "pageviews": pageviews}).fillna(0)
    assert both.corr(method="spearman").loc["weight", "pageviews"] > 0.8
    popularity = rentals.groupby("content_id")["rental_popularity"].first()
    assert (popularity == catalog.loc[popularity.index, "rental_popularity"]).all()
    assert (
        rentals["purchase_value"].to_numpy() == catalog.loc[rentals["content_id"], "price"]
    ).all()


def test_views_carry_the_exact_seconds_since_their_rental(simulated):
    events, truth = simulated
    views = events[events["event_type"] == "view"]
    rentals = truth.rentals.dropna(subset=["view_time"]).set_index(["user_id", "content_id"])

    rented = rentals.loc[list(zip(views["user_id"], views["content_id"], strict=True))]
    since = views.index.asi8 - pd.DatetimeIndex(rented["rental_time"]).asi8

    assert len(views) > 100
    assert (since % 10**9 == 0).all()
    assert (since // 10**9 == views["time_lag_from_transaction"].to_numpy()).all()
    assert (views["time_lag_from_transaction"] >= 1).all()


def test_some_rentals_are_never_viewed(simulated):
    _, truth = simulated
    rentals = truth.rentals

    never = rentals["view_time"].isna()
    assert 0 < never.mean() < 0.5
    assert (~rentals["will_view"] & ~never).sum() == 0
    assert (rentals["will_view"] & never).sum() > 0  # cut by the end of the period


def test_scroll_depth_zero_is_kept(simulated):
    events, _ = simulated
    depth = events["scroll_depth"].dropna()

    assert (depth == 0).sum() > 0
    assert (depth == 100).sum() > 0
    assert depth.between(0, 100).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_frame_passes_validation_unchanged(seed):
    events = jy.generate(users=300, days=3, seed=seed)

    pd.testing.assert_frame_equal(jy.validate(events), events)


@pytest.mark.parametrize("chunk_users", [1, BLOCK_USERS, 1500, 10**6])
def test_chunks_concatenate_to_the_one_shot_frame(chunk_users):
    whole = jy.generate(users=3 * BLOCK_USERS + 17, days=3, seed=4)
    chunks = list(
        jy.generate_chunks(users=3 * BLOCK_USERS + 17, days=3, seed=4, chunk_users=chunk_users)
    )
    per_chunk = -(-chunk_users // BLOCK_USERS)

    assert len(chunks) == -(-4 // per_chunk)
    for chunk in chunks:
        assert chunk.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(pd.concat(chunks).sort_index(kind="stable"), whole)


def test_chunks_hold_disjoint_users():
    chunks = list(jy.generate_chunks(users=3000, days=3, seed=8, chunk_users=1000))

    users = [set(c["user_id"]) for c in chunks]
    assert sum(len(u) for u in users) == len(set().union(*users))


def test_no_users_give_no_chunks():
    assert list(jy.generate_chunks(users=0, days=2, seed=1)) == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_the_same_seed_gives_byte_identical_files(tmp_path, suffix):
    first, again = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"

    jy.save_events(jy.generate(users=300, days=4, seed=21), first)
    jy.save_events(jy.generate(users=300, days=4, seed=21), again)

    assert first.read_bytes() == again.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_chunked_files_are_reproducible_and_hold_the_events(tmp_path, suffix):
    def chunks():
        return jy.generate_chunks(users=1500, days=2, seed=6, chunk_users=1000)

    first, again = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    _, written = jy.save_event_chunks(chunks(), first)
    jy.save_event_chunks(chunks(), again)
    whole = jy.generate(users=1500, days=2, seed=6)

    assert first.read_bytes() == again.read_bytes()
    assert written == len(whole)
    pd.testing.assert_frame_equal(jy.read_events(first).sort_index(kind="stable"), whole)


def test_one_chunk_file_is_the_one_shot_file(tmp_path):
    one_shot, chunked = tmp_path / "a.csv", tmp_path / "b.csv"

    jy.save_events(jy.generate(users=500, days=3, seed=2), one_shot)
    jy.save_event_chunks(jy.generate_chunks(users=500, days=3, seed=2), chunked)

    assert one_shot.read_bytes() == chunked.read_bytes()


def test_no_chunks_give_an_empty_file_of_the_schema(tmp_path):
    path, written = jy.save_event_chunks(iter([]), tmp_path / "none.csv")

    assert written == 0
    assert len(jy.read_events(path)) == 0
    assert path.read_text().startswith("time,event_type,")


def test_return_truth_gives_what_simulate_gives():
    events, truth = jy.generate(users=200, days=3, seed=9, return_truth=True)
    again, same = jy.simulate(jy.SimulationConfig(users=200, days=3), seed=9)

    pd.testing.assert_frame_equal(events, again)
    pd.testing.assert_frame_equal(truth.rentals, same.rentals)
    assert truth.config == same.config


def test_each_chunk_logs_one_info_line(caplog):
    with caplog.at_level(logging.INFO, logger="journeys.generate"):
        chunks = list(jy.generate_chunks(users=2500, days=1, seed=3, chunk_users=1000))

    messages = [r.getMessage() for r in caplog.records if r.name == "journeys.generate"]
    assert messages == [
        f"chunk of users {first} to {last}: {len(chunk)} events"
        for (first, last), chunk in zip(
            [(0, 999), (1000, 1999), (2000, 2499)], chunks, strict=True
        )
    ]


@pytest.mark.parametrize("chunk_users", [0, -5, 2.5, "many"])
def test_bad_chunk_sizes_are_refused_at_once(chunk_users):
    with pytest.raises(ValueError, match="chunk_users must be an int of at least 1"):
        jy.generate_chunks(users=10, chunk_users=chunk_users)
