"""Tests of the plots: what they draw, from tables whose numbers are known."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_reference import at, make_events
from matplotlib import pyplot as plt

import journeys as jy


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def events():
    rows = [
        ("a", "pageview", "10:00", "tv", "m1"),
        ("a", "transaction", "10:05", "tv", "m1"),
        ("a", "view", "12:05", "tv", "m1"),
        ("b", "pageview", "10:00", "mobile", "m2"),
        ("b", "transaction", "10:10", "mobile", "m2"),
        ("c", "pageview", "11:00", "mobile", "m1"),
        ("c", "scroll", "11:01", "mobile", "m1"),
    ]
    return make_events(
        [
            {
                "user_id": u,
                "event_type": e,
                "time": at(t),
                "device_type": d,
                "content_id": c,
                "page_url": f"/movie/{c}",
                "scroll_depth": 60.0 if e == "scroll" else None,
            }
            for u, e, t, d, c in rows
        ]
    )


def test_plot_funnel_draws_one_bar_per_step(events):
    table = jy.funnel(events, ["pageview", "transaction", "view"])

    ax = jy.plot_funnel(table)

    assert [bar.get_width() for bar in ax.patches] == [3, 2, 1]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table["step"])
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["3  100%", "2  67% (67% of previous)", "1  33% (50% of previous)"]


def test_plot_funnel_breakdown_draws_each_group(events):
    table = jy.funnel(events, ["pageview", "transaction"], breakdown="device_type")

    ax = jy.plot_funnel(table)

    # mobile (b and c) first, then tv (a); heights are conversions.
    assert [round(bar.get_height(), 3) for bar in ax.patches] == [1.0, 0.5, 1.0, 1.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mobile (2)", "tv (1)"]
    assert ax.get_title() == "Funnel by device_type"
    with pytest.raises(ValueError, match="breakdown"):
        jy.plot_funnel_breakdown(jy.funnel(events))


def test_plot_rental_lag_draws_the_share_viewed(events):
    _, ax = plt.subplots()

    drawn = jy.plot_rental_lag(jy.rental_lag(events), ax=ax, by="device_type")

    assert drawn is ax
    curves = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert len(curves) == 2
    # tv: a's rental viewed after 2 hours; mobile: b's never (censored).
    assert list(curves[1].get_xdata()) == [0.0, 2.0]
    assert list(curves[1].get_ydata()) == [0.0, 1.0]
    assert list(curves[0].get_ydata()) == [0.0, 0.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "mobile: 0 of 1 viewed",
        "tv: 1 of 1 viewed",
    ]
    assert [list(line.get_xdata()) for line in ax.lines if line.get_linestyle() == ":"] == [
        [24, 24],
        [48, 48],
    ]


def test_plot_scroll_depth_draws_the_reach_curves(events):
    single = jy.plot_scroll_depth(jy.scroll_depth(events, [25, 50, 75]))
    per_device = jy.plot_scroll_depth(jy.scroll_depth(events, [50, 75], by="device_type"))

    # The curve starts at depth 0, which every pageview reaches.
    assert list(single.lines[0].get_xdata()) == [0, 25, 50, 75]
    assert list(single.lines[0].get_ydata()) == pytest.approx([1.0, 1 / 3, 1 / 3, 0.0])
    assert [list(line.get_ydata()) for line in per_device.lines] == [[1.0, 0.5, 0.0], [1, 0, 0]]
    assert [t.get_text() for t in per_device.get_legend().get_texts()] == ["mobile", "tv"]


@pytest.mark.parametrize("plot", [jy.plot_funnel, jy.plot_rental_lag, jy.plot_scroll_depth])
def test_plots_of_nothing_are_empty_axes(plot):
    table = {
        jy.plot_funnel: jy.funnel,
        jy.plot_rental_lag: jy.rental_lag,
        jy.plot_scroll_depth: jy.scroll_depth,
    }[plot](make_events([]))

    ax = plot(table)

    assert ax.get_title()
    assert np.all([bar.get_width() == 0 for bar in ax.patches])
