# Source of scroll_depth.ipynb; `python notebooks/build.py scroll_depth` makes and runs it.

# %% [markdown]
# # Scroll depth: how far down do people read a movie's page?
#
# **The question.** A movie page puts the trailer on top and the cast, reviews and "more like
# this" further down. How many visitors ever see those lower parts? We measure the share of
# pageviews that reach 25, 50, 75, 90 and 100 percent of the page, where readers are lost
# between those marks, and whether it differs by device.
#
# We simulate four weeks of visitors, store their events in InfluxDB, read back the pageviews
# and scrolls, and compare the reach curve with the one the generator's model implies.
#
# The notebook uses the InfluxDB named by `INFLUXDB_URL` (and `INFLUXDB_TOKEN`) when that is
# set, writing into its database `scroll_depth`; otherwise it starts a throwaway server of its
# own and stops it at the end.

# %%
import math

import numpy as np
import pandas as pd

import journeys as jy
from journeys.generate import SCROLL_BETA, SCROLL_TO_END, STEP_PROBABILITIES

db = jy.connect_or_start(database="scroll_depth")

# %% [markdown]
# ## The data
#
# Two thousand simulated users over 28 days, seeded so that every run gives the same events.

# %%
start, stop = "2024-05-01", "2024-05-29"
events = jy.generate(users=2000, start=start, days=28, seed=3)
print(f"{len(events):,} events from {events['user_id'].nunique():,} users")

# %% [markdown]
# The first events, with the columns of the events schema in their order (`jy.COLUMNS`). A blank
# cell is a value the event does not have; `scroll_depth` is set on scroll events only.

# %%
columns = [column.name for column in jy.COLUMNS]
first = events[columns].head(10)
first.astype(object).where(first.notna(), "")

# %% [markdown]
# ## Into InfluxDB, and back only what we need
#
# We write everything, then read back only pageviews and scrolls, which is all the reach
# curve needs.

# %%
report = db.write(events)
print(f"written {report.written:,} of {report.events:,}; rejected {len(report.rejected)}")

back = db.query(start, stop, event_types=["pageview", "scroll"])
back["event_type"].value_counts()

# %% [markdown]
# ## The reach curve
#
# A scroll event belongs to the latest pageview of the same page by the same user; a
# pageview's depth is the deepest of its scrolls, and 0 when it had none. A pageview *reaches*
# a mark when its depth is at least that. The drop-off is the share of all pageviews lost
# between one mark and the next.

# %%
marks = [25, 50, 75, 90, 100]
reach = jy.scroll_depth(back, thresholds=marks)
reach["drop_off"] = -reach["share"].diff().fillna(reach["share"] - 1)
reach.round(3)

# %%
ax = jy.plot_scroll_depth(reach)

# %% [markdown]
# About four in ten pageviews never get to the first quarter of the page, most of them
# because the visitor did not scroll at all. From there readers are lost steadily, about a
# fifth of the pageviews per quarter, and one in ten reaches the very end: whatever sits at
# the bottom of the page is seen by few.
#
# ## By device

# %%
pageviews = back[back["event_type"] == "pageview"].groupby("device_type").size()
by_device = pd.DataFrame(
    {
        device: jy.scroll_depth(group, thresholds=marks).set_index("threshold")["share"]
        for device, group in back.groupby("device_type")
    }
).T
by_device.insert(0, "pageviews", pageviews)
by_device.rename_axis(index="device_type", columns="share reaching").round(3)

# %% [markdown]
# The four devices read equally far, within a point or two. A difference would show up here
# first as a different share at 25 percent (whether people scroll at all), so that is the row
# to watch in production data.
#
# ## How close to the truth?
#
# The generator gives a pageview one scroll with a fixed chance; that scroll reads the page to
# its end with a fixed chance, and otherwise stops at a depth drawn from a Beta distribution.
# The reach at mark *t* is then `chance of a scroll × (share to the end + rest × P(Beta ≥
# t))`, which we compute by integrating the Beta density.

# %%
a, b = SCROLL_BETA
x = np.linspace(0, 1, 200_001)
density = x ** (a - 1) * (1 - x) ** (b - 1) * math.gamma(a + b) / (math.gamma(a) * math.gamma(b))
cdf = np.concatenate([[0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(x))])
beyond = 1 - np.interp(np.array(marks) / 100 - 0.0005, x, cdf)  # depths are rounded to 0.1
beyond[-1] = 0  # only the scrolls to the end reach 100 percent
truth = STEP_PROBABILITIES["scroll"] * (SCROLL_TO_END + (1 - SCROLL_TO_END) * beyond)
comparison = pd.DataFrame(
    {"truth": truth, "measured": reach["share"].to_numpy()}, index=pd.Index(marks, name="mark")
)
comparison["difference"] = comparison["measured"] - comparison["truth"]
comparison.round(3)

# %% [markdown]
# ## What it means
#
# - Four pageviews in ten do not reach a quarter of the page; one in ten reaches its end.
# - The loss is even between the quarter marks: there is no single point where people stop.
# - The device makes no difference here. The measured curve is within a point of the model's.
#
# Finally we close the connection, which also stops the throwaway server.

# %%
db.close()
