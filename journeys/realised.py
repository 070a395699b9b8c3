"""The tables of what a simulation made, for its :class:`journeys.GroundTruth`.

From the blocks of a :class:`journeys.simulation.World`: one row per
simulated user (with the Faker name and the drawn pace, arrival and churn),
per session (first and last event), per rental (and its view, if seen in the
period) and per movie of the catalog.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeys.simulation import World
from journeys.truth import GroundTruth

__all__ = ["realised_truth"]


def realised_truth(world: World, blocks: list[dict]) -> GroundTruth:
    """The :class:`GroundTruth` of ``blocks``, with tables of what happened."""
    config, catalog = world.config, world.catalog
    people = (
        {name: _concat([b["people"][name] for b in blocks], None) for name in blocks[0]["people"]}
        if blocks
        else None
    )
    offsets = np.cumsum([0] + [len(b["people"]["number"]) for b in blocks])

    if people is None:
        users = pd.DataFrame(columns=_USER_COLUMNS)
    else:
        churn = people["churn_ns"]
        users = pd.DataFrame(
            {
                "user_id": pd.array(people["id"], dtype="string"),
                "name": pd.array(people["name"], dtype="string"),
                "location": np.array(list(config.locations), dtype=object)[people["place"]],
                "device_type": np.array(list(config.device_mix), dtype=object)[people["device"]],
                "referral_source": np.array(list(config.referral_mix), dtype=object)[
                    people["referral"]
                ],
                "sessions_per_day": people["sessions_per_day"],
                "mean_event_gap_seconds": people["mean_gap_s"],
                "arrival": _utc(people["arrival_ns"]),
                "churn": _utc(np.where(churn < world.end_ns, churn, world.start_ns)).where(
                    churn < world.end_ns
                ),
            }
        )

    sessions, rentals = [], []
    for b, off in zip(blocks, offsets, strict=False):
        ev = b["events"]
        inside = ev["session"] >= 0
        s, t, u = ev["session"][inside], ev["time"][inside], ev["user"][inside]
        if len(s):
            order = np.lexsort((t, s))
            s, t, u = s[order], t[order], u[order]
            head = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
            tail = np.append(head[1:], len(s)) - 1
            sessions.append(
                pd.DataFrame(
                    {
                        "user": u[head] + off,
                        "start": t[head],
                        "end": t[tail],
                        "events": tail - head + 1,
                    }
                )
            )
        r = b["rentals"]
        rentals.append(pd.DataFrame({**r, "user": r["user"] + off}))
    ids = np.concatenate([b["people"]["id"] for b in blocks]) if blocks else np.array([])

    session_table = _table(sessions, ["user", "start", "end", "events"])
    session_table = pd.DataFrame(
        {
            "user_id": pd.array(ids[session_table["user"].to_numpy(int)], dtype="string"),
            "start": _utc(session_table["start"].to_numpy(np.int64)),
            "end": _utc(session_table["end"].to_numpy(np.int64)),
            "events": session_table["events"].to_numpy(np.int64),
        }
    ).sort_values(["start", "user_id"], kind="stable", ignore_index=True)
    rent = _table(rentals, ["user", "content", "rental_ns", "view_ns", "lag", "will_view"])
    viewed = rent["view_ns"].to_numpy(np.int64) >= 0
    rental_table = pd.DataFrame(
        {
            "user_id": pd.array(ids[rent["user"].to_numpy(int)], dtype="string"),
            "content_id": pd.array(catalog.ids[rent["content"].to_numpy(int)], dtype="string"),
            "rental_time": _utc(rent["rental_ns"].to_numpy(np.int64)),
            "view_time": _utc(np.where(viewed, rent["view_ns"], 0)).where(viewed),
            "lag_seconds": pd.arrays.IntegerArray(rent["lag"].to_numpy(np.int64), ~viewed),
            "will_view": rent["will_view"].to_numpy(bool),
        }
    ).sort_values(["rental_time", "user_id"], kind="stable", ignore_index=True)
    if people is not None:
        counts = session_table["user_id"].value_counts()
        users["sessions"] = users["user_id"].map(counts).fillna(0).astype(np.int64)

    catalog_table = pd.DataFrame(
        {
            "content_id": pd.array(catalog.ids, dtype="string"),
            "popularity_rank": catalog.rank,
            "weight": catalog.weights,
            "rental_popularity": catalog.popularity,
            "price": catalog.price,
        }
    )
    return GroundTruth(
        config=config,
        users=users,
        sessions=session_table,
        rentals=rental_table,
        catalog=catalog_table,
        rentals_refused=sum(b["refused"] for b in blocks),
    )


_USER_COLUMNS = [
    "user_id",
    "name",
    "location",
    "device_type",
    "referral_source",
    "sessions_per_day",
    "mean_event_gap_seconds",
    "arrival",
    "churn",
    "sessions",
]


def _utc(ns):
    """UTC datetimes (nanoseconds) of int64 nanoseconds since the epoch."""
    return pd.to_datetime(np.asarray(ns, dtype=np.int64), unit="ns", utc=True)


def _table(parts, columns):
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: np.array([], dtype=np.int64) for c in columns})
    return pd.concat(parts, ignore_index=True)


def _concat(parts, dtype):
    if not parts:
        return np.array([], dtype=dtype)
    return np.concatenate(parts)
