"""A real HTTP server in a thread that records each request and gives canned answers.

Only InfluxDB 1.x runs on the test machines; the exchanges with 2.x, 3.x and
Cloud are checked against this server instead: it answers what a server of
that generation answers (its ``/ping`` headers, its error bodies), and keeps
every request (method, path, query, headers, body) for the test to look at.
Tests using it check the protocol only, never behaviour.
"""

from __future__ import annotations

import gzip
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: What /ping of each generation answers: status, headers, body.
PINGS = {
    "v1": (204, {"X-Influxdb-Version": "1.8.10", "X-Influxdb-Build": "OSS"}, b""),
    "v1-enterprise": (
        204,
        {"X-Influxdb-Version": "1.11.8", "X-Influxdb-Build": "ENT"},
        b"",
    ),
    "v2": (204, {"X-Influxdb-Version": "v2.7.11", "X-Influxdb-Build": "OSS"}, b""),
    "cloud": (204, {"X-Influxdb-Build": "Cloud"}, b""),
    "v3-core": (
        200,
        {
            "X-Influxdb-Version": "3.2.0",
            "X-Influxdb-Build": "Core",
            "Content-Type": "application/json",
        },
        b'{"version":"3.2.0","revision":"1ca3263","process_id":"b8b3c7ac"}',
    ),
    "v3-enterprise": (
        200,
        {"X-Influxdb-Version": "3.2.0", "X-Influxdb-Build": "Enterprise"},
        b'{"version":"3.2.0","revision":"1ca3263","process_id":"0197"}',
    ),
}


#: Where each generation takes writes, answered 204 until a test says otherwise.
WRITES = {
    "v1": ["/write"],
    "v1-enterprise": ["/write"],
    "v2": ["/api/v2/write"],
    "cloud": ["/api/v2/write"],
    "v3-core": ["/api/v3/write_lp", "/api/v2/write"],
    "v3-enterprise": ["/api/v3/write_lp", "/api/v2/write"],
}


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text, unpacked when it was sent gzip-compressed."""
        raw = self.body
        if self.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")

    def json(self):
        return json.loads(self.text)


@dataclass
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Recorder:
    """Start with ``with Recorder("v2") as server:``; ``server.url`` is its address."""

    def __init__(self, ping: str | None = "v1"):
        self.requests: list[Request] = []
        self._answers: dict[tuple[str, str], tuple[list[Answer], bool]] = {}
        self._for_good: dict[tuple[str, str], Answer] = {}
        if ping is not None:
            status, headers, body = PINGS[ping]
            self.answer("GET", "/ping", status, body, headers=headers)
            for path in WRITES[ping]:
                self.answer("POST", path, 204)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def answer(self, method, path, status=204, body=b"", *, headers=None, times=None) -> None:
        """Answer ``method path`` so (JSON for a dict or list ``body``), for good or ``times``.

        After ``times`` answers, the last answer given for good comes back.
        """
        headers = dict(headers or {})
        if isinstance(body, dict | list):
            body = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        answer = Answer(status, headers, body)
        self._answers[(method, path)] = ([answer] * (times or 1), times is None)
        if times is None:
            self._for_good[(method, path)] = answer

    def sent(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """The requests received, those of ``method`` and ``path`` when given."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    def _reply(self, method: str, path: str) -> Answer:
        queue, for_good = self._answers.get((method, path), ([], False))
        if not queue:
            fallback = Answer(404, {"Content-Type": "text/plain"}, b"404 page not found")
            return self._for_good.get((method, path), fallback)
        return queue[0] if for_good else queue.pop(0)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


def _handler(recorder: Recorder):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            parts = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(
                Request(
                    method=self.command,
                    path=parts.path,
                    query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
            )
            answer = recorder._reply(self.command, parts.path)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.body and self.command != "HEAD":
                self.wfile.write(answer.body)

        # http.server calls do_<METHOD>.
        do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _serve  # noqa: N815

        def log_message(self, *args):  # keep the test output quiet
            pass

    return Handler
