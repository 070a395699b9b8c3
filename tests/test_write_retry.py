"""How long the writer waits before trying a batch again."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests

from journeys.retry import RetryPolicy


def answer(retry_after: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


@pytest.mark.parametrize("retry", [1, 2, 3, 6, 10])
def test_backoff_doubles_up_to_its_cap_with_full_jitter(retry):
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0)
    bound = min(4.0, 0.5 * 2 ** (retry - 1))

    pauses = [policy.pause(retry, None) for _ in range(200)]

    assert all(0 <= p <= bound for p in pauses)
    assert max(pauses) > bound / 2  # spread over the range, not a fixed pause


def test_retry_after_in_seconds_is_honoured():
    assert RetryPolicy().pause(1, answer("7")) == 7.0


def test_retry_after_as_an_http_date_is_honoured():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)

    assert 28 <= RetryPolicy().pause(1, answer(when)) <= 30


def test_an_unreadable_retry_after_falls_back_to_backoff():
    assert 0 <= RetryPolicy(backoff=1, max_backoff=1).pause(1, answer("soon")) <= 1


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match="retry_for and max_retries"):
        RetryPolicy(max_retries=-1)


def test_by_default_only_time_bounds_the_retries():
    policy = RetryPolicy(retry_for=60, backoff=0.5, max_backoff=8.0)

    assert policy.next_pause(1000, None, elapsed=30) is not None
    assert policy.next_pause(1, None, elapsed=60) is None


def test_the_last_pause_is_cut_to_end_at_retry_for():
    policy = RetryPolicy(retry_for=10, backoff=8, max_backoff=8)

    assert all(policy.next_pause(5, None, elapsed=9.5) <= 0.5 for _ in range(50))


def test_a_retry_after_beyond_retry_for_ends_the_retries():
    policy = RetryPolicy(retry_for=10)

    assert policy.next_pause(1, answer("5"), elapsed=4) == 5.0
    assert policy.next_pause(1, answer("7"), elapsed=4) is None


def test_max_retries_bounds_the_retries_when_given():
    policy = RetryPolicy(retry_for=60, max_retries=2)

    assert policy.next_pause(2, None, elapsed=1) is not None
    assert policy.next_pause(3, None, elapsed=1) is None


def test_the_connection_says_its_retries_and_its_session_uses_them():
    import journeys as jy

    db = jy.InfluxDB("http://127.0.0.1:9", retries=5)

    assert db.retries == 5
    assert db.session.get_adapter(db.url).max_retries.total == 5
