"""The collector's HTTP service: a Starlette app that takes events and answers for each.

:func:`create_app` makes the app from checked settings
(:mod:`journeys.collect.settings`). It serves:

``POST /events``
    One event (a JSON object) or an array of them, as ``application/json`` or
    ``text/plain`` (what ``navigator.sendBeacon`` sends without a preflight),
    optionally ``Content-Encoding: gzip``. The write key comes as ``?key=``,
    ``X-Journeys-Key: KEY`` or ``Authorization: Bearer KEY``; a request with
    two different keys among them is refused (401) rather than one of them
    picked. Answers, each a JSON object:

    ======  =============================================================
    status  when, and what the body holds
    ======  =============================================================
    202     the body was read: ``accepted``, ``duplicates`` and
            ``rejected`` counts and ``results``, one per event in order,
            ``{"index", "status"}`` with ``status`` ``accepted``
            (queued on disk), ``duplicate`` (an ``event_id`` this site
            sent before: stored once) or ``rejected`` (with ``field`` and
            ``reason``). Rejected events do not stop the others. When
            any was rejected for a key an event does not have, the
            answer lists the ``valid_keys`` once (not in each reason, so
            that 500 such events make a small answer).
    400     the body is not JSON (or not UTF-8, or empty): ``error`` and
            ``position``, the offset where it broke
    401     no write key, one not configured, or two different ones
    403     the page's ``Origin`` is not allowed for the key
    408     the body did not arrive whole within 30 seconds
    413     the body, or the number of events, is over the limits
    415     a content type other than JSON or text
    429     the key is over its rate: ``Retry-After`` says when to retry
    503     the queue on disk cannot take the events (full, or a disk
            error): ``Retry-After``; nothing of the request was kept
    ======  =============================================================

    A 202 is sent only once the accepted events are committed to the queue on
    disk (:class:`~journeys.collect.store.EventStore`), so an answered event is
    never lost; the forwarder writes the queue to InfluxDB in the background.
    Sending the same events again (after a timeout, say) is safe: an event with
    an ``event_id`` the site sent before is answered ``duplicate`` and stored
    once.

``OPTIONS /events``
    The CORS preflight (a ``fetch`` with ``application/json`` needs one): 204
    with the ``Access-Control-Allow-*`` headers for an origin the request's key
    allows (any key, when the preflight's URL carries none), asking for the
    method ``POST`` and no request headers but ``Content-Type``,
    ``Content-Encoding``, ``Authorization`` and ``X-Journeys-Key``; else 403
    naming what is not allowed, without them, so the browser does not send.
    Answers to allowed origins carry ``Access-Control-Allow-Origin``.

``GET /health``
    JSON: ``status`` (``ok``; ``degraded`` while InfluxDB does not answer or
    the forwarder's writes fail; ``unavailable`` when events cannot be taken),
    the ``problems``, the number of ``sites`` (not their names: the answer is
    public, as load balancers poll it without a key; ``journeys collect
    --check`` names them), the queue (events waiting, bytes, oldest age), the
    forwarder (written, refused by reason, last error) and whether InfluxDB
    answers (with a reason that holds no secret, and no address). 200 while
    events can be accepted, even with InfluxDB down, since they wait on disk;
    503 when they cannot (the queue is full or failing).

``GET /journeys.js``
    The browser snippet, from ``journeys/collect/static/``.

The request path of ``POST /events`` runs thousands of times a second, so it
is a plain ASGI callable, reached before Starlette's router and middleware: it
reads the few headers it needs in one pass, answers with precomputed headers
and encodes the answer once. Its steps are ordered cheapest first (key, origin,
rate, size), so refused requests cost little, and the requests of one turn of
the event loop share one call into the queue (:meth:`Collector.put`). What
remains is the wait for the queue's commit to reach the disk, which a 202
promises: with few connections, the disk's flush time bounds the requests per
second, not the CPU.

The app is made for one process: the queue is one SQLite file, written by one
connection. Run it with one worker (``journeys collect`` does); a second
process on the same spool folder would be refused by the store.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import sys
import time
import urllib.parse
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from journeys.client import InfluxDB
from journeys.collect.contract import (
    TIME_KEYS,
    VALID_KEYS,
    Accepted,
    BodyError,
    check_events,
    parse_body,
)
from journeys.collect.forward import Forwarder
from journeys.collect.keys import KeyRing, TokenBucket
from journeys.collect.settings import CollectorSettings
from journeys.collect.store import EventStore, StoreError, StoreFull
from journeys.schema import COLUMNS

__all__ = ["STATIC", "Collector", "create_app"]

logger = logging.getLogger(__name__)

#: The folder of the files the collector serves (the browser snippet).
STATIC = Path(__file__).parent / "static"

#: Seconds /health answers 503 after the queue failed to write to disk, and the
#: least time between two log lines about such failures.
STORE_ERROR_SPELL = 10.0

#: Seconds a health check's view of InfluxDB is reused, so that a load balancer
#: polling /health does not ping InfluxDB on every poll.
HEALTH_CACHE = 2.0

#: The interval at which Python hands the GIL between threads while the collector runs
#: (its default is 5 ms). The store's thread and the forwarder's writer share the GIL
#: with the event loop; with 5 ms a request waits that long whenever the writer holds
#: it, with 1 ms the loop gets it back sooner at a small cost in switches.
SWITCH_INTERVAL = 0.001

#: Seconds a request's body may take to arrive whole; then it is answered 408, so a
#: client that sends slowly (or not at all) does not hold a connection for ever.
BODY_TIMEOUT = 30.0

#: How often the counts of rejected events are logged, when there were any.
REJECTED_LOG_EVERY = 60.0

_JSON = (b"content-type", b"application/json")
_ALLOWED_HEADERS = b"Content-Type, Content-Encoding, Authorization, X-Journeys-Key"
_ALLOWED_HEADER_NAMES = frozenset(
    name.strip().lower() for name in _ALLOWED_HEADERS.decode().split(",")
)
_PREFLIGHT = [
    (b"access-control-allow-methods", b"POST"),
    (b"access-control-allow-headers", _ALLOWED_HEADERS),
    (b"access-control-max-age", b"86400"),
]
_ORIGIN_CACHE = 1024
# Encodes the answers; made once, since json.dumps with options makes one per call.
_ANSWER_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The answer to a request of one event, stored now: the most common by far.
_ONE_STORED = [True]
_ONE_ACCEPTED = json.dumps(
    {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"index": 0, "status": "accepted"}],
    },
    separators=(",", ":"),
).encode()
# The keys rejections are counted by; any other key a client sent is "(unknown key)",
# so that senders cannot grow the counts (kept for the life of the process) without bound.
_COUNTED_KEYS = frozenset(column.name for column in COLUMNS) | frozenset(TIME_KEYS)
_VALID_KEYS = list(VALID_KEYS)


class Collector:
    """What the app holds between requests: keys, queue, forwarder, counts.

    Made by :func:`create_app`; started and stopped by the app's lifespan.
    """

    def __init__(self, settings: CollectorSettings):
        self.settings = settings
        self.limits = settings.limits
        self.keys = KeyRing(settings.write_keys())
        self.store: EventStore | None = None
        self.forwarder: Forwarder | None = None
        self.db: InfluxDB | None = None
        self.rejected: collections.Counter[str] = collections.Counter()
        self.rejected_total: collections.Counter[str] = collections.Counter()
        self.started = time.time()
        self.store_failed_at = 0.0
        self._secrets = settings.secrets()
        self._cors: dict[bytes, list[tuple[bytes, bytes]]] = {}
        self._influx_seen: tuple[float, dict] | None = None
        self._tasks: list[asyncio.Task] = []
        self._turn: dict[str, tuple[list, list[dict]]] = {}  # site: (waiters, rows)
        self._puts: set[asyncio.Task] = set()
        self._switch_interval = sys.getswitchinterval()
        #: Requests waiting for their body, with the time they began to.
        self.reading: dict[asyncio.Task, float] = {}
        #: Those the sweeper cancelled for being slower than BODY_TIMEOUT.
        self.timed_out: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Open the queue, connect to InfluxDB and start the forwarder."""
        settings = self.settings
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        settings.spool.mkdir(parents=True, exist_ok=True)
        self.store = EventStore(
            settings.store_path,
            max_events=settings.max_spool_events,
            max_bytes=settings.max_spool_bytes,
            dedup_window=settings.dedup_window,
        )
        try:
            self.db = settings.connect(timeout=settings.timeout)
            self.forwarder = Forwarder(
                self.store,
                self.db,
                layout=settings.layout,
                batch_size=settings.batch_size,
                interval=settings.interval,
            )
            self.forwarder.start()
        except BaseException:
            self.store.close()
            raise
        self._tasks.append(asyncio.create_task(self._log_rejected()))
        self._tasks.append(asyncio.create_task(self._sweep_slow_bodies()))
        logger.info(
            "collecting for %d site(s) into %s, queue %s",
            len(settings.sites),
            self.db,
            settings.store_path,
        )

    async def stop(self) -> None:
        """Write what is queued to InfluxDB (up to ``flush_timeout``), then close."""
        for task in self._tasks:
            task.cancel()
        self._log_rejected_now()
        try:
            # uvicorn waits for the requests under way; their puts end here.
            await asyncio.gather(*self._puts, return_exceptions=True)
            if self.forwarder is not None:
                # Says itself how many events stay queued for the next start.
                await self.forwarder.flush(self.settings.flush_timeout)
        finally:
            if self.store is not None:
                self.store.close()
            if self.db is not None:
                self.db.close()
            sys.setswitchinterval(self._switch_interval)

    def scrub(self, text: str) -> str:
        """``text`` with the InfluxDB token and password taken out."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def cors(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """The CORS headers of an answer to an allowed ``origin``, made once per origin."""
        headers = self._cors.get(origin)
        if headers is None:
            headers = [
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", b"Retry-After"),
                (b"vary", b"Origin"),
            ]
            if len(self._cors) < _ORIGIN_CACHE:
                self._cors[origin] = headers
        return headers

    def put(self, site: str, rows: list[dict]) -> asyncio.Future:
        """Queue ``rows`` on disk; a future of the store's answer for them.

        The requests of one turn of the event loop share one call of
        :meth:`EventStore.put` per site: under load that is one hand-over to the
        store's thread for dozens of requests instead of one each. The answers
        are those of separate calls in arrival order: a duplicate of an event
        earlier in the turn is a duplicate. Only when the store is full or
        failing does a request share the refusal of the others of its turn.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        batch = self._turn.get(site)
        if batch is None:
            batch = self._turn[site] = ([], [])
            loop.call_soon(self._put_turn, site)
        batch[0].append((future, len(batch[1]), len(rows)))
        batch[1].extend(rows)
        return future

    def _put_turn(self, site: str) -> None:
        waiters, rows = self._turn.pop(site)
        task = asyncio.ensure_future(self.store.put(site, rows))
        # The loop holds tasks weakly: the set keeps this one until it is done.
        self._puts.add(task)
        task.add_done_callback(self._puts.discard)
        task.add_done_callback(lambda done: _answer_waiters(done, waiters))

    def count_rejected(self, field: str | None) -> bool:
        """Count a rejection by its field; True when that field is not a key of an event."""
        unknown = field is not None and field not in _COUNTED_KEYS
        if field is None:
            field = "(event)"
        elif unknown:
            field = "(unknown key)"
        self.rejected[field] += 1
        return unknown

    async def _sweep_slow_bodies(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, BODY_TIMEOUT / 4))
            now = time.monotonic()
            for task, began in list(self.reading.items()):
                if now - began > BODY_TIMEOUT and task not in self.timed_out:
                    self.timed_out.add(task)
                    task.cancel()

    async def _log_rejected(self) -> None:
        while True:
            await asyncio.sleep(REJECTED_LOG_EVERY)
            self._log_rejected_now()

    def _log_rejected_now(self) -> None:
        if not self.rejected:
            return
        counts = ", ".join(f"{field} {n}" for field, n in self.rejected.most_common())
        logger.info("rejected %d event(s), by field: %s", self.rejected.total(), counts)
        self.rejected_total.update(self.rejected)
        self.rejected.clear()

    async def influxdb_state(self) -> dict:
        """Whether InfluxDB answers a ping, asked at most every :data:`HEALTH_CACHE` s."""
        now = time.monotonic()
        if self._influx_seen is not None and now - self._influx_seen[0] < HEALTH_CACHE:
            return self._influx_seen[1]
        state = await asyncio.to_thread(self._ping)
        self._influx_seen = (time.monotonic(), state)
        return state

    def _ping(self) -> dict:
        # No address: /health is often public, and InfluxDB's address is the operator's.
        state = {"database": self.settings.influxdb.database}
        try:
            with self.settings.connect(timeout=min(2.0, self.settings.timeout)) as db:
                state["version"] = db.ping()
            state["reachable"] = True
        except Exception as exc:  # noqa: BLE001 (any failure means: not reachable)
            state["reachable"] = False
            state["reason"] = self.scrub(str(exc))
        return state


def _answer_waiters(done: asyncio.Future, waiters: list) -> None:
    """Give each request of a shared put its part of the answer, or the refusal."""
    error = None if done.cancelled() else done.exception()
    for future, start, count in waiters:
        if future.done():
            continue
        if done.cancelled():
            future.cancel()
        elif error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result()[start : start + count])


class _Events:
    """``POST /events`` and its preflight, as a plain ASGI callable (see the module doc)."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.max_body = collector.limits.max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        received_at = time.time_ns() // 1_000_000
        collector = self.collector

        # One pass over the headers for the few the answer depends on.
        content_type = content_encoding = origin = presented = None
        length = -1
        conflict = False  # two different keys sent: which one was meant is unknown
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"origin":
                origin = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"content-encoding":
                content_encoding = value.decode("latin-1")
            elif name == b"x-journeys-key":
                sent = value.decode("latin-1")
                conflict |= presented is not None and sent != presented
                presented = sent
            elif name == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    sent = credential.strip()
                    conflict |= presented is not None and sent != presented
                    presented = sent
        query = scope["query_string"]
        if b"key=" in query:
            sent = _query_key(query)
            if sent:
                conflict |= presented is not None and sent != presented
                presented = sent

        if scope["method"] == "OPTIONS":
            await self.preflight(send, origin, presented, query, scope["headers"])
            return

        # Who posts: the key, the page's origin, the key's rate.
        if conflict:
            text = (
                "the request holds two different write keys (among ?key=, X-Journeys-Key and "
                "Authorization: Bearer); send the key once, or the same key in each"
            )
            await _answer(send, 401, {"error": text}, self._cors_any(origin))
            return
        found = collector.keys.find(presented) if presented else None
        if found is None:
            cors = self._cors_any(origin)
            text = "no write key: add ?key=KEY (or an X-Journeys-Key header) to the request"
            if presented:
                text = "the write key is not configured in this collector; check the key"
            await _answer(send, 401, {"error": text}, cors)
            return
        key, bucket, clients = found
        cors = []
        if origin is not None:
            origin_text = origin.decode("latin-1")
            if not key.allows(origin_text):
                text = (
                    f"the origin {origin_text} may not post with this key; add it to the "
                    f"origins of [sites.{key.site}] in the collector's configuration"
                )
                await _answer(send, 403, {"error": text}, [])
                return
            cors = collector.cors(origin)
        wait = 0.0
        sender = "with this key"
        if clients is not None:
            client = scope.get("client")
            wait = clients.take(client[0] if client else "")
            sender = "from this address with this key"
        if not wait:
            wait = bucket.take()
        if wait:
            retry = TokenBucket.retry_after(wait)
            text = f"too many requests {sender}; try again in {retry} s"
            headers = [*cors, (b"retry-after", str(retry).encode())]
            await _answer(send, 429, {"error": text, "retry_after": retry}, headers)
            return

        # The body, bounded before it is read whole.
        if length > self.max_body:
            await _answer(send, 413, self._too_large(length), cors)
            return
        try:
            body = await self._read(receive)
        except TimeoutError:
            text = f"the body did not come whole within {BODY_TIMEOUT:g} s; send it again"
            await _answer(send, 408, {"error": text}, [*cors, (b"connection", b"close")])
            return
        if body is None:
            return
        if len(body) > self.max_body:
            await _answer(send, 413, self._too_large(len(body)), cors)
            return

        # Parse and check; a body that cannot be read at all is one error.
        try:
            items = parse_body(
                body,
                content_type=content_type,
                content_encoding=content_encoding,
                limits=collector.limits,
            )
        except BodyError as exc:
            await _answer(send, exc.status, {"error": exc.message, "position": exc.position}, cors)
            return
        checked = check_events(items, received_at=received_at, limits=collector.limits)
        accepted = [result for result in checked if type(result) is Accepted]

        # Queue the accepted events on disk; answer only once they are committed.
        stored: list[bool] = []
        if accepted:
            try:
                stored = await collector.put(key.site, [result.row for result in accepted])
            except StoreFull as exc:
                text = "the collector's queue is full"
                await self._unavailable(send, cors, max(1, int(exc.retry_after)), text)
                return
            except StoreError as exc:
                # One line per spell of failures, not one per request of a flood.
                now = time.monotonic()
                if now - collector.store_failed_at > STORE_ERROR_SPELL:
                    logger.error("the queue refuses events (answered 503): %s", exc)
                collector.store_failed_at = now
                text = "the collector cannot keep events on disk right now"
                await self._unavailable(send, cors, max(1, int(exc.retry_after)), text)
                return

        if stored == _ONE_STORED and len(checked) == 1:
            # The most common answer by far (one new event), encoded once for all.
            await _send(send, 202, _ONE_ACCEPTED, cors)
            return
        await _answer(send, 202, self._results(checked, stored), cors)

    def _results(self, checked: list, stored: list[bool]) -> dict:
        results = []
        new = duplicates = rejected = 0
        position = 0
        unknown_key = False
        for result in checked:
            if type(result) is Accepted:
                if stored[position]:
                    new += 1
                    results.append({"index": result.index, "status": "accepted"})
                else:
                    duplicates += 1
                    results.append({"index": result.index, "status": "duplicate"})
                position += 1
            else:
                rejected += 1
                unknown_key |= self.collector.count_rejected(result.field)
                results.append(
                    {
                        "index": result.index,
                        "status": "rejected",
                        "field": result.field,
                        "reason": result.reason,
                    }
                )
        answer = {
            "accepted": new,
            "duplicates": duplicates,
            "rejected": rejected,
            "results": results,
        }
        if unknown_key:
            answer["valid_keys"] = _VALID_KEYS
        return answer

    async def _read(self, receive) -> bytes | None:
        """The request's body, stopped one byte past the limit; None when the client left.

        While it waits the request is listed in ``collector.reading``, whose sweeper
        cancels it after :data:`BODY_TIMEOUT` seconds (cheaper than a timer each).

        Raises
        ------
        TimeoutError
            When the body has not come whole within :data:`BODY_TIMEOUT` seconds.
        """
        task = asyncio.current_task()
        reading = self.collector.reading
        reading[task] = time.monotonic()
        try:
            return await self._receive_body(receive)
        except asyncio.CancelledError:
            if task not in self.collector.timed_out:
                raise
            self.collector.timed_out.discard(task)
            task.uncancel()
            raise TimeoutError from None
        finally:
            del reading[task]

    async def _receive_body(self, receive) -> bytes | None:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body = message.get("body", b"")
        if not message.get("more_body", False):
            return body
        chunks = [body]
        size = len(body)
        while size <= self.max_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self, size: int) -> dict:
        return {
            "error": f"the body has {size:,} bytes, more than the {self.max_body:,} allowed; "
            "send the events in smaller batches",
            "position": None,
        }

    async def _unavailable(self, send, cors, retry: int, why: str) -> None:
        text = f"{why}; nothing of this request was kept: send it again in {retry} s"
        headers = [*cors, (b"retry-after", str(retry).encode())]
        await _answer(send, 503, {"error": text, "retry_after": retry}, headers)

    def _cors_any(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        if origin is not None and self.collector.keys.any_allows(origin.decode("latin-1")):
            return self.collector.cors(origin)
        return []

    async def preflight(
        self, send, origin: bytes | None, presented: str | None, query, headers
    ) -> None:
        """Answer a CORS preflight: 204 with the allow headers, or 400/401/403 without.

        Only what ``POST /events`` reads passes: the method POST and the request
        headers of :data:`_ALLOWED_HEADERS`; a preflight asking for another is
        403 naming it, so that the browser does not send a request the
        collector would not read as meant.
        """
        if origin is None:
            await _answer(send, 400, {"error": "a preflight needs an Origin header"}, [])
            return
        method = asked = None
        for name, value in headers:
            if name == b"access-control-request-method":
                method = value.decode("latin-1").strip()
            elif name == b"access-control-request-headers":
                asked = value.decode("latin-1")
        if method is None:
            text = "a preflight needs an Access-Control-Request-Method header"
            await _answer(send, 400, {"error": text}, [])
            return
        if method != "POST":
            text = f"the method {method} is not allowed here: events are sent with POST"
            await _answer(send, 403, {"error": text}, [])
            return
        refused = [
            name.strip()
            for name in (asked or "").split(",")
            if name.strip() and name.strip().lower() not in _ALLOWED_HEADER_NAMES
        ]
        if refused:
            text = (
                f"the request header(s) {', '.join(refused)} may not be sent here; the "
                f"collector reads only {_ALLOWED_HEADERS.decode()}"
            )
            await _answer(send, 403, {"error": text}, [])
            return
        origin_text = origin.decode("latin-1")
        if presented and b"key=" in query:
            found = self.collector.keys.find(presented)
            if found is None:
                text = "the write key is not configured in this collector; check the key"
                await _answer(send, 401, {"error": text}, [])
                return
            allowed = found[0].allows(origin_text)
        else:
            allowed = self.collector.keys.any_allows(origin_text)
        if not allowed:
            text = f"the origin {origin_text} may not post events here"
            await _answer(send, 403, {"error": text}, [])
            return
        headers = [*self.collector.cors(origin), *_PREFLIGHT, (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _encode(content: dict) -> bytes:
    return _ANSWER_JSON.encode(content).encode()


def _query_key(query: bytes) -> str | None:
    """The ``key`` parameter of a query string, percent-decoded; None when absent."""
    for pair in query.split(b"&"):
        if pair.startswith(b"key="):
            return urllib.parse.unquote_plus(pair[4:].decode("latin-1"))
    return None


async def _answer(send, status: int, content: dict, headers: list) -> None:
    await _send(send, status, _encode(content), headers)


async def _send(send, status: int, body: bytes, headers: list) -> None:
    start = [_JSON, (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


class _CollectorApp(Starlette):
    """Starlette, with ``POST /events`` (and its preflight) answered before routing.

    The router and the two exception middlewares cost about 10 µs a request, a
    sixth of the collector's own work; the events endpoint needs neither (an
    error escaping it is answered 500 and logged by uvicorn). Every other path,
    and ``/events`` under a root path or with another method, goes the usual way.
    """

    def __init__(self, events: _Events, **options):
        super().__init__(**options)
        self._events = events

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/events"
            and scope["method"] in ("POST", "OPTIONS")
        ):
            await self._events(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: CollectorSettings) -> Starlette:
    """The collector as a Starlette app, for uvicorn (``journeys collect`` runs it).

    Parameters
    ----------
    settings : CollectorSettings
        From :func:`journeys.collect.settings.load_settings`.

    Returns
    -------
    starlette.applications.Starlette
        Its lifespan opens the queue and starts the forwarder, and on shutdown
        writes what is queued to InfluxDB (for up to ``flush_timeout`` seconds)
        before closing. ``app.state.collector`` holds the running
        :class:`Collector`.

    Examples
    --------
    >>> app = create_app(load_settings("collector.toml"))  # doctest: +SKIP
    >>> uvicorn.run(app, port=8000, loop="uvloop", http="httptools")  # doctest: +SKIP
    """
    collector = Collector(settings)

    async def health(request: Request) -> Response:
        return await _health(collector)

    async def snippet(request: Request) -> Response:
        path = STATIC / "journeys.js"
        if not path.is_file():
            return PlainTextResponse(
                "journeys.js is not installed with this collector", status_code=404
            )
        return FileResponse(
            path,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await collector.start()
        try:
            yield
        finally:
            await collector.stop()

    events = _Events(collector)
    app = _CollectorApp(
        events,
        routes=[
            Route("/events", events, methods=["POST", "OPTIONS"]),
            Route("/health", health, methods=["GET"]),
            Route("/journeys.js", snippet, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.collector = collector
    return app


async def _health(collector: Collector) -> Response:
    """The state of the service, its queue, the forwarder and InfluxDB."""
    settings = collector.settings
    store = collector.store
    problems = []
    if store is None:
        stats: dict = {}
        problems.append("the queue is not open")
    else:
        stats = store.stats()
        stats.pop("path", None)  # a public answer names no file of the server
        if stats.get("pending", 0) >= settings.max_spool_events:
            problems.append("the queue holds its most events")
        if stats.get("bytes", 0) >= settings.max_spool_bytes:
            problems.append("the queue holds its most bytes")
    if time.monotonic() - collector.store_failed_at < STORE_ERROR_SPELL:
        problems.append("the queue failed to write to disk in the last seconds")

    forwarding = {}
    if collector.forwarder is not None:
        forwarding = collector.forwarder.stats()
        if forwarding["last_error"] is not None:
            forwarding["last_error"] = collector.scrub(str(forwarding["last_error"]))
        forwarding["refused_by_reason"] = {
            collector.scrub(reason): n for reason, n in forwarding["refused_by_reason"].items()
        }
    influxdb = await collector.influxdb_state()

    # Events are taken while the queue can hold them; InfluxDB down only delays them.
    status = "ok"
    if problems:
        status = "unavailable"
    elif not influxdb["reachable"] or not forwarding.get("healthy", True):
        status = "degraded"
    content = {
        "status": status,
        "problems": problems,
        "uptime": round(time.time() - collector.started, 1),
        # How many, not which: /health is public, and the site names are the operator's.
        "sites": len(settings.sites),
        "store": stats,
        "forwarder": forwarding,
        "influxdb": influxdb,
        "rejected": dict(collector.rejected_total + collector.rejected),
    }
    return JSONResponse(content, status_code=200 if not problems else 503)
