"""Tests of the scroll-depth reach curve."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_reference import (
    at,
    make_events,
    random_rows,
    ratio,
    reference_scroll_depth,
    shares_equal,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeys as jy
from journeys.errors import SchemaError

RANDOM_FRAMES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture
def hand_scrolls():
    rows = [
        ("u1", "scroll", "/movie/a", "10:02", 80.0, "tv"),
        ("u1", "pageview", "/movie/a", "10:00", None, "tv"),
        ("u1", "scroll", "/movie/a", "10:01", 30.0, "tv"),
        ("u1", "pageview", "/movie/b", "10:03", None, "tv"),
        ("u1", "scroll", "/movie/a", "10:04", 100.0, "tv"),
        ("u2", "pageview", "/movie/a", "10:00", None, "mobile"),
        ("u2", "scroll", "/movie/a", "09:59", 90.0, "mobile"),
        ("u2", "scroll", "/movie/a", "10:00", 50.0, "mobile"),
        ("u2", "pageview", "/movie/c", "11:00", None, "mobile"),
        ("u2", "scroll", "/movie/c", "11:01", None, "mobile"),
        ("u3", "scroll", "/movie/a", "10:05", 100.0, "tv"),
    ]
    return make_events(
        [
            {
                "user_id": u,
                "event_type": e,
                "page_url": p,
                "time": at(t),
                "scroll_depth": d,
                "device_type": device,
            }
            for u, e, p, t, d, device in rows
        ]
    )


@pytest.mark.parametrize(
    ("thresholds", "reached"),
    [
        # Depths: u1 /movie/a 100 (its last scroll comes after /movie/b), u1
        # /movie/b 0, u2 /movie/a 50 (the scroll before it does not count), u2
        # /movie/c 0 (its scroll has no depth). u3's scroll has no pageview.
        ((25, 50, 75, 90, 100), [2, 2, 1, 1, 1]),
        ((0,), [4]),
        ((10, 50.1), [2, 1]),
    ],
)
def test_scroll_depth_of_a_hand_computed_frame(hand_scrolls, thresholds, reached):
    table = jy.scroll_depth(hand_scrolls, thresholds)

    assert list(table.columns) == ["threshold", "pageviews", "share", "drop_off"]
    assert list(table["threshold"]) == list(thresholds)
    assert list(table["pageviews"]) == reached
    shares = [n / 4 for n in reached]
    shares_equal(list(table["share"]), shares)
    before = [1, *shares[:-1]]
    shares_equal(list(table["drop_off"]), [a - b for a, b in zip(before, shares, strict=True)])


def test_scroll_depth_by_segment(hand_scrolls):
    by_page = jy.scroll_depth(hand_scrolls, [50, 100], by="page_url")
    by_device = jy.scroll_depth(hand_scrolls, [50, 100], by="device_type", min_share=0.6)

    assert by_page.values.tolist() == [
        ["/movie/a", 50.0, 2, 1.0, 0.0],
        ["/movie/a", 100.0, 1, 0.5, 0.5],
        ["/movie/b", 50.0, 0, 0.0, 1.0],
        ["/movie/b", 100.0, 0, 0.0, 0.0],
        ["/movie/c", 50.0, 0, 0.0, 1.0],
        ["/movie/c", 100.0, 0, 0.0, 0.0],
    ]
    # Two pageviews each: neither device holds 60 % of them.
    assert list(by_device["device_type"]) == ["other", "other"]
    assert list(by_device["pageviews"]) == [2, 1]


@RANDOM_FRAMES
@given(rows=random_rows, by=st.sampled_from([None, "page_url", "device_type", "content_id"]))
def test_scroll_depth_matches_the_per_scroll_loop(rows, by):
    thresholds = (0, 10, 25, 50, 75, 90, 100)
    depths = reference_scroll_depth(rows)

    table = jy.scroll_depth(make_events(rows), thresholds, by=by)

    groups = {}
    for pageview, depth in depths:
        name = None if by is None else pageview.get(by)
        groups.setdefault("(missing)" if by and name is None else name, []).append(depth)
    for name, values in groups.items():
        part = table if by is None else table[table[by] == name]
        reached = [sum(d >= t for d in values) for t in thresholds]
        assert list(part["pageviews"]) == reached
        shares_equal(list(part["share"]), [ratio(n, len(values)) for n in reached])
        assert (part["drop_off"] >= 0).all()
    if by is not None:
        assert set(table[by]) == set(groups)


def test_scroll_depth_of_nothing_is_zero():
    table = jy.scroll_depth(make_events([]))
    by_page = jy.scroll_depth(make_events([]), by="page_url")

    assert list(table["pageviews"]) == [0, 0, 0, 0, 0]
    assert table["share"].isna().all()
    assert len(by_page) == 0 and "page_url" in by_page.columns


@pytest.mark.parametrize("thresholds", [(), (50, 25), (25, 25), (-1, 50), (50, 101), ("deep",)])
def test_scroll_depth_refuses_bad_thresholds(hand_scrolls, thresholds):
    with pytest.raises(ValueError, match="thresholds"):
        jy.scroll_depth(hand_scrolls, thresholds)


def test_scroll_depth_needs_its_columns():
    with pytest.raises(SchemaError, match="page_url"):
        jy.scroll_depth(
            pd.DataFrame(
                {"event_type": ["pageview"], "user_id": ["u"]},
                index=pd.DatetimeIndex([at("10:00")], name="time"),
            )
        )
