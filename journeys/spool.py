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

__all__ = ["Spool", "read_spool_header", "write_spool"]

logger = logging.getLogger(__name__)


class Spool:
    """A spool file that a write appends to, in input order, as batches fail.

    The file is made at the first :meth:`add`, in the spool folder
    (:func:`journeys.config.spool_dir`) or, when that cannot be written, in a
    folder of the system's temporary folder. When neither can be written,
    :attr:`path` stays None and the log says why: the caller then reports the
    rows as neither written nor kept.

    Parameters
    ----------
    database : str
        The database the lines belong to, named in the header.
    layout : str, optional
        The layout they were made in, so that a replay renumbers tied events.
    """

    def __init__(self, database: str, layout: str | None):
        self.database = database
        self.layout = layout
        self.path: Path | None = None
        self.count = 0
        self._file = None
        self._broken = False

    def add(self, lines: list[str], start: int = 0, stop: int | None = None) -> bool:
        """Append ``lines[start:stop]``; return whether they are on disk."""
        stop = len(lines) if stop is None else stop
        if stop <= start:
            return self._file is not None
        if self._file is None and not self._open():
            return False
        try:
            self._file.write("\n".join(lines[start:stop]) + "\n")
            self._file.flush()
        except OSError as exc:
            logger.error("could not add to the spool file %s: %s", self.path, exc)
            return False
        self.count += stop - start
        return True

    def close(self) -> None:
        """Close the file; say in the log how many lines it keeps."""
        if self._file is not None:
            self._file.close()
            self._file = None
            logger.warning("could not deliver %d lines; kept them in %s", self.count, self.path)

    def _open(self) -> bool:
        if self._broken:
            return False
        header = "# journeys spool: precision=ns"
        if self.layout is not None:
            header += f" layout={self.layout}"
        header += f" database={json.dumps(self.database)}\n"
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"{stamp}-{os.getpid()}-{time.monotonic_ns()}.lp"

        for folder in (spool_dir(), Path(tempfile.gettempdir()) / "journeys-spool"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / name
                self._file = path.open("w", encoding="utf-8", newline="")
                self._file.write(header)
            except OSError as exc:
                logger.error("could not keep the undelivered lines in %s: %s", folder, exc)
                continue
            self.path = path
            return True
        self._broken = True
        return False


def write_spool(
    database: str, lines: list[str], ranges: list[tuple[int, int]], layout: str | None
) -> Path | None:
    """Keep ``lines[start:stop]`` of every range in a new spool file; return its path.

    Returns None when no spool folder can be written; the log says why.
    """
    spool = Spool(database, layout)
    for start, stop in ranges:
        if not spool.add(lines, start, stop):
            spool.close()
            return None
    spool.close()
    return spool.path


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
