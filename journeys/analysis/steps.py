"""Funnel steps: an event type, optionally narrowed to some values of other columns.

A step is written three ways, whichever reads best where it is used::

    "pageview"                                            # every pageview
    {"event_type": "interaction", "interaction_type": "search"}
    jy.Step("interaction", interaction_type="search")     # the same step
    jy.Step("interaction", interaction_type=["search", "filter"], label="look")

:func:`as_step` turns any of them into a :class:`Step`. A value given as a
list, tuple or set means any of those values; a missing value never matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from journeys.analysis.events import CodedColumns
from journeys.errors import SchemaError

__all__ = ["Step", "StepLike", "as_step"]


class Step:
    """One step of a funnel: events of one type, optionally narrowed by column values.

    Parameters
    ----------
    event_type : str
        The ``event_type`` of the step's events.
    label : str, optional
        The step's name in results and plots; by default the event type
        followed by the narrowing values, as in ``"interaction (interaction_type=search)"``.
    **where
        Columns and the values the step's events must hold in them: one value,
        or a list, tuple or set of values of which any will do.

    Examples
    --------
    >>> Step("interaction", interaction_type="search")
    Step('interaction', interaction_type='search')
    >>> str(Step("transaction", device_type=["tv", "tablet"]))
    'transaction (device_type=tv|tablet)'
    """

    __slots__ = ("event_type", "where", "_label")

    def __init__(self, event_type: str, /, *, label: str | None = None, **where: Any) -> None:
        if not isinstance(event_type, str) or not event_type:
            raise ValueError(f"a step needs an event type as a non-empty str, got {event_type!r}.")
        if "event_type" in where:
            raise ValueError("give a step's event type once, as its first argument.")
        self.event_type = event_type
        self.where = {column: _values(column, value) for column, value in where.items()}
        self._label = label

    @property
    def label(self) -> str:
        """The step's name in results and plots."""
        if self._label is not None:
            return self._label
        if not self.where:
            return self.event_type
        narrowed = ", ".join(
            f"{column}={'|'.join(map(str, values))}" for column, values in self.where.items()
        )
        return f"{self.event_type} ({narrowed})"

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the step looks at."""
        return ("event_type", *self.where)

    def matches(self, events: pd.DataFrame, coded: CodedColumns | None = None) -> np.ndarray:
        """Which rows of ``events`` are events of this step, as a bool array.

        ``coded``, the columns of ``events`` as integer codes, makes matching
        many steps quicker.

        Raises
        ------
        SchemaError
            When ``events`` lacks a column the step looks at.
        """
        missing = [c for c in self.columns if c not in events.columns]
        if missing:
            raise SchemaError(
                f"the step {self.label!r} looks at the column(s) {missing}, which the frame "
                f"lacks; it has {list(events.columns)}."
            )
        if coded is None:
            coded = CodedColumns(events)
        found = coded.isin("event_type", (self.event_type,))
        for column, values in self.where.items():
            found = found & coded.isin(column, values)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        mine = (self.event_type, self.where, self.label)
        return mine == (other.event_type, other.where, other.label)

    def __hash__(self) -> int:
        return hash((self.event_type, tuple(self.where.items()), self.label))

    def __repr__(self) -> str:
        parts = [repr(self.event_type)]
        for column, values in self.where.items():
            shown = values[0] if len(values) == 1 else list(values)
            parts.append(f"{column}={shown!r}")
        if self._label is not None:
            parts.append(f"label={self._label!r}")
        return f"Step({', '.join(parts)})"

    def __str__(self) -> str:
        return self.label


StepLike = str | Mapping[str, Any] | Step


def as_step(step: StepLike) -> Step:
    """The :class:`Step` that ``step`` (a str, a mapping or a Step) describes.

    Raises
    ------
    ValueError
        For a mapping without ``event_type``, or anything else that is not a step.
    """
    if isinstance(step, Step):
        return step
    if isinstance(step, str):
        return Step(step)
    if isinstance(step, Mapping):
        where = dict(step)
        if "event_type" not in where:
            raise ValueError(
                f"a step given as a mapping needs an 'event_type' key, got {sorted(where)}."
            )
        return Step(where.pop("event_type"), **where)
    raise ValueError(
        f"a step is an event type (str), a mapping with 'event_type' or a journeys.Step, "
        f"got {step!r}."
    )


def _values(column, value):
    """The values a step accepts in ``column``, as a tuple."""
    if isinstance(value, set | frozenset):
        values = tuple(sorted(value, key=str))
    elif isinstance(value, list | tuple):
        values = tuple(value)
    else:
        values = (value,)
    if not values:
        raise ValueError(f"a step narrowed by {column} needs at least one value, got none.")
    return values
