"""Tests of the synthetic journey generator against its contract and its model."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from journeys.generate import as_generator, generate
from journeys.schema import COLUMNS, EVENT_TYPES, dtypes
from journeys.simulation_config import SimulationConfig

DEFAULTS = SimulationConfig()

SEEDS = [0, 1, 7, 2024]
START = pd.Timestamp("2024-05-01", tz="UTC")
DAYS = 14

# Which columns each event type fills, besides the tags and user_id that every
# event has. An interaction has a content_id only when it is a click.
FILLED = {
    "pageview": {"content_id", "page_url"},
    "scroll": {"content_id", "page_url", "scroll_depth"},
    "interaction": {"page_url", "interaction_type"},
    "button_click": {"content_id", "page_url", "button_clicked"},
    "transaction": {
        "content_id",
        "page_url",
        "purchase_value",
        "rental_duration",
        "rental_popularity",
    },
    "view": {"content_id", "page_url", "time_lag_from_transaction"},
}
ALWAYS = ["event_type", "user_id", "device_type", "location", "referral_source"]


@pytest.fixture(scope="module", params=SEEDS)
def seed(request):
    return request.param


@pytest.fixture(scope="module")
def events(seed):
    return generate(users=400, start="2024-05-01", days=DAYS, seed=seed, catalog_size=80)


def test_same_seed_gives_the_same_frame(seed):
    first = generate(users=150, days=5, seed=seed)
    again = generate(users=150, days=5, seed=seed)

    pd.testing.assert_frame_equal(first, again)


def test_a_generator_seed_gives_the_frame_of_its_int(seed):
    from_int = generate(users=150, days=5, seed=seed)
    from_generator = generate(users=150, days=5, seed=np.random.default_rng(seed))

    pd.testing.assert_frame_equal(from_int, from_generator)


def test_different_seeds_give_different_frames(seed):
    first = generate(users=150, days=5, seed=seed)
    other = generate(users=150, days=5, seed=seed + 1)

    assert not first.equals(other)
    assert set(first["user_id"]) != set(other["user_id"])


def test_frame_follows_the_contract(events):
    assert events.index.name == "time"
    assert str(events.index.dtype) == "datetime64[ns, UTC]"
    assert list(events.columns) == [c.name for c in COLUMNS]
    assert dict(events.dtypes) == dtypes()
    assert events.index.is_monotonic_increasing


def test_every_column_but_the_collectors_is_filled_somewhere(events):
    filled = events.notna().sum()

    assert list(filled[filled == 0].index) == ["event_id", "received_at"]


def test_tags_and_user_are_always_filled(events):
    assert events[ALWAYS].isna().sum().sum() == 0


def test_event_types_are_those_of_the_schema(events):
    assert set(events["event_type"]) == set(EVENT_TYPES)


def test_each_event_type_fills_its_columns_only(events):
    optional = [c.name for c in COLUMNS if c.name not in ALWAYS]

    for event_type, columns in FILLED.items():
        rows = events[events["event_type"] == event_type]
        for name in optional:
            share = rows[name].notna().mean()
            if name in columns:
                assert share == 1.0, (event_type, name)
            elif not (event_type == "interaction" and name == "content_id"):
                assert share == 0.0, (event_type, name)


def test_times_fall_in_the_period(events):
    assert events.index.min() >= START
    assert events.index.max() < START + pd.Timedelta(days=DAYS)


def test_times_have_nanosecond_resolution(events):
    ns = events.index.asi8
    not_on_a_microsecond = np.mean(ns % 1000 != 0)

    assert not_on_a_microsecond > 0.9


def test_scroll_depth_is_a_percentage(events):
    depth = events["scroll_depth"].dropna()

    assert depth.between(0, 100).all()
    assert depth.std() > 10


def test_values_come_from_the_documented_mixes(events):
    rents = events[events["event_type"] == "transaction"]

    assert set(events["interaction_type"].dropna()) <= set(DEFAULTS.interaction_mix)
    assert set(events["button_clicked"].dropna()) <= set(DEFAULTS.button_mix)
    assert set(events["device_type"]) <= set(DEFAULTS.device_mix)
    assert set(events["referral_source"]) <= set(DEFAULTS.referral_mix)
    assert set(events["location"]) <= set(DEFAULTS.locations)
    assert set(rents["purchase_value"]) <= set(DEFAULTS.price_mix)
    assert set(rents["rental_duration"]) <= set(DEFAULTS.duration_mix)
    assert (rents["rental_popularity"] >= 1).all()


def test_a_user_keeps_their_place_referral_and_device(events):
    per_user = events.groupby("user_id")[["location", "referral_source", "device_type"]]

    assert (per_user.nunique() == 1).all().all()


def test_user_ids_look_numeric(events):
    assert events["user_id"].str.fullmatch(r"[1-9][0-9]{5,}").all()


def test_places_follow_population(events):
    users = events.groupby("user_id")["location"].first()
    counts = users.value_counts()

    assert len(counts) <= len(DEFAULTS.locations)
    assert counts.iloc[0] >= 4 * counts.iloc[-1]


def test_pages_match_the_event(events):
    pageviews = events[events["event_type"] == "pageview"]
    searches = events[events["interaction_type"] == "search"]
    views = events[events["event_type"] == "view"]

    assert (pageviews["page_url"] == "https://example.com/movie/" + pageviews["content_id"]).all()
    assert (searches["page_url"] == "https://example.com/search").all()
    assert (views["page_url"] == "https://example.com/watch/" + views["content_id"]).all()


def test_only_clicks_among_interactions_concern_a_movie(events):
    interactions = events[events["event_type"] == "interaction"]
    clicks = interactions["interaction_type"] == "click"

    assert interactions.loc[clicks, "content_id"].notna().all()
    assert interactions.loc[~clicks, "content_id"].isna().all()


def test_a_scroll_follows_a_pageview_of_its_page(events):
    last_page = {}
    for row in events.itertuples():
        if row.event_type == "pageview":
            last_page.setdefault(row.user_id, set()).add(row.page_url)
        elif row.event_type == "scroll":
            assert row.page_url in last_page.get(row.user_id, set()), row


def test_a_rental_is_of_a_movie_the_user_viewed_before(events):
    seen = {}
    for row in events.itertuples():
        if row.event_type == "pageview":
            seen.setdefault(row.user_id, set()).add(row.content_id)
        elif row.event_type == "transaction":
            assert row.content_id in seen.get(row.user_id, set()), row


def test_view_lag_is_the_exact_seconds_since_its_rental(events):
    rentals = {}
    for row in events[events["event_type"] == "transaction"].itertuples():
        rentals.setdefault((row.user_id, row.content_id), []).append(row.Index.value)

    views = events[events["event_type"] == "view"]
    assert len(views) > 0
    for row in views.itertuples():
        lag = row.time_lag_from_transaction
        rented_at = row.Index.value - lag * 1_000_000_000
        assert lag >= 1
        assert rented_at in rentals[(row.user_id, row.content_id)], row


def test_a_movie_is_rented_and_viewed_at_most_once_per_user(events):
    for event_type in ("transaction", "view"):
        rows = events[events["event_type"] == event_type]

        assert not rows.duplicated(["user_id", "content_id"]).any()


def test_rental_popularity_belongs_to_the_movie(events):
    rents = events[events["event_type"] == "transaction"]

    assert (rents.groupby("content_id")["rental_popularity"].nunique() == 1).all()


def test_popular_movies_are_viewed_more():
    events = generate(users=2000, days=30, seed=3, catalog_size=200)
    rents = events[events["event_type"] == "transaction"]
    popularity = rents.groupby("content_id")["rental_popularity"].first()
    pageviews = events[events["event_type"] == "pageview"]["content_id"].value_counts()

    both = pd.DataFrame({"popularity": popularity, "pageviews": pageviews}).dropna()
    assert both.corr(method="spearman").loc["popularity", "pageviews"] > 0.8


def test_no_users_give_an_empty_frame_of_the_contract():
    events = generate(users=0, days=3, seed=1)

    assert len(events) == 0
    assert list(events.columns) == [c.name for c in COLUMNS]
    assert dict(events.dtypes) == dtypes()
    assert str(events.index.dtype) == "datetime64[ns, UTC]"


def test_a_start_with_a_zone_is_converted_to_utc():
    events = generate(users=100, start="2024-05-01T02:00+02:00", days=1, seed=5)

    assert events.index.min() >= pd.Timestamp("2024-05-01T00:00", tz="UTC")
    assert events.index.max() < pd.Timestamp("2024-05-02T00:00", tz="UTC")


def test_generation_logs_one_info_line(caplog):
    with caplog.at_level(logging.INFO, logger="journeys.generate"):
        events = generate(users=50, days=2, seed=2)

    messages = [r.getMessage() for r in caplog.records if r.name == "journeys.generate"]
    assert messages == [f"generated {len(events)} events for 50 users over 2 days from {START}"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"users": -1},
        {"days": 0},
        {"catalog_size": 0},
        {"users": 2.5},
        {"seed": "seven"},
        {"seed": -3},
        {"seed": True},
    ],
)
def test_bad_arguments_are_refused(arguments):
    with pytest.raises(ValueError, match="must be"):
        generate(**arguments)


def test_as_generator_normalises_seeds(seed):
    rng = np.random.default_rng(seed)

    assert as_generator(rng) is rng
    assert isinstance(as_generator(None), np.random.Generator)
    assert as_generator(seed).integers(10**9) == np.random.default_rng(seed).integers(10**9)
    assert as_generator(np.int64(seed)).random() == np.random.default_rng(seed).random()
