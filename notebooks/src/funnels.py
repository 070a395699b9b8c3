# Source of funnels.ipynb; `python notebooks/build.py funnels` makes and runs it.

# %% [markdown]
# # Funnels: from a first pageview to watching a rented movie
#
# **The question.** Of the people who come to the site, how many look around, rent a movie
# and then watch it, and where do the others stop? Does the answer depend on the device they
# use?
#
# We simulate four weeks of visitors with a known model, store their events in InfluxDB, read
# them back as an analyst would, and count the funnel. Because the data is simulated we can
# also say how close the counts come to the truth the generator worked from.
#
# The notebook uses the InfluxDB named by `INFLUXDB_URL` (and `INFLUXDB_TOKEN`) when that is
# set, writing into its database `funnels`; otherwise it starts a throwaway server of its own
# and stops it at the end.

# %%
import pandas as pd

import journeys as jy
from journeys.generate import STEP_PROBABILITIES

db = jy.connect_or_start(database="funnels")

# %% [markdown]
# ## The data
#
# Two thousand simulated users over 28 days, seeded so that every run gives the same events.

# %%
start, stop = "2024-05-01", "2024-05-29"
events = jy.generate(users=2000, start=start, days=28, seed=11)
print(f"{len(events):,} events from {events['user_id'].nunique():,} users")

# %% [markdown]
# Every event is one row, indexed by its time in UTC, with the columns of the events schema in
# their order (`jy.COLUMNS`). A blank cell is a value the event does not have: a pageview has no
# price, a rental no scroll depth.

# %%
columns = [column.name for column in jy.COLUMNS]
first = events[columns].head(10)
first.astype(object).where(first.notna(), "")

# %% [markdown]
# ## Into InfluxDB and back
#
# `write` checks every row against the schema before sending it; the report says what
# happened to each. Then we read the period back with `query`, which is what an analysis of
# production data starts from.

# %%
report = db.write(events)
print(f"written {report.written:,} of {report.events:,}; rejected {len(report.rejected)}")

back = db.query(start, stop)
print(f"read back {len(back):,} events; identical: {back.equals(jy.validate(events))}")

# %% [markdown]
# ## The funnel
#
# A user enters with their first pageview. They reach the next step with their first event of
# that type at or after the step before: an interaction (a search, a click or a filter), a
# rental, and finally a view.

# %%
steps = ["pageview", "interaction", "transaction", "view"]
table = jy.funnel(back, steps)
table.round(3)

# %%
ax = jy.plot_funnel(table)

# %% [markdown]
# Nearly everyone interacts with the site at some point in the four weeks. The big loss is
# between interacting and renting: only a little over half of the visitors rent anything.
# Of those who rent, most go on to watch.
#
# Four weeks is a long time to be in a funnel. Limiting each user to seven days from their
# first pageview asks a stricter question, how many convert within their first week:

# %%
week = jy.funnel(back, steps, window="7D")
week.round(3)

# %% [markdown]
# ## By device
#
# Does the device make a difference? We count the funnel apart for each device, and put the
# shares side by side.

# %%
by_device = pd.concat(
    {device: jy.funnel(group, steps) for device, group in back.groupby("device_type")},
    names=["device_type"],
).reset_index(level=0)
shares = by_device.pivot(index="device_type", columns="step", values="conversion")[steps]
shares.insert(0, "users", by_device.groupby("device_type")["entered"].max())
shares.sort_values("users", ascending=False).round(3)

# %% [markdown]
# The devices differ by a few points at most, and the smaller groups (tablet and TV users are
# a tenth and a twentieth of the users) differ the most, which is what chance alone does to
# small groups. Nothing here says that one device converts better.

# %% [markdown]
# ## How close to the truth?
#
# The generator rents in a session with a fixed chance and views a rental with a fixed chance.
# A view step counted from rentals should therefore come out close to that chance, a little
# above it, because a user's first view after their first rental may answer a later rental.

# %%
check = pd.DataFrame(
    {
        "truth": [STEP_PROBABILITIES["view"]],
        "measured": [table.loc[table["step"] == "view", "step_conversion"].item()],
    },
    index=["rentals viewed"],
)
check.round(3)

# %% [markdown]
# ## What it means
#
# - The site loses its visitors between interest and rental, not before: almost everybody
#   interacts, about half rent.
# - Renters mostly watch; the view step is within a few points of the generator's rate.
# - Device makes no visible difference at this size.
#
# Finally we close the connection, which also stops the throwaway server.

# %%
db.close()
