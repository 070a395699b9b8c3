"""The collector's configuration: one TOML file, checked whole before the service starts.

A file names the sites and their write keys, the spool folder and its bounds,
the limits of a request, and the InfluxDB the events go to::

    [server]
    host = "127.0.0.1"          # --host overrides
    port = 8000                 # --port overrides
    forwarded_allow_ips = ["127.0.0.1"]  # proxies whose X-Forwarded-For names the client

    [influxdb]
    url = "http://127.0.0.1:8086"   # or INFLUXDB_URL
    database = "journeys"           # or INFLUXDB_DATABASE
    # token = "..."                 # better: INFLUXDB_TOKEN in the service's environment
    layout = "default"

    [spool]
    folder = "spool"            # relative to this file; holds events.sqlite3
    max_events = 1_000_000      # events waiting for InfluxDB at most, then 503
    max_bytes = "1GiB"

    [limits]                    # of one request; see journeys.collect.contract.Limits
    max_events = 500
    max_age = 2_592_000         # seconds an event may be old; false for no bound

    [sites.shop]                # one table per site
    keys = ["jk_..."]           # made by `journeys collect --new-key`
    origins = ["https://shop.example.com", "https://*.shop.example.com"]
    rate = 200                  # requests per second, all senders of a key together
    burst = 1000
    client_rate = 5             # and per client address (leave out for no such bound)
    client_burst = 20

Every section but ``[sites.*]`` and ``[spool] folder`` may be left out, and
every setting in them has a default (those of :class:`CollectorSettings` and
:class:`~journeys.collect.contract.Limits`; ``[influxdb] timeout``, seconds to
wait for a write's answer, 10; ``[server] flush_timeout``, seconds a shutdown
spends writing the queue to InfluxDB, 10; ``[spool] dedup_days``, how long an
``event_id`` is remembered, 7; ``[limits] max_age = false`` for no bound).
Everything is checked when the file is read: an unknown section or key, a
wrong type, a bad origin or a key used twice raises
:class:`journeys.ConfigError` naming the file, the section and key, what came
and what to do, so a typo never falls back to a default silently.

The InfluxDB settings not in the file come from the environment as for every
journeys command (:mod:`journeys.config`): ``INFLUXDB_URL``,
``INFLUXDB_DATABASE``, ``INFLUXDB_TOKEN`` and the others. The token is kept
out of every ``repr``, log line and answer; a file holding one that others may
read is warned about when it is loaded.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journeys.client import InfluxDB
from journeys.collect.contract import Limits
from journeys.collect.keys import MIN_KEY_LENGTH, WriteKey, normalise_origin
from journeys.config import Settings
from journeys.errors import ConfigError
from journeys.schema import LAYOUTS

__all__ = ["CollectorSettings", "Site", "load_settings"]

logger = logging.getLogger(__name__)

#: The name of the SQLite file the spool folder holds.
STORE_FILE = "events.sqlite3"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SITE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Site:
    """A site (or app) that posts events, with its write keys and allowed origins.

    Attributes
    ----------
    name : str
        Names the site in logs and keeps its events' ids apart from other sites'.
    keys : tuple of str
        Its write keys; several, so that a key can be replaced without a gap.
    origins : tuple of str
        The browser origins allowed to post (see :mod:`journeys.collect.keys`).
    rate, burst : float, int
        Requests per second allowed per key, and at once.
    client_rate, client_burst : float or None, int
        The same per client address and key; None for no bound per address.
    """

    name: str
    keys: tuple[str, ...] = field(repr=False)
    origins: tuple[str, ...] = ()
    rate: float = 200.0
    burst: int = 1000
    client_rate: float | None = None
    client_burst: int = 20


@dataclass(frozen=True)
class CollectorSettings:
    """Everything the collector needs, checked; made by :func:`load_settings`.

    Attributes
    ----------
    sites : tuple of Site
    influxdb : journeys.config.Settings
        Where the events go; its token and password stay out of ``repr``.
    layout : str
        The layout events are written in (``default`` or ``published``).
    batch_size : int
        The most events the forwarder writes in one request.
    interval : float
        Seconds the forwarder waits for more events before writing a small batch.
    timeout : float
        Seconds to wait for InfluxDB's answer to a write.
    spool : pathlib.Path
        The folder of the durable queue (``events.sqlite3``).
    max_spool_events, max_spool_bytes : int
        Bounds of the queue; beyond them posts are answered 503.
    dedup_window : float
        Seconds an ``event_id`` is remembered to recognise a retried post.
    limits : Limits
        The limits of one request and its events.
    host, port : str, int
        Where the service listens.
    flush_timeout : float
        Seconds a shutdown waits for the queue to reach InfluxDB.
    forwarded_allow_ips : tuple of str
        The proxies whose ``X-Forwarded-For`` names the client (uvicorn's
        ``forwarded_allow_ips``; ``"*"`` for any).
    source : str
        The file the settings came from, for messages.
    """

    sites: tuple[Site, ...]
    influxdb: Settings
    spool: Path
    layout: str = "default"
    batch_size: int = 5000
    interval: float = 1.0
    timeout: float = 10.0
    max_spool_events: int = 1_000_000
    max_spool_bytes: int = 1 << 30
    dedup_window: float = 7 * 86400.0
    limits: Limits = field(default_factory=Limits)
    host: str = "127.0.0.1"
    port: int = 8000
    flush_timeout: float = 10.0
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)
    source: str = "<settings>"

    @property
    def store_path(self) -> Path:
        """The SQLite file of the durable queue."""
        return self.spool / STORE_FILE

    def write_keys(self) -> list[WriteKey]:
        """One :class:`~journeys.collect.keys.WriteKey` per key of every site."""
        return [
            WriteKey(
                key=key,
                site=site.name,
                origins=site.origins,
                rate=site.rate,
                burst=site.burst,
                client_rate=site.client_rate,
                client_burst=site.client_burst,
            )
            for site in self.sites
            for key in site.keys
        ]

    def secrets(self) -> tuple[str, ...]:
        """The credentials that must never be shown: the token and the password."""
        return tuple(s for s in (self.influxdb.token, self.influxdb.password) if s)

    def connect(self, *, timeout: float | None = None) -> InfluxDB:
        """A connection to the configured InfluxDB, without retries of its own.

        The forwarder decides when to try again; ``timeout`` defaults to
        :attr:`timeout`.
        """
        influx = self.influxdb
        return InfluxDB(
            influx.url,
            database=influx.database,
            token=influx.token,
            org=influx.org,
            username=influx.username,
            password=influx.password,
            api=influx.api,
            timeout=self.timeout if timeout is None else timeout,
            retries=0,
        )

    def replace(self, **changes) -> CollectorSettings:
        """A copy with some settings changed (``host`` and ``port`` from the command line)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "<settings>", base: Path | None = None
    ) -> CollectorSettings:
        """Settings from the tables of a configuration (what :func:`tomllib.load` gives).

        Parameters
        ----------
        data : mapping
            The sections ``server``, ``influxdb``, ``spool``, ``limits`` and ``sites``.
        source : str
            Names the configuration in messages.
        base : Path, optional
            The folder a relative spool folder is taken from; by default the
            working directory.

        Raises
        ------
        ConfigError
            Naming the section and key of every mistake, and what to write instead.
        """
        return _Reader(source, base).settings(data)


def load_settings(path: str | Path) -> CollectorSettings:
    """Read and check the collector's TOML configuration.

    Raises
    ------
    ConfigError
        When the file cannot be read or parsed, or holds a mistake: the message
        names the file, the section and key, what came and what to do.

    Examples
    --------
    >>> settings = load_settings("collector.toml")  # doctest: +SKIP
    >>> settings.sites[0].name                      # doctest: +SKIP
    'shop'
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the collector config {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 at byte {exc.start}; save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

    settings = CollectorSettings.from_dict(data, source=str(path), base=path.parent)
    if settings.secrets() and _readable_by_others(path, data):
        logger.warning(
            "%s holds an InfluxDB credential and can be read by other users: "
            "chmod 600 it, or give the token as INFLUXDB_TOKEN instead",
            path,
        )
    return settings


def _readable_by_others(path: Path, data: Mapping[str, Any]) -> bool:
    section = data.get("influxdb", {})
    in_file = isinstance(section, Mapping) and ("token" in section or "password" in section)
    return in_file and bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


class _Reader:
    """Checks the tables of a configuration, each mistake named by section and key."""

    def __init__(self, source: str, base: Path | None):
        self.source = source
        self.base = base

    def error(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {message}")

    def table(self, data: Any, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise self.error(
                where, f"expected a table, got {_kind(data)}; write {where} as a table"
            )
        unknown = [key for key in data if key not in allowed]
        if unknown:
            raise self.error(
                f"{where} {unknown[0]}",
                f"unknown setting; the settings of {where} are {', '.join(allowed)}",
            )
        return data

    def settings(self, data: Mapping[str, Any]) -> CollectorSettings:
        top = self.table(data, "the file", ("server", "influxdb", "spool", "limits", "sites"))
        server = self.table(
            top.get("server"), "[server]", ("host", "port", "flush_timeout", "forwarded_allow_ips")
        )
        influx = self.table(
            top.get("influxdb"),
            "[influxdb]",
            (
                "url",
                "database",
                "token",
                "org",
                "username",
                "password",
                "api",
                "layout",
                "batch_size",
                "interval",
                "timeout",
            ),
        )
        spool = self.table(
            top.get("spool"), "[spool]", ("folder", "max_events", "max_bytes", "dedup_days")
        )
        limit_names = tuple(f.name for f in dataclasses.fields(Limits))
        limits = self.table(top.get("limits"), "[limits]", limit_names)

        defaults = {f.name: f.default for f in dataclasses.fields(CollectorSettings)}
        return CollectorSettings(
            sites=self.sites(top.get("sites")),
            influxdb=self.influxdb(influx),
            spool=self.folder(spool),
            layout=self.choice(influx, "[influxdb]", "layout", tuple(LAYOUTS), "default"),
            batch_size=self.number(influx, "[influxdb]", "batch_size", 5000, integer=True),
            interval=self.number(influx, "[influxdb]", "interval", 1.0, low=0.01),
            timeout=self.number(influx, "[influxdb]", "timeout", 10.0, low=0.1),
            max_spool_events=self.number(
                spool, "[spool]", "max_events", defaults["max_spool_events"], integer=True
            ),
            max_spool_bytes=self.size(spool, "[spool]", "max_bytes", defaults["max_spool_bytes"]),
            dedup_window=86400.0 * self.number(spool, "[spool]", "dedup_days", 7.0, low=0.0),
            limits=self.limits(limits),
            host=self.text(server, "[server]", "host", "127.0.0.1"),
            port=self.number(server, "[server]", "port", 8000, integer=True, low=0, high=65535),
            flush_timeout=self.number(server, "[server]", "flush_timeout", 10.0, low=0.0),
            forwarded_allow_ips=self.strings(
                server, "[server]", "forwarded_allow_ips", required=False
            )
            or ("127.0.0.1",),
            source=self.source,
        )

    def influxdb(self, section: Mapping[str, Any]) -> Settings:
        names = ("url", "database", "token", "org", "username", "password", "api")
        given = {name: self.text(section, "[influxdb]", name, None) for name in names}
        resolved = Settings.resolve(given.pop("url"), **given)
        if not resolved.url:
            raise self.error(
                "[influxdb] url",
                'no InfluxDB address; add url = "http://host:8086" or set INFLUXDB_URL',
            )
        if resolved.api not in (None, "v1", "v2", "v3"):
            raise self.error(
                "[influxdb] api", f"expected v1, v2 or v3, got {resolved.api!r}; or leave it out"
            )
        return resolved

    def folder(self, section: Mapping[str, Any]) -> Path:
        if "folder" not in section:
            raise self.error(
                "[spool] folder",
                "missing; name the folder where accepted events wait for InfluxDB, e.g. "
                'folder = "/var/lib/journeys-collector" (relative paths start at the file)',
            )
        folder = Path(self.text(section, "[spool]", "folder", None)).expanduser()
        if not folder.is_absolute() and self.base is not None:
            folder = self.base / folder
        if folder.exists() and not folder.is_dir():
            raise self.error("[spool] folder", f"{folder} is a file; name a folder")
        return folder

    def limits(self, section: Mapping[str, Any]) -> Limits:
        values = {}
        for spec in dataclasses.fields(Limits):
            if spec.name in section and section[spec.name] is False and "None" in str(spec.type):
                values[spec.name] = None  # false: no bound, where Limits allows None
            elif spec.name in section:
                integer = isinstance(spec.default, int) and not isinstance(spec.default, bool)
                values[spec.name] = self.number(
                    section, "[limits]", spec.name, spec.default, integer=integer, low=0
                )
        try:
            return Limits(**values)
        except (TypeError, ValueError) as exc:
            raise self.error("[limits]", str(exc)) from None

    def sites(self, data: Any) -> tuple[Site, ...]:
        example = '[sites.shop]\nkeys = ["jk_..."]\norigins = ["https://shop.example.com"]'
        if not data:
            raise self.error(
                "[sites]",
                "no site; add a table per site with its write keys (made by "
                f"`journeys collect --new-key`) and allowed origins:\n{example}",
            )
        if not isinstance(data, Mapping):
            raise self.error("[sites]", f"expected tables [sites.NAME], got {_kind(data)}")

        sites, owners = [], {}
        for name, table in data.items():
            where = f"[sites.{name}]"
            if not _SITE_NAME.match(name):
                raise self.error(where, "a site name has letters, digits, _ . - only (1 to 64)")
            table = self.table(
                table, where, ("keys", "origins", "rate", "burst", "client_rate", "client_burst")
            )
            keys = self.strings(table, where, "keys", required=True)
            for key in keys:
                shown = key[:7] + "..."
                if len(key) < MIN_KEY_LENGTH or not key.isascii() or not key.isprintable():
                    raise self.error(
                        f"{where} keys",
                        f"the key {shown} is too short or not printable ASCII; make keys with "
                        f"`journeys collect --new-key` (at least {MIN_KEY_LENGTH} characters)",
                    )
                if key in owners:
                    raise self.error(
                        f"{where} keys",
                        f"the key {shown} is also a key of [sites.{owners[key]}]; give each "
                        "site its own keys (`journeys collect --new-key`)",
                    )
                owners[key] = name
            origins = []
            for origin in self.strings(table, where, "origins", required=False):
                try:
                    origins.append(normalise_origin(origin))
                except ValueError as exc:
                    raise self.error(f"{where} origins", str(exc)) from None
            sites.append(
                Site(
                    name=name,
                    keys=keys,
                    origins=tuple(origins),
                    rate=self.number(table, where, "rate", 200.0, low=1e-3),
                    burst=self.number(table, where, "burst", 1000, integer=True, low=1),
                    client_rate=self.number(table, where, "client_rate", None, low=1e-3),
                    client_burst=self.number(
                        table, where, "client_burst", 20, integer=True, low=1
                    ),
                )
            )
        return tuple(sites)

    def strings(self, table, where: str, key: str, *, required: bool) -> tuple[str, ...]:
        value = table.get(key)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.error(
                f"{where} {key}",
                f'expected a list of strings, got {_kind(value)}; write {key} = ["...", ...]',
            )
        return tuple(value)

    def text(self, table, where: str, key: str, default):
        value = table.get(key, default)
        if value is not default and (not isinstance(value, str) or not value):
            raise self.error(f"{where} {key}", f"expected a text, got {_kind(value)}")
        return value

    def choice(self, table, where: str, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(table, where, key, default)
        if value not in choices:
            raise self.error(
                f"{where} {key}", f"expected one of {', '.join(choices)}, got {value!r}"
            )
        return value

    def number(self, table, where, key, default, *, integer=False, low=None, high=None):
        value = table.get(key, default)
        if value is None and default is None:
            return None
        wanted = "a whole number" if integer else "a number"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer and not isinstance(value, int))
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise self.error(f"{where} {key}", f"expected {wanted}, got {_kind(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise self.error(f"{where} {key}", f"expected {wanted} {bounds}, got {value}")
        return value

    def size(self, table, where: str, key: str, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, str):
            match = _SIZE.match(value)
            if match is None:
                raise self.error(
                    f"{where} {key}",
                    f'{value!r} is not a size; write bytes (1073741824) or e.g. "512MB", "1GiB"',
                )
            unit = (match.group(2) or "b").lower()
            return int(float(match.group(1)) * _UNITS[unit])
        return self.number(table, where, key, default, integer=True, low=1)


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, bool | int | float):
        return repr(value)
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"
