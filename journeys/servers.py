"""Which InfluxDB answers: its generation, told from the headers of ``/ping``.

Every InfluxDB answers ``GET /ping``, and says what it is in two headers:

=========================  ========================  ==========================
server                     ``X-Influxdb-Version``    ``X-Influxdb-Build``
=========================  ========================  ==========================
InfluxDB 1.x               ``1.8.10``                ``OSS`` or ``ENT``
InfluxDB 2.x               ``v2.7.11`` or ``2.7.1``  ``OSS``
InfluxDB Cloud (TSM and    none, or empty            ``Cloud``, ``cloud2``
Serverless)
InfluxDB 3 Core and        ``3.2.0``                 ``Core`` or ``Enterprise``
Enterprise
=========================  ========================  ==========================

InfluxDB 3 answers ``/ping`` with 200 and a JSON body (``version``,
``revision``, ``process_id``); 1.x and 2.x with 204 and no body.

The generation decides the API journeys speaks (see :mod:`journeys.client`):
``"v1"`` writes to ``/write``; ``"v2"`` (2.x and every Cloud) writes through
influxdb-client's v2 write API into a bucket of an organisation; ``"v3"``
writes to ``/api/v3/write_lp``. All three read with InfluxQL over ``/query``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["GENERATIONS", "Server", "check_api", "detect_server"]

#: The API generations journeys speaks, as ``api=`` takes them.
GENERATIONS = ("v1", "v2", "v3")

_MAJOR = re.compile(r"^v?(\d+)\.")


@dataclass(frozen=True)
class Server:
    """What answers at the address of a connection.

    Attributes
    ----------
    generation : {"v1", "v2", "v3"}
        The API journeys speaks with it.
    version : str
        What the server says its version is, without a leading ``v``; empty
        when it does not say (InfluxDB Cloud) or when ``api=`` was forced.
    build : str
        ``OSS``, ``ENT``, ``Core``, ``Enterprise``, ``Cloud``...; empty when
        not said.
    """

    generation: str
    version: str = ""
    build: str = ""

    @property
    def cloud(self) -> bool:
        """Whether this is InfluxDB Cloud, which keeps data in buckets of one organisation."""
        return "cloud" in self.build.lower()

    def __str__(self) -> str:
        if self.cloud:
            said = [part for part in (self.build, self.version) if part not in ("", "Cloud")]
            return "InfluxDB Cloud" + (f" ({', '.join(said)})" if said else "")
        if not self.version and not self.build:
            return f"InfluxDB (assumed {self.generation} API)"
        return f"InfluxDB {self.version or '?'} {self.build}".rstrip()


def check_api(api: str | None) -> str | None:
    """``api`` as given when it is one of :data:`GENERATIONS` or None; else a clear error."""
    if api is None or api in GENERATIONS:
        return api
    raise ValueError(
        f"api={api!r} is not an InfluxDB API journeys speaks: pass one of "
        f"{', '.join(map(repr, GENERATIONS))}, or None to detect it from the server's /ping"
    )


def detect_server(headers: Mapping[str, str], body: bytes | str = b"") -> Server:
    """The server a ``/ping`` answer comes from.

    Parameters
    ----------
    headers : mapping
        The answer's headers; names are matched without regard to case.
    body : bytes or str
        The answer's body: InfluxDB 3 puts its version there too.

    Returns
    -------
    Server
        Generation ``"v1"`` when nothing says otherwise, since the v1 API is
        the one every generation serves.

    Examples
    --------
    >>> detect_server({"X-Influxdb-Version": "v2.7.11", "X-Influxdb-Build": "OSS"})
    Server(generation='v2', version='2.7.11', build='OSS')
    >>> detect_server({"X-Influxdb-Version": "1.6.7~rc0", "X-Influxdb-Build": "OSS"}).generation
    'v1'
    """
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    version = lowered.get("x-influxdb-version", "")
    build = lowered.get("x-influxdb-build", "")
    if not version:
        version = _version_in_body(body)
    version = version[1:] if version[:1] in ("v", "V") else version
    if version.lower() == "unknown":
        version = ""

    # Every Cloud, whatever its storage engine, takes writes as buckets of an organisation.
    if "cloud" in build.lower():
        return Server("v2", version, build)
    major = _MAJOR.match(version + ".")
    generation = {"1": "v1", "2": "v2", "3": "v3"}.get(major.group(1) if major else "", "v1")
    if not major and build.lower() in ("core", "enterprise"):
        generation = "v3"
    return Server(generation, version, build)


def _version_in_body(body: bytes | str) -> str:
    try:
        document = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(document, dict) and isinstance(document.get("version"), str):
        return document["version"]
    return ""
