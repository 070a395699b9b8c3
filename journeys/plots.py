"""Plots of the tables :mod:`journeys.analysis` returns.

Each function draws on the ``ax`` it is given, or on a new pyplot figure, and
returns the Axes. Nothing is shown: in a notebook a new figure displays itself
at the end of the cell, and a script saves it with ``ax.figure.savefig(path)``
(then ``matplotlib.pyplot.close(ax.figure)`` when drawing many).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

__all__ = ["plot_funnel", "plot_rental_lag", "plot_scroll_depth"]


def plot_funnel(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Draw a funnel as horizontal bars, first step on top.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`journeys.analysis.funnel`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with one bar per step labelled with its count and its
        conversion from the first step.
    """
    ax = _axes(ax)
    steps = [str(s) for s in table["step"]]
    entered = table["entered"].to_numpy()

    bars = ax.barh(steps, entered, color="tab:blue")
    labels = [
        f"{n:,}" + ("" if np.isnan(c) else f" ({c:.0%})")
        for n, c in zip(entered, table["conversion"].to_numpy(dtype=float), strict=True)
    ]
    ax.bar_label(bars, labels=labels, padding=3)

    ax.invert_yaxis()
    # Room on the right for the label of the longest bar.
    ax.set_xlim(0, max(1, int(entered.max()) if len(entered) else 1) * 1.35)
    ax.set_title("Funnel")
    ax.set_xlabel("users who reached the step")
    ax.set_ylabel("step")
    return ax


def plot_rental_lag(lags: pd.DataFrame, ax: Axes | None = None, *, bins: int = 40) -> Axes:
    """Draw a histogram of the hours from rental to first view, with a line at 24 h.

    Parameters
    ----------
    lags : pandas.DataFrame
        The result of :func:`journeys.analysis.rental_lag`. Rentals never
        viewed are counted in the legend, not in the bars. The bars stop at
        the 99th percentile of the lags (48 hours at least); the last one holds
        the later views too.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    bins : int
        Number of bars.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    hours = lags["lag_hours"].dropna().to_numpy(dtype=float)
    never = len(lags) - len(hours)

    # The tail is long: the bars stop at the 99th percentile (48 h at least) and
    # the last bar also holds the later views.
    upper = max(48.0, float(np.quantile(hours, 0.99))) if len(hours) else 48.0
    if len(hours):
        ax.hist(
            np.minimum(hours, upper),
            bins=bins,
            range=(0, upper),
            color="tab:blue",
            label=f"viewed ({len(hours):,}; last bar: {upper:.0f} h and later)",
        )
    ax.axvline(24, color="tab:red", linestyle="--", label="24 hours")
    ax.plot([], [], " ", label=f"never viewed: {never:,}")

    ax.set_title("Time from rental to first view")
    ax.set_xlabel("hours after the rental")
    ax.set_ylabel("rentals")
    ax.set_xlim(0, upper)
    ax.legend()
    return ax


def plot_scroll_depth(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Draw the share of pageviews reaching each scroll depth.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`journeys.analysis.scroll_depth`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    # Every pageview reaches depth 0, so the curve starts at 100 %.
    depths = np.concatenate([[0.0], table["threshold"].to_numpy(dtype=float)])
    shares = np.concatenate([[1.0], table["share"].to_numpy(dtype=float)])
    ax.plot(depths, shares, marker="o", color="tab:blue")
    for depth, share in zip(depths[1:], shares[1:], strict=True):
        if not np.isnan(share):
            ax.annotate(
                f"{share:.0%}",
                (depth, share),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
            )

    ax.set_title("How far down pages are read")
    ax.set_xlabel("scroll depth (% of the page)")
    ax.set_ylabel("pageviews reaching it")
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set_xlim(-2, 104)
    ax.set_ylim(0, 1.12)
    ax.grid(alpha=0.3)
    return ax


def _axes(ax):
    """The given Axes, or those of a new pyplot figure."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    return ax
