"""Events frames from simulated blocks: codes become the schema's typed columns.

Strings are built by pyarrow from a code per event into a small vocabulary
(``take``), which is an order of magnitude faster than going through pandas
categoricals; numbers become nullable pandas arrays with a mask. The columns
the collector sets (``event_id``, ``received_at``) are empty. The frame is
sorted by time, ties between users by user number, so that it does not
depend on how the users were grouped into chunks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from journeys.schema import COLUMNS, dtypes
from journeys.simulation import (
    BUTTON,
    EVENT_NAMES,
    INTERACTION,
    SCROLL,
    TRANSACTION,
    VIEW,
    World,
)

__all__ = ["events_frame"]


def events_frame(world: World, blocks: list[dict]) -> pd.DataFrame:
    """The events frame of ``blocks``: every column of the schema, sorted by time."""
    config, catalog = world.config, world.catalog
    offsets = np.cumsum([0] + [len(b["people"]["number"]) for b in blocks])
    people = {
        name: _concat([b["people"][name] for b in blocks], dtype)
        for name, dtype in (
            ("id", object),
            ("place", np.int64),
            ("device", np.int64),
            ("referral", np.int64),
            ("number", np.int64),
        )
    }
    ev = {
        name: _concat([b["events"][name] for b in blocks], dtype)
        for name, dtype in (
            ("time", np.int64),
            ("state", np.int64),
            ("content", np.int64),
            ("detail", np.int64),
            ("depth", float),
            ("lag", np.int64),
            ("duration", np.int64),
        )
    }
    ev["user"] = _concat(
        [b["events"]["user"] + off for b, off in zip(blocks, offsets, strict=False)], np.int64
    )
    order = np.lexsort((people["number"][ev["user"]], ev["time"]))
    ev = {name: values[order] for name, values in ev.items()}
    state, user, content, detail = ev["state"], ev["user"], ev["content"], ev["detail"]
    n_movies = len(catalog.ids)

    interactions = list(config.interaction_mix)
    is_interaction = state == INTERACTION
    no_movie = np.zeros(len(state), dtype=bool)
    page = content.copy()
    for name, where in (("search", 3 * n_movies), ("filter", 3 * n_movies + 1)):
        if name in interactions:
            hit = is_interaction & (detail == interactions.index(name))
            no_movie |= hit
            page[hit] = where
    page[state == TRANSACTION] += n_movies
    page[state == VIEW] += 2 * n_movies
    site = config.site
    pages = [f"{site}/movie/{m}" for m in catalog.ids]
    pages += [f"{site}/movie/{m}/rent" for m in catalog.ids]
    pages += [f"{site}/watch/{m}" for m in catalog.ids]
    pages += [f"{site}/search", f"{site}/browse"]

    is_rent, is_view = state == TRANSACTION, state == VIEW
    user_place = people["place"][user]
    columns = {
        "event_type": _strings(state, EVENT_NAMES),
        "content_id": _strings(np.where(no_movie, -1, content), catalog.ids),
        "user_id": _strings(user, people["id"]),
        "device_type": _strings(people["device"][user], list(config.device_mix)),
        "location": _strings(user_place, list(config.locations)),
        "referral_source": _strings(people["referral"][user], list(config.referral_mix)),
        "page_url": _strings(page, pages),
        "scroll_depth": _floats(np.nan_to_num(ev["depth"]), state != SCROLL),
        "interaction_type": _strings(np.where(is_interaction, detail, -1), interactions),
        "purchase_value": _floats(catalog.price[content], ~is_rent),
        "rental_duration": _integers(ev["duration"], ~is_rent),
        "rental_popularity": _integers(catalog.popularity[content], ~is_rent),
        "time_lag_from_transaction": _integers(ev["lag"], ~is_view),
        "button_clicked": _strings(np.where(state == BUTTON, detail, -1), list(config.button_mix)),
        # Only the collector knows a sender's event id and a time of receipt.
        "event_id": _strings(np.full(len(state), -1), []),
        "received_at": _integers(np.zeros(len(state)), np.ones(len(state), bool)),
    }
    index = pd.DatetimeIndex(ev["time"].view("datetime64[ns]"), name="time").tz_localize("UTC")
    frame = pd.DataFrame(columns, index=index)
    return frame.astype(dtypes())[[c.name for c in COLUMNS]]


def _concat(parts, dtype):
    if not parts:
        return np.array([], dtype=dtype)
    return np.concatenate(parts)


def _strings(codes, vocabulary):
    """A string array of ``vocabulary[codes]``, with NA where a code is -1."""
    words = pa.array([str(w) for w in vocabulary], type=pa.large_string())
    codes = np.asarray(codes)
    missing = codes < 0
    indices = pa.array(codes.astype(np.int32), mask=missing if missing.any() else None)
    return pd.arrays.ArrowStringArray(words.take(indices))


def _floats(values, missing):
    return pd.arrays.FloatingArray(np.asarray(values, dtype=float), np.asarray(missing, bool))


def _integers(values, missing):
    return pd.arrays.IntegerArray(np.asarray(values, dtype=np.int64), np.asarray(missing, bool))
