"""Analyses of an events frame, each returning a tidy DataFrame.

:mod:`~journeys.analysis.funnel`
    :func:`funnel`, :func:`funnel_users` and :func:`funnel_dropoffs`: how many
    users or sessions go through a sequence of :class:`Step`\\ s, in order or
    not, within a window, with exclusions and breakdowns.
:mod:`~journeys.analysis.sessions`
    :func:`sessions`: each user's events numbered into sessions.
:mod:`~journeys.analysis.rental_lag`
    :func:`rental_lag`, :func:`rental_lag_summary`, :func:`rental_lag_curve`
    and :func:`rental_lag_check`: how long after renting a movie people start
    watching it, with unviewed rentals censored.
:mod:`~journeys.analysis.survival`
    :func:`kaplan_meier`, the estimate behind the rental lag.
:mod:`~journeys.analysis.scroll_depth`
    :func:`scroll_depth`: how far down the pages people read.

Every analysis takes an events frame as :mod:`journeys.schema` describes it
(indexed by the events' time), needs only the columns it uses, accepts events
in any order, leaves out events without the keys it needs, and gives zero
counts (not errors) for empty input. :mod:`~journeys.analysis.events` holds
what they share: reading times and keys, and folding small groups into
``"other"``.
"""

from journeys.analysis.funnel import DEFAULT_STEPS, funnel, funnel_dropoffs, funnel_users
from journeys.analysis.rental_lag import (
    rental_lag,
    rental_lag_check,
    rental_lag_curve,
    rental_lag_summary,
)
from journeys.analysis.scroll_depth import DEFAULT_THRESHOLDS, scroll_depth
from journeys.analysis.sessions import sessions
from journeys.analysis.steps import Step, as_step
from journeys.analysis.survival import kaplan_meier, survival_at, survival_quantile

__all__ = [
    "DEFAULT_STEPS",
    "DEFAULT_THRESHOLDS",
    "Step",
    "as_step",
    "funnel",
    "funnel_dropoffs",
    "funnel_users",
    "kaplan_meier",
    "rental_lag",
    "rental_lag_check",
    "rental_lag_curve",
    "rental_lag_summary",
    "scroll_depth",
    "sessions",
    "survival_at",
    "survival_quantile",
]
