"""Plots of the tables :mod:`journeys.analysis` returns.

Each function draws on the ``ax`` it is given, or on a new pyplot figure, and
returns the Axes. Nothing is shown: in a notebook a new figure displays itself
at the end of the cell, and a script saves it with ``ax.figure.savefig(path)``
(then ``matplotlib.pyplot.close(ax.figure)`` when drawing many). Only the
object-oriented API is used, so any backend, the non-interactive Agg included,
works.

A table with a breakdown or segment column (the column before ``step_number``
in a funnel, before ``threshold`` in a scroll-depth table) is drawn one group
per colour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from journeys.analysis.rental_lag import rental_lag_curve

__all__ = ["plot_funnel", "plot_funnel_breakdown", "plot_rental_lag", "plot_scroll_depth"]


def plot_funnel(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Draw a funnel as horizontal bars, first step on top.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`journeys.funnel`. With a breakdown, this draws
        :func:`plot_funnel_breakdown`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with one bar per step labelled with its count, its conversion
        from the first step and, from the second step on, from the step before.
    """
    if _group_column(table, "step_number") is not None:
        return plot_funnel_breakdown(table, ax=ax)
    ax = _axes(ax)
    steps = [str(s) for s in table["step"]]
    entered = table["entered"].to_numpy()
    conversion = table["conversion"].to_numpy(dtype=float)
    step_conversion = table["step_conversion"].to_numpy(dtype=float)

    bars = ax.barh(steps, entered, color="tab:blue")
    labels = []
    for k, (n, total, step) in enumerate(zip(entered, conversion, step_conversion, strict=True)):
        label = f"{n:,}"
        if not np.isnan(total):
            label += f"  {total:.0%}"
        if k and not np.isnan(step):
            label += f" ({step:.0%} of previous)"
        labels.append(label)
    ax.bar_label(bars, labels=labels, padding=3)

    ax.invert_yaxis()
    # Room on the right for the label of the longest bar.
    ax.set_xlim(0, max(1, int(entered.max()) if len(entered) else 1) * 1.6)
    ax.set_title("Funnel")
    ax.set_xlabel("reached the step")
    ax.set_ylabel("step")
    return ax


def plot_funnel_breakdown(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Draw a broken-down funnel: the conversion of each group at each step, side by side.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`journeys.funnel` with ``breakdown``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with one group of bars per step and one bar per breakdown
        value, its height the conversion from the first step, labelled in percent;
        the legend gives each group's size at the first step.
    """
    group = _group_column(table, "step_number")
    if group is None:
        raise ValueError(
            "plot_funnel_breakdown needs a funnel table with a breakdown column (from "
            "jy.funnel(..., breakdown=COLUMN)); this one has none: use plot_funnel."
        )
    ax = _axes(ax, figsize=(9, 4.5))
    groups = list(dict.fromkeys(table[group]))
    steps = list(dict.fromkeys(table["step"]))
    width = 0.8 / max(len(groups), 1)
    positions = np.arange(len(steps))

    for i, name in enumerate(groups):
        mine = table[table[group] == name]
        shares = mine["conversion"].to_numpy(dtype=float)
        entered = int(mine["entered"].iloc[0]) if len(mine) else 0
        bars = ax.bar(
            positions - 0.4 + width * (i + 0.5),
            np.nan_to_num(shares),
            width=width,
            label=f"{name} ({entered:,})",
        )
        ax.bar_label(
            bars,
            labels=["" if np.isnan(s) else f"{s:.0%}" for s in shares],
            padding=2,
            fontsize="small",
        )

    ax.set_xticks(positions, steps)
    ax.set_ylim(0, 1.15)
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set_title(f"Funnel by {group}")
    ax.set_xlabel("step")
    ax.set_ylabel("conversion from the first step")
    if groups:
        ax.legend(title=group, fontsize="small")
    return ax


def plot_rental_lag(
    lags: pd.DataFrame,
    ax: Axes | None = None,
    *,
    by: str | None = None,
    max_hours: float | None = None,
    confidence: float | None = 0.95,
) -> Axes:
    """Draw the Kaplan-Meier share of rentals viewed over the hours after renting.

    Parameters
    ----------
    lags : pandas.DataFrame
        The result of :func:`journeys.rental_lag` (or an events frame).
        Unviewed rentals are censored, not dropped: the curve is
        :func:`journeys.rental_lag_curve`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    by : str, optional
        A segment column (``device_type``, ``referral_source``, ``location``):
        one curve per value.
    max_hours : float, optional
        Where the hours axis ends; by default 48 hours, or further when the
        rentals were followed much longer (the 95th percentile of how long).
    confidence : float or None
        The coverage of the shaded confidence band; None for no band.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with a step curve per segment, dotted lines at 24 and 48 hours,
        and the number of rentals and of rentals viewed in the legend.
    """
    ax = _axes(ax)
    curve = rental_lag_curve(lags, by=by, confidence=confidence or 0.95)
    followed = lags["followed_hours"].to_numpy(dtype=float) if "followed_hours" in lags else None
    if max_hours is None:
        upper = 48.0
        if followed is not None and len(followed):
            upper = max(upper, float(np.quantile(followed, 0.95)))
    else:
        upper = float(max_hours)

    groups = [(None, curve)] if by is None else list(curve.groupby(by, sort=False))
    for name, part in groups:
        hours = np.concatenate([[0.0], part["time"].to_numpy(dtype=float)])
        share = np.concatenate([[0.0], part["share_viewed"].to_numpy(dtype=float)])
        rentals = int(part["at_risk"].iloc[0]) if len(part) else 0
        viewed = int(part["events"].sum())
        label = f"{'rentals' if name is None else name}: {viewed:,} of {rentals:,} viewed"
        (line,) = ax.step(hours, share, where="post", label=label)
        if confidence is not None and len(part):
            low = np.concatenate([[0.0], part["share_viewed_lower"].to_numpy(dtype=float)])
            high = np.concatenate([[0.0], part["share_viewed_upper"].to_numpy(dtype=float)])
            ax.fill_between(hours, low, high, step="post", alpha=0.2, color=line.get_color())
    for mark in (24, 48):
        ax.axvline(mark, color="grey", linestyle=":", linewidth=1)

    ax.set_title("Share of rentals viewed (Kaplan-Meier)")
    ax.set_xlabel("hours after the rental")
    ax.set_ylabel("viewed by then")
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set_xlim(0, upper)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(title=by, fontsize="small")
    return ax


def plot_scroll_depth(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Draw the reach curve: the share of pageviews reaching each scroll depth.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`journeys.scroll_depth`, with or without ``by``
        (one curve per segment).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with a falling curve per segment from 100 % at depth 0;
        a single curve is labelled with its shares.
    """
    ax = _axes(ax)
    segment = _group_column(table, "threshold")
    groups = [(None, table)] if segment is None else list(table.groupby(segment, sort=False))

    for name, part in groups:
        # Every pageview reaches depth 0, so the curve starts at 100 %.
        depths = np.concatenate([[0.0], part["threshold"].to_numpy(dtype=float)])
        shares = np.concatenate([[1.0], part["share"].to_numpy(dtype=float)])
        ax.plot(depths, shares, marker="o", label=None if name is None else str(name))
        if segment is None:
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
    if segment is not None and groups:
        ax.legend(title=segment, fontsize="small")
    return ax


def _group_column(table, first):
    """The breakdown column of a table: the one before ``first``, if any."""
    columns = list(table.columns)
    if first not in columns:
        raise ValueError(
            f"expected a table from journeys' analyses with a {first!r} column, got the "
            f"columns {columns}."
        )
    index = columns.index(first)
    return columns[index - 1] if index > 0 else None


def _axes(ax, figsize=(7, 4)):
    """The given Axes, or those of a new pyplot figure."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax
