"""Who may post events: write keys, the origins each allows, and a rate per key.

A write key is public: it sits in the page that sends events, as the
``data-key`` of the snippet's script tag. It says which site the events are
for, and lets the collector refuse posts nobody configured, limit each sender's
rate, and tell browsers which pages may post. It only ever allows writing events;
it can read nothing, so it is no secret like the InfluxDB token, which stays in
the collector's configuration.

Keys are looked up in constant time: the presented key is hashed (SHA-256) and
the hash looked up, then compared with the stored key by
:func:`hmac.compare_digest`. How long the lookup takes depends on the hash only,
which a sender cannot steer towards a stored key, so timing tells nothing about
the keys.

Origins are the ``scheme://host[:port]`` a browser sends in its ``Origin``
header. Each key lists the ones allowed: exact origins
(``https://shop.example.com``), subdomains (``https://*.example.com`` allows
``https://a.example.com`` and ``https://a.b.example.com``, not
``https://example.com``), or ``*`` for any. A request without an ``Origin``
header (an app, a server, ``curl``) is not a browser's and is accepted, since
the key alone is what identifies it; the check keeps other people's pages from
posting in a visitor's browser.

The rate is a token bucket per key, counted in requests: ``burst`` requests at
once, refilled at ``rate`` per second. It is checked before the body is read,
so a flood costs the collector as little as possible. A refused request is told
how many seconds to wait (``Retry-After``). A site's key is shared by all its
visitors, so one sender flooding with it would use up the budget of everyone;
``client_rate`` and ``client_burst`` add a bucket per client address and key
(:class:`ClientBuckets`), checked first, so that sender alone is refused.
Behind a reverse proxy the address is the one uvicorn takes from
``X-Forwarded-For`` of the proxies it trusts (``[server] forwarded_allow_ips``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ClientBuckets",
    "KeyRing",
    "TokenBucket",
    "WriteKey",
    "new_key",
    "normalise_origin",
]

#: What every made key starts with, so a key is recognised as one when it is seen.
KEY_PREFIX = "jk_"

#: The shortest key accepted in a configuration: enough that none is guessed.
MIN_KEY_LENGTH = 16

_DEFAULT_PORTS = {"http": 80, "https": 443}


def new_key() -> str:
    """A new random write key: ``jk_`` and 32 URL-safe characters (192 bits).

    Examples
    --------
    >>> key = new_key()
    >>> key.startswith("jk_"), len(key)
    (True, 35)
    """
    return KEY_PREFIX + secrets.token_urlsafe(24)


def normalise_origin(text: str) -> str:
    """An allowed origin as browsers send it: lower case, no default port, no slash.

    Accepts ``*``, exact origins and ``scheme://*.domain`` patterns.

    Raises
    ------
    ValueError
        For anything else (a path, a query, no scheme), saying what to write.
    """
    if text == "*":
        return text
    parts = urllib.parse.urlsplit(text.strip())
    shown = f"{text!r} is not an origin"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown}: write scheme://host[:port], e.g. https://shop.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"{shown}: an origin is scheme://host[:port] only, without a path, query or user; "
            f"write {parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        )
    host = parts.hostname.lower()
    if "*" in host and not (host.startswith("*.") and "*" not in host[2:]):
        raise ValueError(f"{shown}: a wildcard stands only first, as in https://*.example.com")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown}: {exc}") from None
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


@dataclass(frozen=True)
class _Origins:
    """Allowed origins, matched against a browser's ``Origin`` header."""

    any: bool
    exact: frozenset[str]
    suffixes: tuple[tuple[str, str], ...]  # (scheme://, .domain[:port]) of the wildcards

    @classmethod
    def of(cls, origins: Iterable[str]) -> _Origins:
        normalised = [normalise_origin(origin) for origin in origins]
        suffixes = tuple(
            (origin.partition("*")[0], origin.partition("*")[2])
            for origin in normalised
            if "*." in origin
        )
        exact = frozenset(o for o in normalised if o != "*" and "*." not in o)
        return cls(any="*" in normalised, exact=exact, suffixes=suffixes)

    def allow(self, origin: str) -> bool:
        if self.any or origin in self.exact:
            return True
        for scheme, suffix in self.suffixes:
            if origin.startswith(scheme) and origin.endswith(suffix):
                host = origin[len(scheme) : len(origin) - len(suffix)]
                if host and "/" not in host and ":" not in host:
                    return True
        return False


class TokenBucket:
    """``burst`` requests at once, refilled at ``rate`` per second.

    Parameters
    ----------
    rate : float
        Requests per second allowed on average.
    burst : int
        Requests allowed at once after a quiet spell.
    clock : callable
        Seconds, monotonic; a parameter so that tests can move time.
    """

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, *, clock=time.monotonic):
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def take(self) -> float:
        """Take one token; 0.0 when there was one, else the seconds until there is."""
        now = self._clock()
        tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> int:
        """Whole seconds for a ``Retry-After`` header: at least 1, never early."""
        return max(1, math.ceil(wait))


class ClientBuckets:
    """A token bucket per client address, for one key.

    At most ``max_clients`` addresses are remembered; past that the buckets are
    forgotten all at once (every address starts again with a full burst), which
    bounds the memory a flood from many addresses can take.
    """

    __slots__ = ("_buckets", "_clock", "burst", "max_clients", "rate")

    def __init__(self, rate: float, burst: int, *, clock=time.monotonic, max_clients=100_000):
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, client: str) -> float:
        """Take a token of ``client``'s bucket; as :meth:`TokenBucket.take`."""
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._buckets.clear()
            bucket = self._buckets[client] = TokenBucket(self.rate, self.burst, clock=self._clock)
        return bucket.take()


@dataclass(frozen=True)
class WriteKey:
    """One write key: the site it writes for, its allowed origins and its rate.

    The key itself is shown by its first characters only in ``repr``, so that logs
    of a configuration do not spread it.
    """

    key: str = field(repr=False)
    site: str
    origins: tuple[str, ...]
    rate: float
    burst: int
    client_rate: float | None = None
    client_burst: int = 20

    def __post_init__(self):
        object.__setattr__(self, "_origins", _Origins.of(self.origins))

    @property
    def shown(self) -> str:
        """The key's first characters, to name it in logs."""
        return self.key[:7] + "..."

    def allows(self, origin: str) -> bool:
        """Whether a browser page of ``origin`` may post with this key."""
        return self._origins.allow(origin)  # type: ignore[attr-defined]


class KeyRing:
    """The configured write keys, with a token bucket for each.

    Parameters
    ----------
    keys : sequence of WriteKey
        Keys must be unique.
    clock : callable
        Seconds, monotonic, for the buckets.
    """

    def __init__(self, keys: Sequence[WriteKey], *, clock=time.monotonic):
        self.keys = tuple(keys)
        self._by_digest: dict[bytes, tuple] = {}
        for key in self.keys:
            secret = key.key.encode()
            digest = hashlib.sha256(secret).digest()
            if digest in self._by_digest:
                raise ValueError(f"the write key {key.shown} is configured twice")
            bucket = TokenBucket(key.rate, key.burst, clock=clock)
            clients = None
            if key.client_rate is not None:
                clients = ClientBuckets(key.client_rate, key.client_burst, clock=clock)
            self._by_digest[digest] = (secret, (key, bucket, clients))

    def find(self, presented: str) -> tuple[WriteKey, TokenBucket, ClientBuckets | None] | None:
        """The key, its bucket and its client buckets (None when not configured) for a
        key a request presented; None when the key is unknown."""
        secret = presented.encode("utf-8", "surrogateescape")
        entry = self._by_digest.get(hashlib.sha256(secret).digest())
        if entry is None or not hmac.compare_digest(entry[0], secret):
            return None
        return entry[1]

    def any_allows(self, origin: str) -> bool:
        """Whether some key allows ``origin`` (for a preflight that names no key)."""
        return any(key.allows(origin) for key in self.keys)
