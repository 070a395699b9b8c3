"""The ground truth of a simulation, to check analyses against.

:class:`GroundTruth` holds two kinds of truth:

What the model implies (from the config alone, exactly)
    :meth:`GroundTruth.session_funnel`, the chance that a session that reached
    one step goes on to the next, from the Markov chain's first-entry
    probabilities, with the chain's silent second transaction on a page (what
    ``jy.funnel(events, steps, by=<session column>)`` estimates);
    :meth:`GroundTruth.scroll_reach`, the share of pageviews read to each
    depth (what ``jy.scroll_depth`` estimates), from the chain's number of
    scrolls per pageview and the depth distribution; and
    :meth:`GroundTruth.rental_lag`, the lag from a rental to its first view
    (median, 90th percentile, share viewed within 24 and 48 hours), with
    :meth:`GroundTruth.lag_cdf` for comparing data cut by the period's end.
What happened (tables made by :func:`journeys.simulate`)
    ``users`` (one row per simulated user: id, Faker name, location, device,
    referral, pace, arrival and churn), ``sessions`` (user, first and last
    event time, events), ``rentals`` (user, movie, rental time, first view
    time if seen in the period, lag in seconds) and ``catalog``.

The model-implied numbers ignore three small effects: sessions cut by the
end of the period or by ``max_session_events``, and rentals a user does not
make because they rented that movie on an earlier page in the period (see
:mod:`journeys.generate`); ``rentals_refused`` counts the latter. They vanish
for a long period and a wide catalog; with the defaults the refused rentals
are about 2% of the rentals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeys.simulation_config import CHAIN_STATES, SimulationConfig

__all__ = ["GroundTruth"]

_DEFAULT_STEPS = ("pageview", "interaction", "transaction", "view")
_SCROLL_THRESHOLDS = (25, 50, 75, 90, 100)


@dataclass(frozen=True)
class GroundTruth:
    """The configured truth of a simulation, and what it realised.

    Attributes
    ----------
    config : SimulationConfig
        The settings simulated.
    users, sessions, rentals, catalog : pandas.DataFrame or None
        What happened; None when only the config is known (see module docstring).
    rentals_refused : int
        Rentals the chain asked for of a movie the user had rented before in the period.
    """

    config: SimulationConfig
    users: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    rentals: pd.DataFrame | None = None
    catalog: pd.DataFrame | None = None
    rentals_refused: int = 0

    def __repr__(self) -> str:
        # The frames and the full config would print thousands of lines in a notebook.
        config = self.config
        parts = [f"users={config.users}", f"start={config.start!r}", f"days={config.days}"]
        for name in ("users", "sessions", "rentals", "catalog"):
            frame = getattr(self, name)
            if frame is not None:
                parts.append(f"{name}: {len(frame):,} rows")
        if self.rentals is not None:
            parts.append(f"rentals_refused={self.rentals_refused}")
        return f"<GroundTruth {', '.join(parts)}>"

    def transition_matrix(self) -> pd.DataFrame:
        """The chain: rows are the event made, columns the next event or ``end``."""
        states = CHAIN_STATES
        end = np.array([self.config.end_probability[s] for s in states])
        rows = [
            [(1 - end[i]) * self.config.transitions[s].get(t, 0.0) for t in states]
            for i, s in enumerate(states)
        ]
        table = pd.DataFrame(rows, index=list(states), columns=list(states))
        table["end"] = end
        return table

    def _page_chain(self):
        """The chain with a flag for "this page's movie is rented", as a matrix.

        State ``s + n * f`` is event type ``s`` (of ``n``) with flag ``f``. A
        pageview clears the flag; a transaction sets it. Slot ``(transaction,
        0)`` is a visible rental and slot ``(transaction, 1)`` the silent
        second transaction of a page (no event is made); both go on flagged.
        """
        states = list(CHAIN_STATES)
        n = len(states)
        pv, tr = states.index("pageview"), states.index("transaction")
        q = self.transition_matrix()[states].to_numpy()
        chain = np.zeros((2 * n, 2 * n))
        for flag in (0, 1):
            for s in range(n):
                after = 1 if s == tr else flag
                for t in range(n):
                    target = pv if t == pv else t + n * after
                    chain[s + n * flag, target] += q[s, t]
        return chain

    def session_funnel(self, steps: Sequence[str] = _DEFAULT_STEPS) -> pd.DataFrame:
        """The funnel of one session, as the model implies it.

        ``steps`` starts with ``pageview`` (every session does), then event
        types of the chain, optionally ending in ``view``: the chance that a
        rental is ever viewed, ignoring the end of the period. Each chance is
        that of an event of the step after reaching the step before, as
        :func:`journeys.funnel` counts them per session.

        Returns
        -------
        pandas.DataFrame
            ``step``, ``conversion`` (the product of the step conversions) and
            ``step_conversion`` (the chance of reaching the step from the one
            before, 1 for the first), the columns of :func:`journeys.funnel` in
            its order.
        """
        steps = list(steps)
        if not steps or steps[0] != "pageview":
            raise ValueError(f"a session funnel starts with 'pageview', got {steps}.")
        states = list(CHAIN_STATES)
        n = len(states)
        chain = self._page_chain()
        at = np.zeros(2 * n)
        at[states.index("pageview")] = 1.0

        chances = [1.0]
        for before, step in zip(steps, steps[1:], strict=False):
            if step == "view":
                if before != "transaction":
                    raise ValueError(f"'view' must follow 'transaction' in steps, got {steps}.")
                chances.append(self.config.view_probability)
                continue
            if before == "view":
                raise ValueError(f"'view' must be the last step, got {steps}.")
            if step not in CHAIN_STATES:
                raise ValueError(f"{step!r} is not an event type of the chain {CHAIN_STATES}.")
            if step == before:
                chances.append(1.0)
                continue
            # Where the chain first enters the step's visible states from where
            # it is now: (I - Q')^-1 R, Q' the moves that avoid them.
            k = states.index(step)
            targets = [k] if step == "transaction" else [k, k + n]
            avoid = chain.copy()
            avoid[:, targets] = 0.0
            entry = np.linalg.solve(np.eye(2 * n) - avoid, chain[:, targets])
            reached = at @ entry
            total = float(reached.sum())
            chances.append(total)
            at = np.zeros(2 * n)
            if total > 0:
                at[targets] = reached / total
        # In the order of journeys.funnel's columns, so the two sit side by side.
        return pd.DataFrame(
            {"step": steps, "conversion": np.cumprod(chances), "step_conversion": chances}
        )

    def session_events(self) -> pd.Series:
        """Expected events of each type in one session (the silent second rentals left out).

        The expected visits of an absorbing chain from its start, the
        pageview row of ``(I - Q) ** -1``; their sum is the mean session length.
        """
        states = list(CHAIN_STATES)
        n = len(states)
        chain = self._page_chain()
        start = np.zeros(2 * n)
        start[states.index("pageview")] = 1.0
        visits = np.linalg.solve((np.eye(2 * n) - chain).T, start)
        visible = visits[:n] + visits[n:]
        visible[states.index("transaction")] = visits[states.index("transaction")]
        return pd.Series(visible, index=states, name="events")

    def scrolls_per_pageview(self, x: float) -> float:
        """``E[x ** K]``, K being the number of scroll events a pageview gets."""
        states = list(CHAIN_STATES)
        q = self.transition_matrix()[states].to_numpy()
        end = self.transition_matrix()["end"].to_numpy()
        pv, sc = states.index("pageview"), states.index("scroll")
        # g[s] = E[x ** (scrolls still to come)] at event s: the session ends,
        # or moves to a new pageview (stop counting), a scroll (one more) or
        # another event of the same page.
        step = q.copy()
        step[:, pv] = 0.0
        step[:, sc] *= x
        g = np.linalg.solve(np.eye(len(states)) - step, end + q[:, pv])
        return float(g[pv])

    def scroll_depth_cdf(self, depth: float) -> float:
        """``P(D < depth)`` for the depth D one scroll event reports (rounded to 0.1)."""
        config = self.config
        if depth <= 0:
            return 0.0
        if depth > 100:
            return 1.0
        # Rounded to 0.1, a Beta depth is below ``depth`` when it is below the
        # first multiple of 0.1 at or above ``depth``, less half a step.
        ceiling = math.ceil(round(depth * 10, 9)) / 10
        a, b = config.scroll_beta
        below = _beta_cdf(min(max((ceiling - 0.05) / 100, 0.0), 1.0), a, b)
        rest = 1 - config.scroll_zero_share - config.scroll_end_share
        return config.scroll_zero_share + rest * below

    def scroll_reach(self, thresholds: Sequence[float] = _SCROLL_THRESHOLDS) -> pd.DataFrame:
        """Share of pageviews whose deepest scroll reaches each threshold.

        A pageview's depth is the deepest of its scroll events, 0 without
        any, as :func:`journeys.scroll_depth` counts it.
        """
        shares = [
            1.0 if t <= 0 else 1 - self.scrolls_per_pageview(self.scroll_depth_cdf(t))
            for t in thresholds
        ]
        return pd.DataFrame({"threshold": list(thresholds), "share": shares})

    def lag_cdf(self, hours: float) -> float:
        """The chance that a viewed rental is viewed within ``hours`` hours of renting."""
        if hours < 1 / 3600:
            return 0.0
        z = (math.log(hours) - math.log(self.config.lag_median_hours)) / self.config.lag_sigma
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))

    def lag_quantile(self, q: float) -> float:
        """The lag in hours below which a share ``q`` of viewed rentals is viewed."""
        return self.config.lag_median_hours * math.exp(
            self.config.lag_sigma * math.sqrt(2) * _erfinv(2 * q - 1)
        )

    def rental_lag(self, *, seen_within_hours: float | None = None) -> pd.DataFrame:
        """The lag from rental to first view, as configured, in one row.

        Parameters
        ----------
        seen_within_hours : float, optional
            Count a view only when it comes within this many hours of its
            rental, as in data whose rentals all happened at least that long
            before the period's end. None for no limit.

        Returns
        -------
        pandas.DataFrame
            The columns of :func:`journeys.rental_lag_summary`:
            ``never_viewed_share``, ``median_lag_hours`` and ``p90_lag_hours``
            (of viewed rentals), ``viewed_within_24h_share``, and
            ``viewed_within_48h_share`` too (of all rentals).
        """
        p = self.config.view_probability
        limit = math.inf if seen_within_hours is None else float(seen_within_hours)
        if not limit > 0:
            raise ValueError(f"seen_within_hours must be above 0, got {seen_within_hours!r}.")
        seen = 1.0 if math.isinf(limit) else self.lag_cdf(limit)
        return pd.DataFrame(
            {
                "never_viewed_share": [1 - p * seen],
                "median_lag_hours": [self.lag_quantile(0.5 * seen)],
                "p90_lag_hours": [self.lag_quantile(0.9 * seen)],
                "viewed_within_24h_share": [p * self.lag_cdf(min(24, limit))],
                "viewed_within_48h_share": [p * self.lag_cdf(min(48, limit))],
            }
        )

    def to_dict(self) -> dict:
        """The model-implied truth and the config as plain data (for JSON).

        Holds ``config`` (as :meth:`SimulationConfig.to_dict`), ``session_funnel``
        (step to ``step_conversion``), ``rental_lag`` (the row of
        :meth:`rental_lag`), ``scroll_reach`` (threshold to share, thresholds
        as text), and ``rentals_refused``.
        """
        funnel = self.session_funnel()
        reach = self.scroll_reach()
        return {
            "config": self.config.to_dict(),
            "session_funnel": dict(zip(funnel["step"], funnel["step_conversion"], strict=True)),
            "rental_lag": {k: float(v) for k, v in self.rental_lag().iloc[0].items()},
            "scroll_reach": {
                f"{t:g}": s for t, s in zip(reach["threshold"], reach["share"], strict=True)
            },
            "rentals_refused": self.rentals_refused,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def summary(self) -> pd.DataFrame:
        """The main model-implied numbers, one per row, for a notebook."""
        funnel = self.session_funnel()
        lag = self.rental_lag().iloc[0]
        reach = self.scroll_reach()
        rows = [
            (f"session {s} given the step before", c)
            for s, c in zip(funnel["step"][1:], funnel["step_conversion"][1:], strict=True)
        ]
        rows += [(f"rental lag: {name}", float(value)) for name, value in lag.items()]
        rows += [
            (f"pageviews read to {t:g}%", s)
            for t, s in zip(reach["threshold"], reach["share"], strict=True)
        ]
        return pd.DataFrame(rows, columns=["quantity", "value"])


def _erfinv(y: float) -> float:
    """The inverse of math.erf, by Newton steps from a good start (exact to 1e-12)."""
    if not -1 < y < 1:
        raise ValueError(f"erfinv needs -1 < y < 1, got {y}.")
    a = 0.147
    ln = math.log(1 - y * y)
    first = 2 / (math.pi * a) + ln / 2
    x = math.copysign(math.sqrt(math.sqrt(first * first - ln / a) - first), y)
    for _ in range(4):
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def _beta_cdf(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The fraction converges fast for x below the mean; use the symmetry above it.
    if x > (a + 1) / (a + b + 2):
        return 1 - _beta_cdf(1 - x, b, a)
    return math.exp(log_front) * _beta_fraction(x, a, b) / a


def _beta_fraction(x, a, b, tiny=1e-300):
    """Lentz's evaluation of the continued fraction of the incomplete beta function."""
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return result
