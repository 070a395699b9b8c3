"""The connection to an InfluxDB server of any generation: 1.x, 2.x, 3.x or Cloud.

:class:`InfluxDB` holds kept-alive HTTP sessions with retries, and offers
what a notebook needs: :meth:`~InfluxDB.write` a frame, :meth:`~InfluxDB.query`
events back, :meth:`~InfluxDB.influxql` for anything else, and
:meth:`~InfluxDB.flux` on servers that speak Flux.

Which server answers is asked once, on first need, from the headers of
``/ping`` (see :mod:`journeys.servers`; ``api=`` forces it), and decides how
lines are written (:meth:`~InfluxDB.post_lines`, the one place that knows)
and databases made:

==========================  ==========================================  ===========================
generation                  writes                                      databases
==========================  ==========================================  ===========================
``v1``: InfluxDB 1.x        ``POST /write?db=&precision=ns``            ``CREATE DATABASE``
``v2``: InfluxDB 2.x,       influxdb-client's ``WriteService``:         a bucket, by influxdb-
every InfluxDB Cloud        ``POST /api/v2/write?org=&bucket=``         client's ``BucketsApi``
                            ``&precision=ns``
``v3``: InfluxDB 3 Core,    ``POST /api/v3/write_lp?db=``               ``POST /api/v3/configure/``
Enterprise                  ``&precision=nanosecond&accept_partial=``   ``database``, else made by
                            ``true`` (other 3.x: ``/api/v2/write``)     the first write
==========================  ==========================================  ===========================

InfluxDB 3 Core and Enterprise get their own ``/api/v3/write_lp`` rather than
the ``/api/v2/write`` they also serve: it is their native write, it takes the
unit of the times as ``precision=nanosecond`` (its default guesses the unit
from the size of each time), and with ``accept_partial=true`` it stores the
valid lines of a batch and lists each refused one with its number and reason.
The other 3.x servers (Clustered, Dedicated) only take ``/api/v2/write``.

Reading is InfluxQL over ``/query`` for all three: 2.x and Cloud map
``db=`` to the bucket of that name, 3.x to the database.

# Limitation: InfluxDB 2.x and Cloud answer InfluxQL only for buckets with a
# database/retention-policy (DBRP) mapping. 2.x gives every bucket a virtual
# one named after it; on Cloud, create one with `influx v1 dbrp create`.
# Reading through Flux in journeys.query would remove that step.

Credentials go as each generation expects them: a username and password (or
a token ``user:password``) as HTTP basic authentication, which 1.x, the v1
API of 2.x and 3.x (password as the token) all accept; any other token as
``Authorization: Token ...`` to 1.8+, 2.x and Cloud, and as
``Authorization: Bearer ...`` to 3.x. Tokens and passwords never appear in
logs, ``repr`` or error messages.

Error answers of 2.x (``{"code": ..., "message": ...}``) and 3.x
(``{"error": ..., "data": [...]}``) are read by :func:`error_text`, so that
the writer and :class:`journeys.ServerError` see the server's message.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from journeys.config import Settings, shown_url
from journeys.errors import JourneysError, ServerError
from journeys.servers import Server, check_api, detect_server

if TYPE_CHECKING:
    from journeys.v2 import V2
    from journeys.write import WriteReport

__all__ = [
    "REFUSED_STATUSES",
    "InfluxDB",
    "connect",
    "connect_or_start",
    "database_missing",
    "error_text",
]

logger = logging.getLogger(__name__)

#: Statuses worth trying again: the server is busy, restarting or overloaded.
RETRY_STATUSES = (429, 500, 502, 503, 504)


class InfluxDB:
    """A connection to one database (or bucket) of an InfluxDB server.

    Parameters
    ----------
    url : str, optional
        The server's address, e.g. ``http://127.0.0.1:8086``. Missing
        settings come from the environment, see :mod:`journeys.config`.
    database : str, optional
        The database events are written to and read from (``journeys``); the
        bucket on InfluxDB 2.x and Cloud.
    token, username, password : str, optional
        Credentials; none are needed for a server without authentication.
    org : str, optional
        The organisation of the bucket on InfluxDB 2.x and Cloud; when not
        given, the only one the token can see.
    api : {None, "v1", "v2", "v3"}
        The API to speak; by default the one of the generation the server's
        ``/ping`` names (see :attr:`server`).
    timeout : float
        Seconds to wait for each answer.
    retries : int
        How often a request that failed for a passing reason (no connection,
        a timeout, 429 or 5xx) is tried again, with exponential backoff and
        jitter, honouring ``Retry-After``.

    Examples
    --------
    >>> import journeys as jy
    >>> db = jy.connect("http://127.0.0.1:8086", database="journeys")  # doctest: +SKIP
    >>> db.server                                                      # doctest: +SKIP
    Server(generation='v1', version='1.6.7', build='OSS')
    >>> report = db.write(jy.generate(users=100, seed=1))  # doctest: +SKIP
    >>> events = db.query("2024-05-01", "2024-06-01")  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        database: str | None = None,
        token: str | None = None,
        org: str | None = None,
        username: str | None = None,
        password: str | None = None,
        api: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
    ):
        settings = Settings.resolve(
            url,
            database=database,
            token=token,
            org=org,
            username=username,
            password=password,
            api=api,
        )
        if not settings.url:
            raise JourneysError(
                "no InfluxDB address: pass url=... (--url), set INFLUXDB_URL, or start a "
                "throwaway server with `journeys server` (jy.LocalInfluxDB() in Python)"
            )
        self.url = _normalise_url(settings.url)
        self.database = settings.database
        self.org = settings.org
        self.timeout = timeout
        #: How often a request of this connection is tried again (the writer's are not).
        self.retries = retries
        self._settings = settings
        forced = check_api(settings.api)
        self._server = Server(forced) if forced else None
        self.session = _session(settings, self.retries)
        # One attempt per call: the writer decides itself when to try a batch again.
        self._write_session = _session(settings, 0)
        self._v2: V2 | None = None
        if self._server is not None:
            self._authorize(self._server)
        #: The throwaway server this connection started, if any (see connect_or_start).
        self.local = None

    def __enter__(self) -> InfluxDB:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP sessions, and stop the throwaway server this connection started."""
        self.session.close()
        self._write_session.close()
        if self._v2 is not None:
            self._v2.close()
        if self.local is not None:
            self.local.stop()

    def __repr__(self) -> str:
        server = f" {self._server}" if self._server is not None else ""
        return f"<InfluxDB {_shown(self.url)} database={self.database!r}{server}>"

    @property
    def server(self) -> Server:
        """What answers at :attr:`url`: generation, version and build, asked once of ``/ping``.

        Raises
        ------
        ServerError
            When the server does not answer, or refuses the ping (InfluxDB 3
            asks for a token even there).
        """
        refusal = self._detect()
        if refusal is not None:
            raise self._refused_ping(refusal)
        return self._server

    def _detect(self, *, once: bool = False) -> requests.Response | None:
        """Ask ``/ping`` what answers, unless known; its answer when it refused, else None.

        ``once`` pings without retries, for :meth:`post_lines`, around which the
        writer does its own.
        """
        if self._server is None:
            answer = self._ping(self._write_session if once else self.session)
            if answer.status_code not in (200, 204):
                return answer
            server = detect_server(answer.headers, answer.content)
            self._authorize(server)
            self._server = server
            logger.info("%s answers at %s", server, _shown(self.url))
        return None

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send one HTTP request, retried as configured; raise on no answer.

        Returns the response whatever its status: the caller decides what an
        error status means.
        """
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, f"{self.url}{path}", **kwargs)
        except requests.RequestException as exc:
            raise _unreachable(self.url, _reason(exc)) from exc

    def post_lines(self, body: bytes, *, content_encoding: str | None = None) -> requests.Response:
        """Post one body of line protocol (nanosecond times) to the database, once.

        This is the one place that knows the server's write endpoint; the
        writer (:mod:`journeys.write`) batches, retries and spools around it.
        The endpoint is that of the server's generation (see the table at the
        top of :mod:`journeys.client`), asked of ``/ping`` on the first call.

        Parameters
        ----------
        body : bytes
            Lines of line protocol, already encoded (and compressed when
            ``content_encoding`` says so).
        content_encoding : {None, "gzip"}
            How ``body`` is compressed; sent on as ``Content-Encoding``.

        Returns
        -------
        requests.Response
            The answer, whatever its status; :func:`error_text` reads the
            message of an error answer of any generation. When the ping
            itself is refused (a missing or wrong token on 3.x), that refusal.

        Raises
        ------
        ServerError
            When no answer came (no connection, a timeout).
        """
        refusal = self._detect(once=True)
        if refusal is not None:
            return refusal
        server = self._server

        if server.generation == "v2":
            return self._v2_api().post_lines(
                self.database, body, content_encoding=content_encoding
            )
        if server.generation == "v3" and server.build.lower() in ("core", "enterprise"):
            path = "/api/v3/write_lp"
            params = {"db": self.database, "precision": "nanosecond", "accept_partial": "true"}
        elif server.generation == "v3":
            path = "/api/v2/write"
            params = {"bucket": self.database, "precision": "ns"}
            if self.org:
                params["org"] = self.org
        else:
            path = "/write"
            params = {"db": self.database, "precision": "ns"}

        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if content_encoding:
            headers["Content-Encoding"] = content_encoding
        try:
            return self._write_session.post(
                f"{self.url}{path}",
                params=params,
                data=body,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise _unreachable(self.url, _reason(exc)) from exc

    def ping(self) -> str:
        """Check that the server answers; return its version (``unknown`` when it does not say).

        Raises
        ------
        ServerError
            When it does not answer, or refuses the ping.
        """
        answer = self._ping(self.session)
        if answer.status_code not in (200, 204):
            raise self._refused_ping(answer)
        return detect_server(answer.headers, answer.content).version or "unknown"

    def _refused_ping(self, answer: requests.Response) -> ServerError:
        detail = error_text(answer)
        return ServerError(
            f"the ping of {_shown(self.url)} was refused: {detail}{_auth_hint(answer)}",
            status=answer.status_code,
            detail=detail,
        )

    def _ping(self, session: requests.Session) -> requests.Response:
        try:
            return session.get(f"{self.url}/ping", timeout=self.timeout)
        except requests.RequestException as exc:
            raise _unreachable(self.url, _reason(exc)) from exc

    def create_database(self) -> None:
        """Create the database (the bucket on 2.x and Cloud) if it does not exist yet.

        Raises
        ------
        ServerError
            When the server refuses, with what to do instead (a token that
            may not create buckets, for one).
        """
        server = self.server
        if server.generation == "v2":
            self._v2_api().create_bucket(self.database)
        elif server.generation == "v3":
            self._create_v3_database()
        else:
            self.influxql(f"CREATE DATABASE {quote_identifier(self.database)}", method="POST")

    def _create_v3_database(self) -> None:
        answer = self.request("POST", "/api/v3/configure/database", json={"db": self.database})
        if answer.ok or answer.status_code == 409:
            return
        if answer.status_code in (404, 405):
            # Clustered and Dedicated have no such endpoint; their first write makes it.
            logger.info("%s makes database %s on the first write", self.server, self.database)
            return
        detail = error_text(answer)
        raise ServerError(
            f"could not create the database {self.database!r}: {detail}{_auth_hint(answer)}",
            status=answer.status_code,
            detail=detail,
        )

    def influxql(
        self, statement: str, *, method: str = "GET", chunk_size: int = 0
    ) -> list[dict[str, Any]]:
        """Run InfluxQL and return its results, one dict per statement.

        Every generation answers InfluxQL over ``/query``; InfluxDB 3 takes
        one statement per call, and neither 2.x nor 3.x runs the statements
        that manage databases (``CREATE DATABASE``): see :meth:`create_database`.

        Parameters
        ----------
        statement : str
            One or more InfluxQL statements, separated by semicolons.
        method : {"GET", "POST"}
            ``POST`` for statements that change something.
        chunk_size : int
            When above 0, the server streams the answer in chunks of that many
            points, so that a large result never sits whole in its memory.

        Raises
        ------
        ServerError
            When the server rejects the request or a statement.
        """
        return list(self._iter_results(statement, method=method, chunk_size=chunk_size))

    def _iter_results(
        self, statement: str, *, method: str = "GET", chunk_size: int = 0
    ) -> Iterator[dict[str, Any]]:
        params = {"db": self.database, "epoch": "ns"}
        if chunk_size:
            params.update(chunked="true", chunk_size=str(chunk_size))
        form = {**params, "q": statement}
        # A long statement (a filter on thousands of values) would not fit a URL.
        if method == "GET" and len(statement) <= 4000:
            answer = self.request("GET", "/query", params=form, stream=True)
        else:
            answer = self.request("POST", "/query", data=form, stream=True)
        if answer.status_code != 200:
            detail = error_text(answer)
            raise ServerError(
                f"the query was refused: {detail}{_auth_hint(answer)}",
                status=answer.status_code,
                detail=detail,
            )
        logger.debug("InfluxQL: %s", statement)
        try:
            yield from self._results_of(answer)
        except requests.RequestException as exc:
            raise ServerError(
                f"the answer of InfluxDB at {_shown(self.url)} broke off: {_reason(exc)}"
            ) from exc

    def _results_of(self, answer: requests.Response) -> Iterator[dict[str, Any]]:
        for line in _json_lines(answer):
            body = json.loads(line)
            if "error" in body:
                raise ServerError(f"the query failed: {body['error']}", detail=body["error"])
            for result in body.get("results", []):
                if "error" in result:
                    raise ServerError(
                        f"the statement failed: {result['error']}", detail=result["error"]
                    )
                yield result

    def flux(self, query: str, *, params: dict | None = None, output: str = "frame"):
        """Run a Flux query on InfluxDB 2.x or Cloud; see :func:`journeys.flux.run_flux`."""
        from journeys.flux import run_flux

        return run_flux(self, query, params=params, output=output)

    def write(self, frame: pd.DataFrame, **options) -> WriteReport:
        """Write an events frame; see :func:`journeys.write.write_events` for options."""
        from journeys.write import write_events

        return write_events(self, frame, **options)

    def write_lines(self, lines, **options) -> WriteReport:
        """Send lines of line protocol as they are; see :func:`journeys.write.write_lines`."""
        from journeys.write import write_lines

        return write_lines(self, lines, **options)

    def query(self, start=None, stop=None, **options) -> pd.DataFrame:
        """Events between two times; see :func:`journeys.query.query_events` for options."""
        from journeys.query import query_events

        return query_events(self, start, stop, **options)

    def _v2_api(self) -> V2:
        """influxdb-client for this connection, made on first use (2.x and Cloud only)."""
        if self._v2 is None:
            from journeys.v2 import V2

            settings = self._settings
            token = settings.token
            if token and ":" in token and not settings.username:
                # A user:password token is a username and password for 2.x too.
                username, _, password = token.partition(":")
                token = None
            else:
                username, password = settings.username, settings.password
            self._v2 = V2(
                self.url,
                token=token,
                username=username,
                password=password,
                org=self.org,
                timeout=self.timeout,
            )
        return self._v2

    def _authorize(self, server: Server) -> None:
        """Send a plain token the way ``server``'s generation documents it."""
        token = self._settings.token
        if self._settings.username or not token or ":" in token:
            return
        scheme = "Bearer" if server.generation == "v3" else "Token"
        for session in (self.session, self._write_session):
            session.headers["Authorization"] = f"{scheme} {token}"


def connect(url: str | None = None, **options) -> InfluxDB:
    """Connect to an InfluxDB server; the parameters are those of :class:`InfluxDB`."""
    return InfluxDB(url, **options)


def connect_or_start(url: str | None = None, *, database: str | None = None, **options):
    """Connect to the configured InfluxDB, or start a throwaway one when none is.

    Made for notebooks: with an address (argument or ``INFLUXDB_URL``) this is
    :func:`connect`; without one it starts a :class:`journeys.LocalInfluxDB`,
    which the connection's :meth:`~InfluxDB.close` stops again (and which is
    stopped when Python exits in any case).

    Examples
    --------
    >>> db = jy.connect_or_start()  # doctest: +SKIP
    >>> db.local is None            # True when a configured server is used  # doctest: +SKIP
    """
    settings = Settings.resolve(url, database=database)
    if settings.url:
        return InfluxDB(url, database=database, **options)

    from journeys.local import LocalInfluxDB

    server = LocalInfluxDB(database=settings.database)
    server.start()
    db = InfluxDB(server.url, database=settings.database, **options)
    db.local = server
    return db


def quote_identifier(name: str) -> str:
    """An InfluxQL identifier in double quotes, its quotes and backslashes escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes; quotes, backslashes, newlines escaped."""
    if "\r" in value or "\x00" in value:
        raise ValueError(
            f"cannot compare with {value!r}: InfluxQL strings cannot hold a carriage return or "
            "a NUL character; leave this filter out and select the rows in pandas instead"
        )
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped + "'"


def _normalise_url(url: str) -> str:
    """``http://`` when no scheme is given; InfluxDB's port 8086 when plain http names none."""
    url = url if "://" in url else f"http://{url}"
    parts = urllib.parse.urlsplit(url.rstrip("/"))
    # https without a port is a service behind TLS, such as InfluxDB Cloud, on 443.
    if parts.port is None and parts.scheme == "http":
        parts = parts._replace(netloc=f"{parts.netloc}:8086")
    return urllib.parse.urlunsplit(parts)


def _unreachable(url: str, reason: str) -> ServerError:
    return ServerError(f"could not reach InfluxDB at {_shown(url)}: {reason}")


def _shown(url: str) -> str:
    """``url`` without a password written into it, for messages and logs."""
    return shown_url(url)


def _session(settings: Settings, retries: int) -> requests.Session:
    session = requests.Session()
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.5,
        backoff_jitter=0.25,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)

    if settings.username:
        session.auth = (settings.username, settings.password or "")
    elif settings.token and ":" in settings.token:
        user, _, password = settings.token.partition(":")
        session.auth = (user, password)
    elif settings.token:
        session.headers["Authorization"] = f"Token {settings.token}"
    session.headers["User-Agent"] = "journeys"
    return session


def _json_lines(answer: requests.Response) -> Iterator[bytes]:
    """The lines of a streamed answer, each a JSON document (one chunk of points)."""
    # requests' iter_lines splits its whole pending buffer again for every piece
    # read, which is quadratic when, as here, one line spans many pieces.
    pieces: list[bytes] = []
    for piece in answer.iter_content(chunk_size=1 << 20):
        while b"\n" in piece:
            head, _, piece = piece.partition(b"\n")
            line = b"".join([*pieces, head])
            pieces = []
            if line.strip():
                yield line
        if piece:
            pieces.append(piece)
    rest = b"".join(pieces)
    if rest.strip():
        yield rest


def error_text(answer: requests.Response) -> str:
    """The message of an error answer, whichever generation of InfluxDB gave it.

    ====================  ===============================================================
    generation            error body
    ====================  ===============================================================
    1.x                   ``{"error": "partial write: ... dropped=1"}``
    2.x, Cloud            ``{"code": "invalid", "message": "partial write: ..."}``
    3.x                   ``{"error": "partial write of line protocol occurred",``
                          ``"data": [{"line_number": 2, "error_message": ...}, ...]}``,
                          or plain text
    ====================  ===============================================================

    The lines 3.x lists are added as ``line N: reason`` (their numbers count
    from 1 within the body). When the body says nothing, the status's reason.

    Examples
    --------
    >>> answer = requests.Response()
    >>> answer.status_code, answer._content = 422, b'{"code":"invalid","message":"no"}'
    >>> error_text(answer)
    'no'
    """
    text = answer.text.strip()
    if _is_html(answer, text):
        # A web page (a proxy, a login portal, another service) would fill the
        # terminal; its title is enough to tell what answered.
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        named = f" ({' '.join(title.group(1).split())})" if title else ""
        return (
            f"a web page{named} instead of an InfluxDB answer: check that the address is "
            "InfluxDB's, not a proxy's or another service's"
        )
    try:
        body = json.loads(text)
    except ValueError:
        return text or answer.reason or f"status {answer.status_code}"
    if not isinstance(body, dict):
        return text

    message = body.get("message") or body.get("error") or text
    if not isinstance(message, str):
        message = json.dumps(message)
    lines = body.get("data")
    if isinstance(lines, list) and lines and all(isinstance(line, dict) for line in lines):
        refused = [
            f"line {line.get('line_number', '?')}: {line.get('error_message', line)}"
            for line in lines
        ]
        message = f"{message}: " + "; ".join(refused)
    return message.strip()


def _is_html(answer: requests.Response, text: str) -> bool:
    kind = answer.headers.get("Content-Type", "")
    return "html" in kind.lower() or text[:15].lower().startswith(("<!doctype html", "<html"))


#: The name the writer imports; the same function as :func:`error_text`.
_error_text = error_text

#: Statuses with which a server refuses lines it understood: a type conflict, a line it
#: cannot parse (400 on every generation; 422 for type conflicts on 2.x and Cloud, and for
#: schema limits on 3.x). Sending the other lines again on their own can store them.
REFUSED_STATUSES = (400, 422)


def database_missing(answer: requests.Response | None) -> bool:
    """Whether an answer says the database (the bucket on 2.x and Cloud) does not exist.

    1.x says ``{"error": "database not found: \"x\""}``, 2.x
    ``{"code": "not found", "message": "bucket \"x\" not found"}``, 3.x
    ``{"error": "database not found: x"}``, all with status 404.
    """
    if answer is None or answer.status_code != 404:
        return False
    text = error_text(answer).lower()
    return "database not found" in text or ("bucket" in text and "not found" in text)


def _auth_hint(answer: requests.Response) -> str:
    """What to do when the server refused the credentials; empty otherwise."""
    if answer.status_code not in (401, 403):
        return ""
    return (
        ". The server wants other credentials: pass token=... (INFLUXDB_TOKEN), or "
        "username=... and password=... (INFLUXDB_USERNAME, INFLUXDB_PASSWORD), that may "
        "read and write this database"
    )


def _reason(exc: requests.RequestException) -> str:
    # urllib3 wraps the last error of its retries; the innermost one says why.
    reason = exc
    while reason.__context__ is not None and not isinstance(reason, ConnectionRefusedError):
        reason = reason.__context__
    return str(reason) if reason is not exc else str(exc)
