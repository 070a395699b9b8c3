"""Spool files: the lines a write could not deliver, kept to be sent again.

A spool file is line protocol with a first comment line that says where the
lines belong, for example::

    # journeys spool: precision=ns layout=default database="web shop"

``journeys write FILE.lp`` reads that line and replays the file into that
database, numbering tied events again against what was stored meanwhile.
Lines may hold line breaks inside quoted strings, so a spool file is read
with :func:`journeys.lineprotocol.split_lines`, never line by line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

from journeys.config import spool_dir

__all__ = ["read_spool_header", "write_spool"]

logger = logging.getLogger(__name__)


def write_spool(
    database: str, lines: list[str], ranges: list[tuple[int, int]], layout: str | None
) -> Path | None:
    """Keep ``lines[start:stop]`` of every range in a new spool file; return its path.

    The file goes to the spool folder (:func:`journeys.config.spool_dir`), or
    when that cannot be written to a folder in the system's temporary folder.
    Returns None when neither can be written; the log says why.
    """
    header = "# journeys spool: precision=ns"
    if layout is not None:
        header += f" layout={layout}"
    header += f" database={json.dumps(database)}\n"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"{stamp}-{os.getpid()}-{time.monotonic_ns()}.lp"
    count = sum(b - a for a, b in ranges)

    for folder in (spool_dir(), Path(tempfile.gettempdir()) / "journeys-spool"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            with path.open("w", encoding="utf-8", newline="") as spool:
                spool.write(header)
                for start, stop in ranges:
                    spool.write("\n".join(lines[start:stop]) + "\n")
        except OSError as exc:
            logger.error("could not keep the undelivered lines in %s: %s", folder, exc)
            continue
        logger.warning("could not deliver %d lines; kept them in %s", count, path)
        return path
    return None


def read_spool_header(text: str) -> dict[str, str]:
    """What a spool file's first line says: ``database``, ``layout``, ``precision``."""
    first = text.split("\n", 1)[0]
    if not first.startswith("# journeys spool:"):
        return {}
    found = dict(re.findall(r"(precision|layout)=(\S+)", first))
    database = re.search(r'database=("(?:[^"\\]|\\.)*")', first)
    if database:
        found["database"] = json.loads(database.group(1))
    return found
