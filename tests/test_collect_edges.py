"""The collector's edges over real HTTP: which write key counts, which preflights pass,
what ``/health`` tells a stranger. A real uvicorn in front of a real throwaway InfluxDB.
"""

from __future__ import annotations

import requests
from collect_server import KEY, OTHER_KEY, running, settings_for


def post(url: str, *, query_key: str | None = KEY, headers=None) -> requests.Response:
    target = f"{url}/events" if query_key is None else f"{url}/events?key={query_key}"
    return requests.post(
        target,
        data=b'{"event_type": "pageview"}',
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=10,
    )


def test_two_different_keys_are_refused_not_one_picked(db, tmp_path):
    # The query's key used to win silently over a header's.
    with running(settings_for(db, tmp_path)) as (url, _):
        both = post(url, headers={"X-Journeys-Key": OTHER_KEY})
        bearer = post(url, headers={"Authorization": f"Bearer {OTHER_KEY}"})
        headers = post(
            url,
            query_key=None,
            headers={"X-Journeys-Key": KEY, "Authorization": f"Bearer {OTHER_KEY}"},
        )
        same = post(url, headers={"X-Journeys-Key": KEY})
        basic = post(url, headers={"Authorization": "Basic dXNlcjpwdw=="})  # a proxy's, not ours

    for answer in (both, bearer, headers):
        assert answer.status_code == 401, answer.text
        assert "two different write keys" in answer.json()["error"]
    assert same.status_code == 202 and same.json()["accepted"] == 1
    assert basic.status_code == 202, basic.text
