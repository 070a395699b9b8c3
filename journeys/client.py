"""The connection to an InfluxDB server, through its v1 HTTP API.

:class:`InfluxDB` holds one kept-alive HTTP session with retries, and offers
what a notebook needs: :meth:`~InfluxDB.write` a frame, :meth:`~InfluxDB.query`
events back, and :meth:`~InfluxDB.influxql` for anything else.

The v1 API (``/ping``, ``/write``, ``/query``) is what InfluxDB 1.x speaks and
what 2.x and 3.x still serve for compatibility.

# Limitation: only the v1 API is implemented. InfluxDB 2.x, 3.x and Cloud
# answer it when a database/retention-policy mapping exists for the bucket;
# writing through their native v2 API with influxdb-client would remove that
# set-up step.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from journeys.config import Settings
from journeys.errors import JourneysError, ServerError

if TYPE_CHECKING:
    from journeys.write import WriteReport

__all__ = ["InfluxDB", "connect", "connect_or_start"]

logger = logging.getLogger(__name__)

#: Statuses worth trying again: the server is busy, restarting or overloaded.
RETRY_STATUSES = (429, 500, 502, 503, 504)


class InfluxDB:
    """A connection to one database of an InfluxDB server.

    Parameters
    ----------
    url : str, optional
        The server's address, e.g. ``http://127.0.0.1:8086``. Missing
        settings come from the environment, see :mod:`journeys.config`.
    database : str, optional
        The database events are written to and read from (``journeys``).
    token, username, password : str, optional
        Credentials; none are needed for a server without authentication.
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
    >>> report = db.write(jy.generate(users=100, seed=1))  # doctest: +SKIP
    >>> events = db.query("2024-05-01", "2024-06-01")  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        database: str | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
    ):
        settings = Settings.resolve(
            url, database=database, token=token, username=username, password=password
        )
        if not settings.url:
            raise JourneysError(
                "no InfluxDB address: pass url=... (--url), set INFLUXDB_URL, or start a "
                "throwaway server with `journeys server` (jy.LocalInfluxDB() in Python)"
            )
        self.url = _normalise_url(settings.url)
        self.database = settings.database
        self.timeout = timeout
        self.session = _session(settings, retries)
        # One attempt per call: the writer decides itself when to try a batch again.
        self._write_session = _session(settings, 0)
        #: The throwaway server this connection started, if any (see connect_or_start).
        self.local = None

    def __enter__(self) -> InfluxDB:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session, and stop the throwaway server this connection started."""
        self.session.close()
        self._write_session.close()
        if self.local is not None:
            self.local.stop()

    def __repr__(self) -> str:
        return f"<InfluxDB {self.url} database={self.database!r}>"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send one HTTP request, retried as configured; raise on no answer.

        Returns the response whatever its status: the caller decides what an
        error status means.
        """
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, f"{self.url}{path}", **kwargs)
        except requests.RequestException as exc:
            raise ServerError(f"could not reach InfluxDB at {self.url}: {_reason(exc)}") from exc

    def post_lines(self, body: bytes, *, content_encoding: str | None = None) -> requests.Response:
        """Post one body of line protocol (nanosecond times) to the database, once.

        This is the one place that knows the server's write endpoint; the
        writer (:mod:`journeys.write`) batches, retries and spools around it.

        Parameters
        ----------
        body : bytes
            Lines of line protocol, already encoded (and compressed when
            ``content_encoding`` says so).
        content_encoding : {None, "gzip"}
            How ``body`` is compressed.

        Returns
        -------
        requests.Response
            The answer, whatever its status.

        Raises
        ------
        ServerError
            When no answer came (no connection, a timeout).
        """
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if content_encoding:
            headers["Content-Encoding"] = content_encoding
        try:
            return self._write_session.post(
                f"{self.url}/write",
                params={"db": self.database, "precision": "ns"},
                data=body,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ServerError(f"could not reach InfluxDB at {self.url}: {_reason(exc)}") from exc

    def ping(self) -> str:
        """Check that the server answers; return its version."""
        answer = self.request("GET", "/ping")
        if answer.status_code not in (200, 204):
            raise ServerError("ping failed", status=answer.status_code, detail=answer.text)
        return answer.headers.get("X-Influxdb-Version", "unknown")

    def create_database(self) -> None:
        """Create the database if it does not exist yet."""
        self.influxql(f"CREATE DATABASE {quote_identifier(self.database)}", method="POST")

    def influxql(
        self, statement: str, *, method: str = "GET", chunk_size: int = 0
    ) -> list[dict[str, Any]]:
        """Run InfluxQL and return its results, one dict per statement.

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
            raise ServerError(
                f"the query was refused: {_error_text(answer)}",
                status=answer.status_code,
                detail=_error_text(answer),
            )
        logger.debug("InfluxQL: %s", statement)
        try:
            yield from self._results_of(answer)
        except requests.RequestException as exc:
            raise ServerError(
                f"the answer of InfluxDB at {self.url} broke off: {_reason(exc)}"
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
    """``http://`` when no scheme is given, InfluxDB's port 8086 when no port is."""
    url = url if "://" in url else f"http://{url}"
    parts = urllib.parse.urlsplit(url.rstrip("/"))
    if parts.port is None:
        parts = parts._replace(netloc=f"{parts.netloc}:8086")
    return urllib.parse.urlunsplit(parts)


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


def _error_text(answer: requests.Response) -> str:
    try:
        return answer.json().get("error", answer.text).strip()
    except ValueError:
        return answer.text.strip() or answer.reason


def _reason(exc: requests.RequestException) -> str:
    # urllib3 wraps the last error of its retries; the innermost one says why.
    reason = exc
    while reason.__context__ is not None and not isinstance(reason, ConnectionRefusedError):
        reason = reason.__context__
    return str(reason) if reason is not exc else str(exc)
