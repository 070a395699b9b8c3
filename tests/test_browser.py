"""The browser snippet in headless Chromium, posting to a recording stand-in collector.

These tests check what the snippet sends and how: the events and their fields, the
request (key, content type, origin, no cookie), the transport (fetch with keepalive
while the page is visible, sendBeacon when it goes, fetch when sendBeacon is missing
or refuses), batching, retries with the same event ids, and that nothing is stored in
the browser unless asked. The page and the collector are two origins.

The last tests load the snippet from the real collector (``create_app`` under
uvicorn, writing to a throwaway InfluxDB) and find the events in InfluxDB: a whole
journey, the events sent as the page goes, a collector down at first and up later,
and an answer lost on the way back (the events are stored once).
"""

from __future__ import annotations

import time
import uuid

import pytest
from browser_harness import (
    CHROMIUM_ARGS,
    HIDE,
    JOURNEY,
    TRANSPORT_LOG,
    Site,
    drive_journey,
    free_port,
    page_html,
    serve,
    settle,
    wait_stored,
)
from helpers import stored
from playwright.sync_api import sync_playwright

KEY = "site-key-1"


# Module scope: playwright's sync API keeps an event loop running on this thread
# while it is open, and the tests of other files call asyncio.run.
@pytest.fixture(scope="module")
def playwright_driver(chromium_path):
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver, chromium_path):
    browser = playwright_driver.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile: no cookies, no storage."""
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def collector():
    with Site("127.0.0.1", record=True) as site:
        yield site


@pytest.fixture
def site():
    with Site("localhost") as site:
        yield site


def open_page(context, site, collector, *, path="/", init_script="", head="", **data):
    """Serve the test page with the snippet from ``collector`` and open it."""
    data = {"key": KEY, "flush_interval": 50, **data}
    site.pages[path.split("?")[0].split("#")[0]] = page_html(
        collector.url("/journeys.js"), head=head, **data
    )
    page = context.new_page()
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    page.add_init_script(TRANSPORT_LOG + init_script)
    page.goto(site.url(path))
    return page


def kinds(events):
    return [e["event_type"] for e in events]


def test_pageview_request_and_fields(context, site, collector):
    before = int(time.time() * 1000)
    open_page(context, site, collector, path="/movies?genre=drama#access_token=secret")

    [event] = collector.wait(lambda events: len(events) >= 1)
    after = int(time.time() * 1000)
    [request] = collector.requests
    assert request["query"] == {"key": [KEY]}
    assert request["headers"]["content-type"] == "text/plain;charset=UTF-8"
    assert request["headers"]["origin"] == site.origin
    assert "cookie" not in request["headers"]
    assert set(event) == {
        "event_type",
        "event_id",
        "time",
        "sent_at",
        "page_url",
        "device_type",
        "referral_source",
    }
    assert event["event_type"] == "pageview"
    assert event["page_url"] == site.url("/movies?genre=drama")
    assert event["device_type"] == "desktop"
    assert event["referral_source"] == "Direct"
    assert uuid.UUID(event["event_id"]).version == 4
    assert before <= event["time"] <= event["sent_at"] <= after


def test_journey_events(context, site, collector):
    page = open_page(context, site, collector)
    drive_journey(page)

    events = collector.wait(lambda events: len(events) >= len(JOURNEY))
    assert [
        (e["event_type"], {k: e[k] for k in fields})
        for e, (_, fields) in zip(events, JOURNEY, strict=True)
    ] == JOURNEY
    assert [e.get("user_id") for e in events] == [None] + ["user-17"] * (len(JOURNEY) - 1)
    assert len({e["event_id"] for e in events}) == len(JOURNEY)
    assert all(e["page_url"] == site.url("/") for e in events)
    assert page.evaluate("window.__sent.every(s => s.via === 'fetch' && s.keepalive)")


def test_nothing_stored_in_the_browser_by_default(context, site, collector):
    page = open_page(context, site, collector)
    drive_journey(page)
    collector.wait(lambda events: len(events) >= len(JOURNEY))

    assert context.cookies() == []
    stored = page.evaluate(
        "async () => [document.cookie, localStorage.length, sessionStorage.length,"
        " (await indexedDB.databases()).length]"
    )
    assert stored == ["", 0, 0, 0]


@pytest.mark.parametrize("persistence", ["localStorage", "cookie"])
def test_persistence_keeps_the_user_across_pages(context, site, collector, persistence):
    page = open_page(context, site, collector, persistence=persistence)
    collector.wait(lambda events: len(events) >= 1)
    page.evaluate("journeys.identify('user-5')")
    page.reload()

    events = collector.wait(lambda events: len(events) >= 2)
    assert kinds(events) == ["pageview", "pageview"]
    assert [e.get("user_id") for e in events] == [None, "user-5"]
    cookies = [c["name"] for c in context.cookies()]
    assert cookies == (["journeys"] if persistence == "cookie" else [])

    page.evaluate("journeys.reset()")
    page.reload()
    assert "user_id" not in collector.wait(lambda events: len(events) >= 3)[2]


def test_events_unsent_when_the_page_goes_are_sent_by_the_next(context, site, collector):
    """With localStorage persistence, what a failing collector did not take is kept."""
    collector.plan = [503, 503]  # the pageview, then the beacon as the page goes
    page = open_page(context, site, collector, persistence="localStorage")
    collector.wait(lambda events: len(events) >= 1)
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")
    page.goto(site.url("/other"))
    collector.wait(lambda events: len(events) >= 3)
    assert len(page.evaluate("JSON.parse(localStorage.getItem('journeys.unsent'))")) == 2

    page.goto(site.url("/"))
    events = collector.wait(lambda events: len(events) >= 6)
    assert kinds(events) == ["pageview", "pageview", "search", "pageview", "search", "pageview"]
    assert [e["event_id"] for e in events[3:5]] == [e["event_id"] for e in events[1:3]]
    assert page.evaluate("localStorage.getItem('journeys.unsent')") is None


def hidden_page(context, site, collector, init_script=""):
    """A page whose events wait (long interval, big batches) until it is hidden."""
    page = open_page(
        context, site, collector, init_script=init_script, flush_interval=60000, batch_size=100
    )
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")
    page.evaluate(HIDE)
    return page


def test_hidden_page_sends_by_beacon(context, site, collector):
    page = hidden_page(context, site, collector)

    events = collector.wait(lambda events: len(events) >= 2)
    assert kinds(events) == ["pageview", "search"]
    assert collector.requests[0]["headers"]["sec-fetch-mode"] == "no-cors"
    assert page.evaluate("window.__sent") == [
        {"via": "beacon", "url": collector.url(f"/events?key={KEY}"), "taken": True}
    ]


@pytest.mark.parametrize(
    "init_script",
    [
        "delete Navigator.prototype.sendBeacon;",
        "Navigator.prototype.sendBeacon = function () { return false; };",
    ],
    ids=["sendBeacon missing", "sendBeacon refuses"],
)
def test_fetch_keepalive_without_beacon(context, site, collector, init_script):
    page = hidden_page(context, site, collector, init_script)

    events = collector.wait(lambda events: len(events) >= 2)
    assert kinds(events) == ["pageview", "search"]
    assert collector.requests[0]["headers"]["sec-fetch-mode"] == "cors"
    sent = page.evaluate("window.__sent")
    assert sent[-1] == {
        "via": "fetch",
        "url": collector.url(f"/events?key={KEY}"),
        "keepalive": True,
    }


def test_hidden_page_keeps_what_fetch_failed_to_send(context, site, collector):
    """Without sendBeacon, a failure seen while the page is hidden is sent again."""
    collector.plan = [503]
    hidden_page(context, site, collector, "delete Navigator.prototype.sendBeacon;")

    collector.wait(lambda events: len(events) >= 4)
    first, second = collector.requests[0]["events"], collector.requests[1]["events"]
    assert kinds(first) == kinds(second) == ["pageview", "search"]
    assert [e["event_id"] for e in first] == [e["event_id"] for e in second]


def test_leaving_the_page_sends_what_waits(context, site, collector):
    page = open_page(context, site, collector, flush_interval=60000, batch_size=100)
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")
    page.click("#away")  # a tracked link to another page
    page.wait_for_url(site.url("/other"))

    events = collector.wait(lambda events: len(events) >= 3)
    assert kinds(events) == ["pageview", "search", "button_click"]
    assert events[2]["button_clicked"] == "other_page"
    assert [r["headers"]["sec-fetch-mode"] for r in collector.requests] == ["no-cors"]


def test_closing_the_page_sends_what_waits(context, site, collector):
    page = open_page(context, site, collector, flush_interval=60000, batch_size=100)
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")
    page.close(run_before_unload=True)

    assert kinds(collector.wait(lambda events: len(events) >= 2)) == ["pageview", "search"]


@pytest.mark.parametrize("failure", [503, 429, 500, "drop"])
def test_failed_request_is_sent_again_with_the_same_ids(context, site, collector, failure):
    collector.plan = [failure]
    page = open_page(context, site, collector)
    collector.wait(lambda events: len(events) >= 1)
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")

    collector.wait(lambda events: len(events) >= 3, timeout=15)
    first, second = collector.requests[0]["events"], collector.requests[1]["events"]
    assert kinds(first) == ["pageview"]
    assert second[0]["event_id"] == first[0]["event_id"]
    assert second[0]["time"] == first[0]["time"]
    assert second[0]["sent_at"] > first[0]["sent_at"]
    assert kinds(collector.events) == ["pageview", "pageview", "search"]


def test_too_large_batch_is_halved(context, site, collector):
    collector.plan = [413]
    page = open_page(context, site, collector, flush_interval=60000, batch_size=4)
    for n in range(3):
        page.evaluate(f"journeys.track('search', {{content_id: 'c{n}'}})")

    collector.wait(lambda events: len(events) >= 8)
    sizes = [len(r["events"]) for r in collector.requests]
    assert sizes == [4, 2, 2]
    ids = [e["event_id"] for e in collector.events]
    assert ids[4:] == ids[:4]


def test_refused_request_is_reported_not_repeated(context, site, collector):
    collector.plan = [401]
    page = open_page(context, site, collector, flush_interval=60000)

    assert page.evaluate("journeys.flush()") is True
    assert len(collector.requests) == 1
    assert any("1 events refused (401)" in m for m in page.console)


def test_events_waiting_for_a_collector_that_is_down_are_bounded(context, site):
    """Past 1000 waiting events the oldest go, and the console says how many."""
    page = open_page(context, site, site, endpoint=f"http://127.0.0.1:{free_port()}/events")
    page.wait_for_function("window.__sent.length >= 1")  # the pageview failed
    page.evaluate("for (let i = 0; i < 1005; i++) journeys.track('search')")

    dropped = [m for m in page.console if "oldest events dropped" in m]
    assert len(dropped) == 6
    assert page.evaluate("window.__sent.length") == 1


def test_batches_stay_small(context, site, collector):
    page = open_page(context, site, collector, flush_interval=60000, batch_size=3)
    page.evaluate("for (let i = 0; i < 7; i++) journeys.track('search', {content_id: 'c' + i})")

    events = collector.wait(lambda events: len(events) >= 8)
    assert [len(r["events"]) for r in collector.requests] == [3, 3, 2]
    assert kinds(events) == ["pageview"] + ["search"] * 7
    assert [e["content_id"] for e in events[1:]] == [f"c{i}" for i in range(7)]


def test_requests_stay_under_the_keepalive_quota(context, site, collector):
    page = open_page(context, site, collector, flush_interval=60000, batch_size=500)
    page.evaluate("journeys.set({location: 'x'.repeat(5000)})")
    page.evaluate("for (let i = 0; i < 30; i++) journeys.track('search')")
    assert page.evaluate("journeys.flush()") is True

    events = collector.wait(lambda events: len(events) >= 31)
    assert kinds(events) == ["pageview"] + ["search"] * 30
    assert len(collector.requests) > 2
    assert all(int(r["headers"]["content-length"]) < 60000 for r in collector.requests)


DEVICES = [
    ("Desktop Chrome", "desktop"),
    ("iPhone 13", "mobile"),
    ("Pixel 7", "mobile"),
    ("iPad Pro 11", "tablet"),
    ("Galaxy Tab S4", "tablet"),
]
TV_AGENT = (
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
)


@pytest.mark.parametrize(("device", "expected"), [*DEVICES, ("tv", "tv")])
def test_device_type(browser, playwright_driver, site, collector, device, expected):
    options = {"user_agent": TV_AGENT} if device == "tv" else playwright_driver.devices[device]
    context = browser.new_context(**options)
    try:
        open_page(context, site, collector)
        event = collector.wait(lambda events: len(events) >= 1)[0]
    finally:
        context.close()
    assert event["device_type"] == expected


@pytest.mark.parametrize(
    ("path", "referer", "expected"),
    [
        ("/?utm_source=newsletter&utm_medium=email", None, "newsletter"),
        ("/?utm_source=%0Aevil%0D%0A", None, "evil"),
        ("/", "https://www.google.com/search?q=movies", "Google"),
        ("/", "https://mail.google.com/mail/u/0/", "Email"),
        ("/", "https://t.co/abc", "Twitter"),
        ("/", "https://www.news.example.org/article", "news.example.org"),
        ("/", "SITE/other", None),
    ],
)
def test_referral_source(context, site, collector, path, referer, expected):
    site.pages["/"] = page_html(collector.url("/journeys.js"), key=KEY, flush_interval=50)
    page = context.new_page()
    page.goto(site.url(path), referer=referer and referer.replace("SITE", site.origin))

    [event] = collector.wait(lambda events: len(events) >= 1)
    assert event.get("referral_source") == expected
    assert page.evaluate("document.referrer") == (referer or "").replace("SITE", site.origin)


def test_long_page_url_is_cut_to_the_collector_limit(context, site, collector):
    open_page(context, site, collector, path="/?q=" + "a" * 5000)

    [event] = collector.wait(lambda events: len(events) >= 1)
    assert event["page_url"] == (site.url("/?q=") + "a" * 5000)[:4096]


def test_calls_before_loading_and_init_by_hand(context, site, collector):
    head = f"""<script>
      window.journeys = window.journeys || [];
      journeys.push(["identify", "user-9"]);
      journeys.push(["set", {{location: "Berlin"}}]);
      journeys.push(["track", "search", {{interaction_type: "search"}}]);
      journeys.push(["init", {{key: "by-hand", endpoint: "{collector.url("/events")}",
                              flushInterval: 50}}]);
    </script>"""
    site.pages["/"] = page_html(collector.url("/journeys.js"), head=head)
    page = context.new_page()
    page.goto(site.url("/"))

    events = collector.wait(lambda events: len(events) >= 2)
    assert kinds(events) == ["search", "pageview"]
    assert all(e["user_id"] == "user-9" and e["location"] == "Berlin" for e in events)
    assert collector.requests[0]["query"] == {"key": ["by-hand"]}


def test_single_page_app_navigation(context, site, collector):
    """A new path is a new pageview, whose short page is read to the bottom again."""
    page = open_page(context, site, collector, height=100)
    collector.wait(lambda events: len(events) >= 6)
    page.evaluate("history.pushState({}, '', '/movies/42')")
    collector.wait(lambda events: len(events) >= 12)
    page.evaluate("history.replaceState({}, '', '/movies/42?tab=cast')")
    page.evaluate("history.pushState({}, '', '/movies/43')")
    collector.wait(lambda events: len(events) >= 18)
    page.go_back()

    events = collector.wait(lambda events: len(events) >= 24)
    seen = [
        (e["event_type"], e.get("scroll_depth"), e["page_url"].removeprefix(site.origin))
        for e in events
    ]
    assert seen == [
        (kind, depth, url)
        for url in ("/", "/movies/42", "/movies/43", "/movies/42?tab=cast")
        for kind, depth in [("pageview", None)] + [("scroll", d) for d in (25, 50, 75, 90, 100)]
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"scroll": "50,100"},
            [("pageview", None), ("button_click", None), ("scroll", 50), ("scroll", 100)],
        ),
        ({"scroll": "false"}, [("pageview", None), ("button_click", None)]),
        ({"pageview": "false", "clicks": "false"}, [("scroll", d) for d in (25, 50, 75, 90, 100)]),
    ],
)
def test_script_tag_options(context, site, collector, data, expected):
    page = open_page(context, site, collector, **data)
    page.click("#label")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    settle(page)
    page.evaluate("journeys.flush()")

    events = collector.wait(lambda events: len(events) >= len(expected))
    assert [(e["event_type"], e.get("scroll_depth")) for e in events] == expected


def test_page_set_and_reset(context, site, collector):
    page = open_page(context, site, collector, user_id="user-3")
    page.evaluate("journeys.set({location: 'Lyon', content_id: 'm1'})")
    page.evaluate("journeys.page({content_id: 'm2', page_url: 'https://shop.example/virtual'})")
    page.evaluate("journeys.set({content_id: null})")
    page.evaluate("journeys.track('search')")
    page.evaluate("journeys.reset()")
    page.evaluate("journeys.track('search')")

    events = collector.wait(lambda events: len(events) >= 4)
    fields = [
        {k: e.get(k) for k in ("event_type", "user_id", "location", "content_id", "page_url")}
        for e in events
    ]
    here = site.url("/")
    assert fields == [
        {
            "event_type": "pageview",
            "user_id": "user-3",
            "location": None,
            "content_id": None,
            "page_url": here,
        },
        {
            "event_type": "pageview",
            "user_id": "user-3",
            "location": "Lyon",
            "content_id": "m2",
            "page_url": "https://shop.example/virtual",
        },
        {
            "event_type": "search",
            "user_id": "user-3",
            "location": "Lyon",
            "content_id": None,
            "page_url": here,
        },
        {
            "event_type": "search",
            "user_id": None,
            "location": None,
            "content_id": None,
            "page_url": here,
        },
    ]


def test_snippet_twice_on_a_page_counts_once(context, site, collector):
    src = collector.url("/journeys.js")
    twice = f'<script src="{src}" data-key="{KEY}" data-flush-interval="50"></script>'
    page = open_page(context, site, collector, head=twice)
    page.evaluate("journeys.track('search')")
    page.evaluate("journeys.flush()")

    assert kinds(collector.wait(lambda events: len(events) >= 2)) == ["pageview", "search"]
    assert any("journeys.js is on this page twice" in m for m in page.console)


def test_debug_logs_events_and_answers(context, site, collector):
    page = open_page(context, site, collector, debug="true")
    collector.wait(lambda events: len(events) >= 1)
    page.evaluate("journeys.flush()")

    assert any(m.startswith("journeys: event") for m in page.console), page.console
    assert any(m == "journeys: answer 202" for m in page.console), page.console


def test_event_ids_without_crypto_random_uuid(context, site, collector):
    """Outside secure contexts browsers have getRandomValues but not randomUUID."""
    open_page(context, site, collector, init_script="delete Crypto.prototype.randomUUID;")

    [event] = collector.wait(lambda events: len(events) >= 1)
    assert uuid.UUID(event["event_id"]).version == 4
    assert str(uuid.UUID(event["event_id"])) == event["event_id"]


def test_opt_out_and_bad_calls(context, site, collector):
    page = open_page(context, site, collector)
    collector.wait(lambda events: len(events) >= 1)

    assert page.evaluate("journeys.track('')") is None
    assert any("track needs an event type" in m for m in page.console)
    page.evaluate("journeys.optOut()")
    assert page.evaluate("journeys.track('search')") is None
    page.evaluate("journeys.optIn()")
    page.evaluate("journeys.track('search', {content_id: 'after'})")
    page.evaluate("journeys.flush()")

    events = collector.wait(lambda events: len(events) >= 2)
    assert kinds(events) == ["pageview", "search"]
    assert events[1]["content_id"] == "after"


# ---- Through the real collector into InfluxDB ----


def collector_app(db, tmp_path, page_origin):
    """The real collector for one site whose pages are at ``page_origin``, writing to db."""
    from journeys.collect.app import create_app
    from journeys.collect.settings import CollectorSettings
    from journeys.collect.settings import Site as SiteSettings
    from journeys.config import Settings

    settings = CollectorSettings(
        sites=(SiteSettings("shop", keys=(KEY,), origins=(page_origin,)),),
        influxdb=Settings(url=db.url, database=db.database),
        spool=tmp_path / "spool",
        interval=0.1,
    )
    return create_app(settings)


@pytest.fixture
def real_collector(db, tmp_path, site):
    with serve(collector_app(db, tmp_path, site.origin), free_port()) as origin:
        yield origin


def real_page(context, site, script_src, **data):
    site.pages["/"] = page_html(script_src, **{"key": KEY, "flush_interval": 50, **data})
    page = context.new_page()
    page.add_init_script(TRANSPORT_LOG)
    page.goto(site.url("/"))
    return page


def test_journey_arrives_in_influxdb(context, site, real_collector, db):
    page = real_page(context, site, real_collector + "/journeys.js")
    drive_journey(page)

    rows = wait_stored(db, len(JOURNEY), settle=1.0)
    assert sorted(
        (r["event_type"], r["scroll_depth"], r["button_clicked"], r["content_id"]) for r in rows
    ) == sorted(
        (kind, fields.get("scroll_depth"), fields.get("button_clicked"), fields.get("content_id"))
        for kind, fields in JOURNEY
    )
    assert [r["purchase_value"] for r in rows if r["event_type"] == "transaction"] == [3.99]
    assert sorted(r["user_id"] or "" for r in rows) == [""] + ["user-17"] * (len(JOURNEY) - 1)
    ids = [r["event_id"] for r in rows]
    assert len(set(ids)) == len(JOURNEY)
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert {r["page_url"] for r in rows} == {site.url("/")}
    assert {r["device_type"] for r in rows} == {"desktop"}
    assert {r["referral_source"] for r in rows} == {"Direct"}
    assert all(r["received_at"] > 0 for r in rows)


def test_leaving_the_page_stores_what_waits(context, site, real_collector, db):
    page = real_page(
        context, site, real_collector + "/journeys.js", flush_interval=60000, batch_size=100
    )
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")
    page.click("#away")
    page.wait_for_url(site.url("/other"))

    rows = wait_stored(db, 3, settle=1.0)
    assert sorted(r["event_type"] for r in rows) == ["button_click", "pageview", "search"]


def test_collector_down_then_up_stores_each_event_once(context, site, db, tmp_path):
    port = free_port()
    page = real_page(
        context, site, site.url("/journeys.js"), endpoint=f"http://127.0.0.1:{port}/events"
    )
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")
    page.wait_for_function("window.__sent.length >= 1")  # a first attempt failed

    with serve(collector_app(db, tmp_path, site.origin), port):
        rows = wait_stored(db, 2, settle=2.0)
    assert sorted(r["event_type"] for r in rows) == ["pageview", "search"]
    assert page.evaluate("window.__sent.length") >= 2


def test_lost_answer_is_retried_and_stored_once(context, site, real_collector, db):
    with Site("127.0.0.1", record=True, forward_to=real_collector) as proxy:
        proxy.plan = [503]  # the collector stored the events; the browser hears 503
        page = real_page(
            context, site, real_collector + "/journeys.js", endpoint=proxy.url("/events")
        )
        proxy.wait(lambda events: len(events) >= 2, timeout=15)
        rows = wait_stored(db, 1, settle=1.0)

    first, second = proxy.requests[0], proxy.requests[1]
    assert first["events"][0]["event_id"] == second["events"][0]["event_id"]
    assert first["upstream"]["status"] == second["upstream"]["status"] == 202
    assert second["upstream"]["json"]["duplicates"] == 1
    assert [r["event_id"] for r in rows] == [first["events"][0]["event_id"]]
    assert page.evaluate("journeys.flush()") is True


def test_refused_event_is_reported_and_the_others_stored(context, site, real_collector, db):
    page = real_page(context, site, real_collector + "/journeys.js")
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.evaluate("journeys.track('scroll', {scroll_depth: 150})")
    page.evaluate("journeys.track('search', {interaction_type: 'search'})")
    assert page.evaluate("journeys.flush()") is True

    rows = wait_stored(db, 2, settle=1.0)
    assert sorted(r["event_type"] for r in rows) == ["pageview", "search"]
    assert any("scroll event refused: scroll_depth" in m for m in console), console


def test_page_of_another_origin_is_refused(context, site, db, tmp_path):
    """The collector answers 403 without CORS headers, so the page cannot read it: to the
    snippet it is a failed request, kept for a retry, and Chromium says why."""
    app = collector_app(db, tmp_path, "https://shop.example.com")
    with serve(app, free_port()) as origin:
        page = real_page(context, site, origin + "/journeys.js")
        console = []
        page.on("console", lambda message: console.append(message.text))
        page.evaluate("journeys.track('search')")
        assert page.evaluate("journeys.flush()") is False

        assert any("CORS" in m for m in console), console
        assert stored(db, "SELECT * FROM events") == []
