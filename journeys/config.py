"""Where journeys finds its InfluxDB: arguments first, then environment variables.

This is the only module that reads the environment. Each setting comes from
the first of these that is set:

================  ================================  =========================
setting           environment variables             default
================  ================================  =========================
url               ``INFLUXDB_URL``,                 none (the demo and the
                  ``INFLUXDB_V2_URL``               notebooks then start a
                                                    throwaway server)
database          ``INFLUXDB_DATABASE``,            ``journeys``
                  ``INFLUXDB_V2_BUCKET``
token             ``INFLUXDB_TOKEN``,               none
                  ``INFLUXDB_V2_TOKEN``
org               ``INFLUXDB_ORG``,                 the token's only
                  ``INFLUXDB_V2_ORG``               organisation (2.x, Cloud)
username          ``INFLUXDB_USERNAME``             none
password          ``INFLUXDB_PASSWORD``             none
api               ``INFLUXDB_API``                  detected from ``/ping``
spool folder      ``JOURNEYS_SPOOL_DIR``            ``~/.cache/journeys/spool``
================  ================================  =========================

The ``INFLUXDB_V2_*`` names are those of influxdb-client, so a machine set up
for it works unchanged; ``database`` is the bucket of InfluxDB 2.x and Cloud,
and ``org`` only matters there. ``api`` (``v1``, ``v2`` or ``v3``) forces the
API instead of asking the server which generation it is.

Credentials are sent as InfluxDB expects them (see :mod:`journeys.client`): a
username and password, or a token of the form ``user:password``, as HTTP basic
authentication; any other token as ``Authorization: Token ...`` (1.8 and later,
2.x, Cloud) or ``Authorization: Bearer ...`` (3.x). Neither tokens nor
passwords appear in the ``repr`` of these settings.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "spool_dir"]

DEFAULT_DATABASE = "journeys"

_ENV = {
    "url": ("INFLUXDB_URL", "INFLUXDB_V2_URL"),
    "database": ("INFLUXDB_DATABASE", "INFLUXDB_V2_BUCKET"),
    "token": ("INFLUXDB_TOKEN", "INFLUXDB_V2_TOKEN"),
    "org": ("INFLUXDB_ORG", "INFLUXDB_V2_ORG"),
    "username": ("INFLUXDB_USERNAME",),
    "password": ("INFLUXDB_PASSWORD",),
    "api": ("INFLUXDB_API",),
}


def _from_env(setting: str) -> str | None:
    for name in _ENV[setting]:
        value = os.environ.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True)
class Settings:
    """How to reach an InfluxDB server.

    Use :meth:`resolve` to fill what the caller left out from the environment.
    """

    url: str | None = None
    database: str = DEFAULT_DATABASE
    token: str | None = field(default=None, repr=False)
    org: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api: str | None = None

    def __repr__(self) -> str:
        # A password written into the address stays out too, as the token does.
        return (
            f"Settings(url={shown_url(self.url)!r}, database={self.database!r}, "
            f"org={self.org!r}, username={self.username!r}, api={self.api!r})"
        )

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        *,
        database: str | None = None,
        token: str | None = None,
        org: str | None = None,
        username: str | None = None,
        password: str | None = None,
        api: str | None = None,
    ) -> Settings:
        """Settings from the arguments given, the environment for the others."""
        return cls(
            url=url or _from_env("url"),
            database=database or _from_env("database") or DEFAULT_DATABASE,
            token=token or _from_env("token"),
            org=org or _from_env("org"),
            username=username or _from_env("username"),
            password=password or _from_env("password"),
            api=api or _from_env("api"),
        )


def shown_url(url: str | None) -> str | None:
    """``url`` without a password written into it, for messages, logs and reprs."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def spool_dir() -> Path:
    """The folder where lines that could not be written are kept."""
    configured = os.environ.get("JOURNEYS_SPOOL_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "journeys" / "spool"
