"""The collector's edges over real HTTP: which write key counts, which preflights pass,
what ``/health`` tells a stranger. A real uvicorn in front of a real throwaway InfluxDB.
"""

from __future__ import annotations

import requests
from collect_server import KEY, ORIGIN, OTHER_KEY, running, settings_for


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


def test_preflights_pass_only_post_and_the_headers_the_collector_reads(db, tmp_path):
    # Every requested method and header used to be answered 204.
    def preflight(**asked):
        headers = {"Origin": ORIGIN, **asked}
        return requests.options(f"{url}/events?key={KEY}", headers=headers, timeout=10)

    with running(settings_for(db, tmp_path)) as (url, _):
        everything = preflight(
            **{
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": (
                    "Content-Type, content-encoding,AUTHORIZATION, x-journeys-key"
                ),
            }
        )
        bare = preflight(**{"Access-Control-Request-Method": "POST"})
        put = preflight(**{"Access-Control-Request-Method": "PUT"})
        cookie = preflight(
            **{
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-debug, cookie",
            }
        )
        no_method = preflight()

    assert everything.status_code == 204, everything.text
    assert everything.headers["Access-Control-Allow-Methods"] == "POST"
    assert bare.status_code == 204
    assert put.status_code == 403
    assert "the method PUT is not allowed here" in put.json()["error"]
    assert cookie.status_code == 403
    assert "x-debug, cookie may not be sent" in cookie.json()["error"]
    for refused in (put, cookie):
        assert "Access-Control-Allow-Origin" not in refused.headers
    assert no_method.status_code == 400
