"""Write keys, allowed origins and the token bucket of the collector."""

from __future__ import annotations

import pytest

from journeys.collect.keys import (
    ClientBuckets,
    KeyRing,
    TokenBucket,
    WriteKey,
    new_key,
    normalise_origin,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_key(key="jk_0123456789abcdef", origins=("https://shop.example.com",), **options):
    return WriteKey(key=key, site="shop", origins=origins, rate=2.0, burst=3, **options)


def test_new_keys_are_long_random_and_url_safe():
    keys = {new_key() for _ in range(100)}

    assert len(keys) == 100
    assert all(key.startswith("jk_") and len(key) == 35 for key in keys)
    assert all(
        set(key[3:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for key in keys
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://*.example.com", "https://*.example.com"),
        ("*", "*"),
    ],
)
def test_origins_are_written_as_browsers_send_them(given, expected):
    assert normalise_origin(given) == expected


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("shop.example.com", "write scheme://host[:port]"),
        ("https://shop.example.com/page", "without a path"),
        ("https://shop.example.com?x=1", "without a path, query"),
        ("ftp://shop.example.com", "write scheme://host[:port]"),
        ("https://shop.*.com", "a wildcard stands only first"),
        ("https://shop.example.com:99999", "Port out of range"),
    ],
)
def test_a_bad_origin_says_what_to_write(given, said):
    with pytest.raises(ValueError, match="is not an origin") as caught:
        normalise_origin(given)

    assert said in str(caught.value)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example.com", True),
        ("https://a.example.com", True),
        ("https://a.b.example.com", True),
        ("https://example.com", False),
        ("http://a.example.com", False),
        ("https://a.example.com:8443", False),
        ("https://evilexample.com", False),
        ("https://shop.example.com.evil.com", False),
        ("null", False),
    ],
)
def test_origins_match_exactly_or_by_subdomain(origin, allowed):
    key = make_key(origins=("https://shop.example.com", "https://*.example.com"))

    assert key.allows(origin) is allowed


def test_a_star_allows_every_origin_and_no_origins_allow_none():
    assert make_key(origins=("*",)).allows("https://anything.test")
    assert not make_key(origins=()).allows("https://shop.example.com")


def test_the_key_is_kept_out_of_the_repr():
    key = make_key(key="jk_secretsecretsecret")

    assert "jk_secretsecretsecret" not in repr(key)
    assert key.shown == "jk_secr..."


def test_the_ring_finds_configured_keys_only():
    first, second = make_key(key="jk_first_key_0123456"), make_key(key="jk_second_key_012345")
    ring = KeyRing([first, second])

    assert ring.find("jk_first_key_0123456")[0] is first
    assert ring.find("jk_second_key_012345")[0] is second
    assert ring.find("jk_first_key_012345") is None
    assert ring.find("jk_first_key_01234567") is None
    assert ring.find("") is None
    assert ring.find("\udcff") is None


def test_each_key_has_its_own_bucket():
    clock = Clock()
    ring = KeyRing(
        [make_key(key="jk_first_key_0123456"), make_key(key="jk_other_key_0123456")], clock=clock
    )
    first = ring.find("jk_first_key_0123456")[1]
    other = ring.find("jk_other_key_0123456")[1]

    assert [first.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert first.take() > 0
    assert other.take() == 0.0


def test_a_key_configured_twice_is_refused():
    with pytest.raises(ValueError, match="configured twice"):
        KeyRing([make_key(), make_key()])


def test_the_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)

    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.take() == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)

    clock.now += 100
    assert [bucket.take() for _ in range(4)][:3] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("wait", "header"), [(0.01, 1), (1.0, 1), (1.2, 2), (30.0, 30)])
def test_retry_after_is_whole_seconds_never_early(wait, header):
    assert TokenBucket.retry_after(wait) == header


def test_each_client_has_its_own_bucket_and_the_memory_is_bounded():
    clock = Clock()
    clients = ClientBuckets(rate=1.0, burst=2, clock=clock, max_clients=3)

    assert [clients.take("10.0.0.1") for _ in range(2)] == [0.0, 0.0]
    assert clients.take("10.0.0.1") == pytest.approx(1.0)
    assert clients.take("10.0.0.2") == 0.0
    clients.take("10.0.0.3")
    clients.take("10.0.0.4")  # a fourth address: the three known ones are forgotten
    assert clients.take("10.0.0.1") == 0.0


def test_the_ring_gives_client_buckets_only_to_keys_that_ask():
    limited = make_key(key="jk_first_key_0123456", client_rate=1.0, client_burst=5)
    ring = KeyRing([limited, make_key(key="jk_other_key_0123456")])

    _, _, clients = ring.find("jk_first_key_0123456")
    assert (clients.rate, clients.burst) == (1.0, 5)
    assert ring.find("jk_other_key_0123456")[2] is None
