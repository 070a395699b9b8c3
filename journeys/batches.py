"""Cutting lines of line protocol into request bodies the server accepts.

A batch holds at most ``batch_size`` lines and, once encoded in UTF-8, at most
``batch_bytes`` bytes, far below the body limit of InfluxDB 1.x
(``max-body-size``, 25 MB by default), so that one request never holds the
server's memory for long. A single line larger than ``batch_bytes`` goes
alone; the server then says whether it takes it (413 when it does not).

Bodies are compressed with gzip (level 1, the fastest) when asked: on a
network that saves most of the time on the wire, since line protocol
compresses about eight times; on one machine it costs more CPU than it saves,
which is why the writer leaves it off for a server on the loopback address.
"""

from __future__ import annotations

import zlib
from urllib.parse import urlsplit

import numpy as np

__all__ = ["batch_bounds", "encode_body", "gzip_body", "is_loopback"]

#: InfluxDB 1.x refuses larger bodies unless its ``max-body-size`` was raised.
SERVER_BODY_LIMIT = 25_000_000


def batch_bounds(lines: list[str], batch_size: int, batch_bytes: int) -> list[tuple[int, int]]:
    """Split ``lines`` into (start, stop) ranges of at most ``batch_size`` lines and
    ``batch_bytes`` bytes (a line longer than that alone)."""
    if not lines:
        return []
    sizes = np.fromiter((len(line) for line in lines), dtype=np.int64, count=len(lines)) + 1
    ends = np.cumsum(sizes)
    bounds, start = [], 0
    while start < len(lines):
        base = ends[start - 1] if start else 0
        # The last line that keeps the batch within batch_bytes characters.
        stop = int(np.searchsorted(ends, base + batch_bytes, side="right"))
        stop = max(stop, start + 1)
        stop = min(stop, start + batch_size, len(lines))
        bounds.append((start, stop))
        start = stop
    return bounds


def encode_body(lines: list[str], start: int, stop: int) -> bytes:
    """The request body of ``lines[start:stop]``: one line each, in UTF-8.

    The bounds count characters; text beyond ASCII can make the body larger
    than ``batch_bytes``, which the sender checks here and splits.
    """
    return ("\n".join(lines[start:stop]) + "\n").encode("utf-8")


def gzip_body(body: bytes) -> bytes:
    """``body`` in a gzip container, at the fastest level."""
    # zlib releases the GIL while it compresses, so the writer's threads
    # compress in parallel.
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (where gzip costs more than it saves)."""
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
