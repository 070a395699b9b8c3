"""InfluxDB 2.x and Cloud through influxdb-client: writes into buckets, and the buckets.

InfluxDB 2.x and every InfluxDB Cloud keep points in *buckets* that belong to
an *organisation*, and take them through the v2 write API
(``POST /api/v2/write?org=&bucket=&precision=ns``). :class:`V2` holds one
:class:`influxdb_client.InfluxDBClient` for a connection and offers the three
things :mod:`journeys.client` needs of it:

- :meth:`V2.post_lines` sends one body of line protocol once, through the
  client's generated ``WriteService`` without reading the answer for it, so
  that the answer, whatever its status, comes back whole (status, headers,
  body) as a :class:`requests.Response`, as the writer expects of every
  generation. The body goes as it is: a gzip body keeps its
  ``Content-Encoding``, and influxdb-client's own compression stays off.
- :attr:`V2.org` is the organisation given, or else the only one the token
  can see (as on Cloud, where a token belongs to one).
- :meth:`V2.create_bucket` makes the bucket when it is missing.

influxdb-client's own retries stay off: the writer decides when to try again.
"""

from __future__ import annotations

import logging

import requests
import urllib3
from influxdb_client import InfluxDBClient, WriteService
from influxdb_client.client._base import LOGGERS_NAMES
from influxdb_client.rest import ApiException
from requests.structures import CaseInsensitiveDict

from journeys.client import _shown, _unreachable, error_text
from journeys.errors import JourneysError, ServerError

__all__ = ["V2"]

logger = logging.getLogger(__name__)


class V2:
    """The v2 API of one InfluxDB 2.x or Cloud server, for one connection.

    Parameters
    ----------
    url : str
        The server's address.
    token, username, password : str, optional
        A token, or a username and password (influxdb-client then signs in).
    org : str, optional
        The organisation's name or ID; found from the token when not given.
    timeout : float
        Seconds to wait for each answer.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        username: str | None,
        password: str | None,
        org: str | None,
        timeout: float,
    ):
        self.url = url
        self._write_url = f"{_shown(url)}/api/v2/write"
        self._org = org

        # influxdb-client sets the levels of urllib3's logger and its own when made; a
        # notebook's logging set-up stays as it was.
        names = ("urllib3", *LOGGERS_NAMES)
        levels = {name: logging.getLogger(name).level for name in names}
        self._client = InfluxDBClient(
            url=url,
            token=token,
            org=org,
            username=username,
            password=password,
            timeout=int(timeout * 1000),
            enable_gzip=False,
            retries=False,
        )
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

    def close(self) -> None:
        """Close influxdb-client's connections (and sign out, after a sign-in)."""
        try:
            self._client.close()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            logger.debug("influxdb-client did not close cleanly: %s", exc)

    @property
    def client(self) -> InfluxDBClient:
        """The influxdb-client behind this connection, for what journeys does not offer."""
        return self._client

    @property
    def org(self) -> str:
        """The organisation written to: the one given, or the token's only one.

        Raises
        ------
        ServerError
            When the server does not answer, or refuses to list organisations.
        JourneysError
            When the token sees several organisations, or none.
        """
        try:
            return self._find_org()
        except ApiException as exc:
            raise _server_error("could not list the organisations of the token", exc) from exc

    def _find_org(self) -> str:
        """:attr:`org`, letting a refusal of the server through as influxdb-client raised it."""
        if self._org:
            return self._org
        try:
            orgs = self._client.organizations_api().find_organizations()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unreachable(self.url, str(exc)) from exc
        if len(orgs) != 1:
            names = ", ".join(sorted(org.name for org in orgs)) or "none"
            raise JourneysError(
                f"InfluxDB at {_shown(self.url)} keeps buckets in organisations, and the "
                f"token sees {len(orgs)} ({names}): say which one with org=... or INFLUXDB_ORG"
            )
        self._org = orgs[0].name
        logger.info("writing into the organisation %s, the only one the token sees", self._org)
        return self._org

    def post_lines(
        self, bucket: str, body: bytes, *, content_encoding: str | None = None
    ) -> requests.Response:
        """Post one body of line protocol to ``bucket`` once; the answer whatever its status.

        When the organisation must be looked up first and the server refuses
        that (a token without read access to it), that refusal is the answer.

        Raises
        ------
        ServerError
            When no answer came (no connection, a timeout).
        """
        options = {"content_encoding": content_encoding} if content_encoding else {}
        try:
            raw = WriteService(self._client.api_client).post_write(
                org=self._find_org(),
                bucket=bucket,
                body=body,
                precision="ns",
                content_type="text/plain; charset=utf-8",
                _preload_content=False,
                **options,
            )
        except ApiException as exc:
            if exc.status in (None, 0):
                raise _unreachable(self.url, str(exc.reason)) from exc
            return _response(exc.status, exc.body, exc.headers, exc.reason, self._write_url)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unreachable(self.url, str(exc)) from exc

        try:
            data = raw.data
        finally:
            raw.release_conn()
        return _response(raw.status, data, raw.headers, raw.reason, self._write_url)

    def create_bucket(self, name: str) -> None:
        """Create the bucket ``name`` in :attr:`org` unless it exists."""
        buckets = self._client.buckets_api()
        try:
            if buckets.find_bucket_by_name(name) is not None:
                return
            buckets.create_bucket(bucket_name=name, org=self.org)
        except ApiException as exc:
            if exc.status == 422 and b"already exists" in (_as_bytes(exc.body)):
                return
            raise _server_error(
                f"could not create the bucket {name!r}; create it in the InfluxDB UI or with "
                f"`influx bucket create --name {name} --org {self._org or 'ORG'}`, or use a "
                "token allowed to create buckets",
                exc,
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unreachable(self.url, str(exc)) from exc
        logger.info("created the bucket %s in the organisation %s", name, self._org)


def _server_error(what: str, exc: ApiException) -> ServerError:
    answer = _response(exc.status, exc.body, exc.headers, exc.reason, "")
    detail = error_text(answer)
    return ServerError(f"{what}: {detail}", status=exc.status, detail=detail)


def _as_bytes(body) -> bytes:
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode("utf-8")


def _response(status, body, headers, reason, url: str) -> requests.Response:
    """An answer of influxdb-client in the form :mod:`requests` gives it."""
    answer = requests.Response()
    answer.status_code = int(status)
    answer._content = _as_bytes(body)
    answer._content_consumed = True
    answer.headers = CaseInsensitiveDict(dict(headers or {}))
    answer.reason = reason or ""
    answer.url = url
    answer.encoding = "utf-8"
    return answer
