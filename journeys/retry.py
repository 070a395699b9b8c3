"""Posting one body of line protocol until the server takes it, or the time is up.

Each attempt is one request (:meth:`journeys.client.InfluxDB.post_lines`).
An attempt is tried again when it got no answer (a refused connection, a
timeout, a connection lost midway) or an answer that says the server cannot
take the write *for now*: 429 (too many requests) or 500, 502, 503, 504. Any
other answer (204, a 400 naming a bad line, a 413 for a body too large, a 401)
is final and goes back to the caller.

Between attempts the writer pauses: exponential backoff (``backoff``, twice
that, four times, ... up to ``max_backoff``) with full jitter, that is a
random share of that pause, so that writers that failed together do not come
back together; or exactly the pause a ``Retry-After`` header asks for.

The bound is time, not a count: by default a body is tried again until
``retry_for`` seconds have passed since its first attempt (the last pause is
cut short so that one more attempt falls at that moment), so a server that
restarts for ten seconds is waited for, not given up on after a few quick
tries. ``max_retries`` is an optional second bound. A ``Retry-After`` asking
for a pause beyond ``retry_for`` ends the trying at once. The body is then
undeliverable, and the writer spools it (:mod:`journeys.spool`).

Posting a body twice is harmless: a point written again replaces itself.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journeys.client import _error_text, database_missing
from journeys.errors import ServerError

if TYPE_CHECKING:
    import requests

    from journeys.client import InfluxDB

__all__ = ["RETRY_STATUSES", "RetryPolicy", "UndeliverableError", "post_with_retries"]

logger = logging.getLogger(__name__)

#: Answers that mean "not now" rather than "never": the server is busy or failing.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a write tries a body again.

    Attributes
    ----------
    retry_for : float
        Seconds from the first attempt after which no retry starts.
    max_retries : int, optional
        The most retries of one body (0: a single attempt); by default no
        bound but ``retry_for``.
    backoff, max_backoff : float
        The first pause and the longest one, in seconds, before jitter.
    """

    retry_for: float = 60.0
    max_retries: int | None = None
    backoff: float = 0.5
    max_backoff: float = 8.0

    def __post_init__(self):
        if self.retry_for < 0 or (self.max_retries is not None and self.max_retries < 0):
            raise ValueError(
                f"retry_for and max_retries must be 0 or more, not {self.retry_for!r} and "
                f"{self.max_retries!r}"
            )

    def pause(self, retry: int, answer: requests.Response | None) -> float:
        """Seconds to wait before retry number ``retry`` (from 1)."""
        asked = _retry_after(answer)
        if asked is not None:
            return asked
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (retry - 1)))

    def next_pause(
        self, retry: int, answer: requests.Response | None, elapsed: float
    ) -> float | None:
        """The pause before retry number ``retry``, or None when no retry is left.

        ``elapsed`` is the time since the body's first attempt. A backoff that
        would end after ``retry_for`` is cut to end at it; a ``Retry-After``
        that would is not, since the server asked not to be tried before.
        """
        left = self.retry_for - elapsed
        if left <= 0 or (self.max_retries is not None and retry > self.max_retries):
            return None
        if _retry_after(answer) is not None:
            asked = self.pause(retry, answer)
            return asked if asked <= left else None
        return min(self.pause(retry, answer), left)


class UndeliverableError(Exception):
    """A body got no usable answer within the retry policy."""

    def __init__(self, failure: ServerError, retries: int):
        super().__init__(str(failure))
        self.failure = failure
        self.retries = retries


def post_with_retries(
    client: InfluxDB,
    body: bytes,
    *,
    policy: RetryPolicy,
    content_encoding: str | None = None,
    give_up: threading.Event | None = None,
) -> tuple[requests.Response, int]:
    """Post ``body`` until an answer is final; return it and the retries it took.

    A missing database (404 "database not found") is created, once, and the
    body posted again.

    Parameters
    ----------
    give_up : threading.Event, optional
        When set (another batch of the same write failed for good), no further
        attempt is made: the body is undeliverable at once.

    Raises
    ------
    UndeliverableError
        When the last attempt still failed for a passing reason, or
        ``give_up`` was set.
    """
    started = time.monotonic()
    retries, created = 0, False
    while True:
        if give_up is not None and give_up.is_set():
            earlier = ServerError("an earlier batch of the write could not be delivered")
            raise UndeliverableError(earlier, retries)
        answer, failure = _attempt(client, body, content_encoding)

        if answer is not None and database_missing(answer) and not created:
            client.create_database()
            created = True
            continue
        if failure is None and answer.status_code not in RETRY_STATUSES:
            return answer, retries

        if failure is None:
            failure = ServerError(
                "the write was refused", status=answer.status_code, detail=_error_text(answer)
            )
        pause = policy.next_pause(retries + 1, answer, time.monotonic() - started)
        if pause is None:
            raise UndeliverableError(failure, retries)
        logger.info("write failed (%s); trying again in %.2f s", failure, pause)
        if give_up is not None:
            give_up.wait(pause)
        else:
            time.sleep(pause)
        retries += 1


def _attempt(client: InfluxDB, body: bytes, content_encoding: str | None):
    try:
        return client.post_lines(body, content_encoding=content_encoding), None
    except ServerError as exc:
        return None, exc


def _retry_after(answer: requests.Response | None) -> float | None:
    """The pause a ``Retry-After`` header asks for (seconds or an HTTP date), if any."""
    if answer is None or "Retry-After" not in answer.headers:
        return None
    value = answer.headers["Retry-After"].strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
