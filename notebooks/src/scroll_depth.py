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

import pandas as pd

import journeys as jy

db = jy.connect_or_start(database="scroll_depth")

# %% [markdown]
# ## The data
#
# Two thousand simulated users over 28 days, seeded so that every run gives the same events.

# %%
start, stop = "2024-05-01", "2024-05-29"
events, truth = jy.generate(users=2000, start=start, days=28, seed=3, return_truth=True)
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
# More than half of the pageviews never reach a quarter of the page: the largest drop-off by
# far is the first, from visitors who move on without scrolling far. After that the page
# loses about a tenth of its pageviews per quarter read, and only one in ten reaches the end:
# whatever sits at the bottom of the page is seen by few.
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
# The generator's model gives each pageview a random number of scroll events and each scroll
# a depth: none with a small chance, the whole page with another, and otherwise a depth from a
# Beta distribution. From those settings `truth.scroll_reach` computes the share of pageviews
# whose deepest scroll reaches each mark.

# %%
expected = truth.scroll_reach(marks)["share"].to_numpy()
comparison = pd.DataFrame(
    {"truth": expected, "measured": reach["share"].to_numpy()}, index=pd.Index(marks, name="mark")
)
comparison["difference"] = comparison["measured"] - comparison["truth"]
comparison.round(3)

# %% [markdown]
# ## What it means
#
# - More than half of the pageviews end before a quarter of the page; one in ten reaches its
#   end.
# - After the first quarter readers leave steadily, with no single point where they stop.
# - The device makes no difference here. The measured curve is within half a point of the
#   model's at every mark.
#
# Finally we close the connection, which also stops the throwaway server.

# %%
db.close()
