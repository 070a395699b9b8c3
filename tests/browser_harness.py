"""What the browser tests share: Chromium, a web site to load, and a recording collector.

The tests load a page from one origin (``http://localhost:PORT``) that loads the
snippet and posts its events to another (``http://127.0.0.1:PORT``), so CORS is
exercised as on a real site. :class:`Site` is a small threaded HTTP server that
serves the pages a test gives it and ``/journeys.js`` from the package; with
``record=True`` it also stands in for the collector: it records every
``POST /events`` (URL, headers, the decoded JSON) and answers 202 with per-event
results, or what the test scheduled in :attr:`Site.plan` (a status, or ``"drop"`` to
close the connection without an answer), with CORS headers for the request's origin.
The end-to-end tests use the real collector instead; with ``forward_to`` a recording
site passes each post on to it first and keeps its answer (``"upstream"``), so a
test can lose the collector's answer on the way back while the events were stored.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from urllib.parse import parse_qs, urlsplit

import uvicorn
from helpers import stored

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SNIPPET = files("journeys.collect").joinpath("static/journeys.js")

#: Runs before the page's scripts: logs every fetch and sendBeacon the page makes in
#: ``window.__sent`` (how, with keepalive or not, whether the browser took it).
TRANSPORT_LOG = """
window.__sent = [];
const realFetch = window.fetch;
window.fetch = function (url, options) {
  window.__sent.push({via: "fetch", url: String(url), keepalive: !!(options || {}).keepalive});
  return realFetch.apply(this, arguments);
};
const realBeacon = Navigator.prototype.sendBeacon;
Navigator.prototype.sendBeacon = function (url, data) {
  const taken = realBeacon.call(this, url, data);
  window.__sent.push({via: "beacon", url: String(url), taken});
  return taken;
};
"""

#: Makes the page believe it was hidden, as when the visitor switches tab.
HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_html(script_src: str, *, head: str = "", height: int = 5000, **data) -> str:
    """A test page: two buttons, a link, ``height`` pixels of page and the snippet.

    ``data`` become the script tag's ``data-*`` attributes (``batch_size=5`` gives
    ``data-batch-size="5"``); ``head`` is put before it, for inline scripts.
    """
    attributes = " ".join(f'data-{k.replace("_", "-")}="{v}"' for k, v in data.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>journeys test page</title>{head}</head>
<body style="margin:0">
  <button id="add" data-journeys-click="add_to_collection" data-journeys-content-id="m42">
    <span id="label">Add to collection</span></button>
  <button id="plain">not tracked</button>
  <a id="away" href="/other" data-journeys-click="other_page">elsewhere</a>
  <div style="height:{height}px"></div>
  <script src="{script_src}" {attributes}></script>
</body></html>"""


class Site:
    """A threaded HTTP server for pages, the snippet and, if asked, recorded events."""

    def __init__(
        self,
        host: str,
        *,
        port: int | None = None,
        record: bool = False,
        forward_to: str | None = None,
    ):
        """Serve on 127.0.0.1, named ``host`` in URLs ("localhost" makes another origin)."""
        self.pages: dict[str, str] = {"/other": "<!doctype html><title>other</title>"}
        self.requests: list[dict] = []
        self.plan: list[int | str] = []
        self._record = record
        self._forward_to = forward_to
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port or 0), _handler(self))
        self._server.daemon_threads = True
        self.origin = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.origin + path

    @property
    def events(self) -> list[dict]:
        """Every event of every recorded request, in the order they came."""
        return [e for r in self.requests for e in r["events"]]

    def wait(self, done, timeout: float = 10.0) -> list[dict]:
        """Wait until ``done(events)`` is true; return the events (AssertionError if not)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"after {timeout} s the events are {self.events}")
                self._changed.wait(left)
            return self.events

    def _add(self, request: dict) -> None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: pytest shows failures, not every request
            pass

        def do_GET(self):
            path = urlsplit(self.path).path
            if path == "/journeys.js":
                return self._answer(200, SNIPPET.read_bytes(), "text/javascript")
            if path in site.pages:
                return self._answer(200, site.pages[path].encode(), "text/html")
            self._answer(404, b"not found", "text/plain")

        def do_OPTIONS(self):
            self._answer(204, b"", "text/plain")

        def do_POST(self):
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not site._record or parts.path != "/events":
                return self._answer(404, b"not found", "text/plain")
            events = json.loads(body)
            upstream = site._forward_to and _forward(site._forward_to + self.path, body, self)
            site._add(
                {
                    "query": parse_qs(parts.query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "events": events,
                    "upstream": upstream,
                }
            )
            answer = site.plan.pop(0) if site.plan else 202
            if answer == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            results = [{"index": i, "status": "accepted"} for i in range(len(events))]
            payload = {"accepted": len(events), "duplicates": 0, "rejected": 0}
            payload["results"] = results
            self._answer(answer, json.dumps(payload).encode(), "application/json")

        def _answer(self, status: int, body: bytes, content_type: str):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if "Origin" in self.headers:
                self.send_header("Access-Control-Allow-Origin", self.headers["Origin"])
                self.send_header("Access-Control-Allow-Headers", "Content-Type")
                self.send_header("Access-Control-Expose-Headers", "Retry-After")
                self.send_header("Vary", "Origin")
            if status in (429, 503):
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _forward(url: str, body: bytes, request: BaseHTTPRequestHandler) -> dict:
    """Post the body on to ``url`` as the browser sent it; the answer's status and JSON."""
    headers = {k: request.headers[k] for k in ("Content-Type", "Origin") if k in request.headers}
    forwarded = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(forwarded, timeout=10) as answer:
            return {"status": answer.status, "json": json.loads(answer.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "json": None}


def settle(page) -> None:
    """Wait two frames, so that the page has handled the scroll or click just done."""
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def drive_journey(page) -> None:
    """What a visitor does on :func:`page_html`'s page after it loaded.

    Identify, click the tracked button (on its inner label) and the untracked one,
    scroll to the middle and then to the bottom, and buy; then flush.
    """
    page.evaluate("journeys.identify('user-17')")
    page.click("#label")
    page.click("#plain")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    settle(page)
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    settle(page)
    page.evaluate("journeys.track('transaction', {content_id: 'm42', purchase_value: 3.99})")
    assert page.evaluate("journeys.flush()") is True


#: The events :func:`drive_journey` makes, in order, as (event_type, the fields that
#: say which one it is).
JOURNEY = [
    ("pageview", {}),
    ("button_click", {"button_clicked": "add_to_collection", "content_id": "m42"}),
    *[("scroll", {"scroll_depth": depth}) for depth in (25, 50, 75, 90, 100)],
    ("transaction", {"content_id": "m42", "purchase_value": 3.99}),
]


def wait_stored(db, count: int, *, timeout: float = 30.0, settle: float = 0.0) -> list[dict]:
    """The stored events once there are ``count``, oldest first; then ``settle`` seconds
    more to see that no other arrives (AssertionError when there are not that many)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = stored(db, "SELECT * FROM events")
        if len(rows) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if settle and len(rows) == count:
        time.sleep(settle)
        rows = stored(db, "SELECT * FROM events")
    assert len(rows) == count, f"expected {count} events in InfluxDB, found {rows}"
    return rows


@contextmanager
def serve(app, port: int):
    """Run a Starlette app under uvicorn on 127.0.0.1:port in a thread, as in production."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
