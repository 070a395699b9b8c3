# Source of funnels.ipynb; `python notebooks/build.py funnels` makes and runs it.

# %% [markdown]
# # Funnels: from a first pageview to watching a rented movie
#
# **The question.** Of the people who come to the site, how many look around, rent a movie
# and then watch it? Where do the others stop, how long does each step take, and does any of
# it depend on the device people use or on where they came from?
#
# We simulate four weeks of visitors, store their events in InfluxDB, read them back as an
# analyst would read production data, and count the funnel. Because the data is simulated, the
# generator also hands us the truth it worked from, and we can say how close the counts come.
#
# The notebook uses the InfluxDB named by `INFLUXDB_URL` (and `INFLUXDB_TOKEN`) when that is
# set, writing into its database `funnels`; otherwise it starts a throwaway server of its own
# and stops it at the end.

# %%
import pandas as pd

import journeys as jy

db = jy.connect_or_start(database="funnels")

# %% [markdown]
# ## Four weeks of visitors
#
# Fifteen hundred simulated users in May 2024, seeded so that every run gives the same events.
# With `return_truth=True` the generator also returns what it simulated: its settings, and
# the users, sessions and rentals it made.

# %%
start, stop = "2024-05-01", "2024-05-29"
events, truth = jy.generate(users=1500, start=start, days=28, seed=11, return_truth=True)
report = db.write(events)
print(f"simulated {len(truth.users):,} users and {len(truth.sessions):,} sessions")
print(f"written {report.written:,} events of {report.events:,}; rejected {len(report.rejected)}")

# %% [markdown]
# From here on we work only with what the database gives back, as we would with production
# data. The first events read back are below, with the columns of the events schema in their
# order (`jy.COLUMNS`); a blank cell is a value the event does not have, such as the price of a
# pageview. The last two, `event_id` and `received_at`, are set by the collector (`journeys
# collect`) on events from real pages, so they are blank for simulated ones.

# %%
back = db.query(start, stop)
print(f"read back {len(back):,} events; the same as written: {back.equals(jy.validate(events))}")

columns = [column.name for column in jy.COLUMNS]
first = back[columns].head(10)
first.astype(object).where(first.notna(), "")

# %% [markdown]
# ## The funnel of the month
#
# A user enters with their first pageview. They reach each later step with their first event
# of that type at or after the step before: an interaction (a search, a click or a filter), a
# rental, and a view.

# %%
steps = ["pageview", "interaction", "transaction", "view"]
table = jy.funnel(back, steps)
table[["step", "entered", "conversion", "step_conversion", "dropped"]].round(3)

# %%
ax = jy.plot_funnel(table)

# %% [markdown]
# Nearly nine in ten visitors interact with the site at some point in the month, and the
# biggest loss is the step after: a quarter of those who interact never rent. Almost everyone
# who rents goes on to watch something.
#
# ## How long each step takes
#
# The funnel also times each step from the one before, over the users who made it. The
# median says what is typical; the 90th percentile how long the slow tenth takes.

# %%
timing = table[["step", "median_time_from_previous", "p90_time_from_previous"]].iloc[1:]
timing.set_index("step").apply(lambda column: column.dt.round("min"))

# %% [markdown]
# The first interaction comes within minutes, but the typical visitor takes more than a day to
# rent, and the slow tenth more than a week: renting is a decision made over several visits.
# The view follows the rental within hours (the rental-lag notebook looks at that closely).
#
# ## Who stops before renting?
#
# `funnel_dropoffs` lists the users who reached a step and not the next. Taking those who
# interacted but never rented, and joining the generator's table of users, we can see how
# often they came compared with the users who did rent.

# %%
attempts = jy.funnel_users(back, steps)
stopped = jy.funnel_dropoffs(back, steps, after=2)
visits = truth.users.set_index("user_id")["sessions"]
rented = attempts.loc[attempts["steps_reached"] >= 3, "user_id"]
pd.DataFrame(
    {
        "users": [len(stopped), len(rented)],
        "median_sessions": [visits[stopped["user_id"]].median(), visits[rented].median()],
    },
    index=["interacted, never rented", "rented"],
)

# %% [markdown]
# Those who stop before renting came far less often. The month's funnel mixes frequent and
# occasional visitors, and much of the "loss" is people who simply did not come back.
#
# ## By device, and by where people came from
#
# `breakdown` counts the funnel apart for each value of a column.

# %%
by_device = jy.funnel(back, steps, breakdown="device_type")
shares = by_device.pivot(index="device_type", columns="step", values="conversion")[steps]
shares.insert(0, "users", by_device.groupby("device_type")["entered"].max())
shares.sort_values("users", ascending=False).round(3)

# %%
ax = jy.plot_funnel(by_device)

# %% [markdown]
# The devices differ by up to nine points at the last step, and the smallest groups, tablet
# and TV with under 150 users each, differ most: with so few users a share is known only to
# within about four points either way, so a gap of two such errors is what chance gives. The
# generator gives every device the same behaviour, so here it is noise, and in production data
# it would take more users before it meant anything.
#
# Referral sources are many and some are small. With `min_share=0.08` the sources with fewer
# than 8 % of the users are counted together as "other":

# %%
by_referral = jy.funnel(back, steps, breakdown="referral_source", min_share=0.08)
by_referral.pivot(index="referral_source", columns="step", values="conversion")[steps].round(3)

# %% [markdown]
# Facebook and Email look a few points better at renting, but they hold a few hundred users
# each, and the same caution applies.

# %% [markdown]
# ## Does searching lead to renting?
#
# A step can be narrowed to some of its events. Here the second step is a *search*, not any
# interaction, and we count sessions (runs of a user's events with no pause over 30 minutes)
# rather than users, asking: in how many visits does a search come before a rental?

# %%
search = jy.Step("interaction", interaction_type="search", label="search")
click = jy.Step("interaction", interaction_type="click", label="click")
narrowed = pd.concat(
    {
        step.label: jy.funnel(back, ["pageview", step, "transaction"], count="session")
        for step in (search, click)
    },
    names=["interaction"],
).reset_index(level=0)
narrowed.pivot(index="interaction", columns="step_number", values="entered").rename(
    columns={1: "sessions", 2: "interacted", 3: "then rented"}
)

# %% [markdown]
# A third of the sessions have a search, and about a quarter of those go on to a rental. Clicks
# are rarer, and convert about as well: in this model the kind of interaction does not matter,
# only that there was one.
#
# ## How close to the truth?
#
# The generator moves each session from event to event with fixed chances (a Markov chain),
# so the chance that a session which reached one step goes on to the next follows from its
# settings exactly: `truth.session_funnel` computes it. The session funnel counted from the
# database should come close.

# %%
session_steps = ["pageview", "interaction", "transaction"]
measured = jy.funnel(back, session_steps, count="session").set_index("step")
expected = truth.session_funnel(session_steps).set_index("step")
check = pd.DataFrame(
    {
        "sessions": measured["entered"],
        "truth": expected["step_conversion"],
        "measured": measured["step_conversion"],
    }
)
check["difference"] = check["measured"] - check["truth"]
check.round(3)

# %% [markdown]
# Both chances are within half a point of the truth, about what chance alone gives with this
# many sessions.
#
# The number of sessions is worth a look too. The analysis starts a new session after a pause
# of more than 30 minutes, and the generator always leaves more than 30 minutes between a
# user's sessions, so the sessions the analysis finds are the ones the generator made; the
# funnel enters all of them but the few without a pageview:

# %%
made = truth.sessions.sort_values(["user_id", "start"])
pause = made.groupby("user_id")["start"].shift(-1) - made["end"]
print(f"sessions made by the generator: {len(made):,}")
print(f"shortest pause between two sessions of a user: {pause.min()}")
print(f"sessions with a pageview found by the analysis: {measured.loc['pageview', 'entered']:,}")

# %% [markdown]
# ## What it means
#
# - The site loses people between interest and rental, not before: almost everyone interacts,
#   a quarter of them never rent, and those who stop are mostly occasional visitors.
# - Renting takes time, a day for the typical user and more than a week for the slowest tenth,
#   so a funnel over a short window undercounts it.
# - Device and referral source make no difference that this many users can show.
# - Counted by session, the funnel matches the generator's chances within half a point.
#
# Finally we close the connection, which also stops the throwaway server.

# %%
db.close()
