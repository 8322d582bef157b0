"""API throttling: beyond the configured rates a client is answered 429 with Retry-After."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from config.clients import client_address
from config.environment import env_rate
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    """Return ``set(scope, rate)`` changing a throttle rate for this test only."""

    def set_rate(scope: str, rate: str) -> None:
        # DRF reads the rates dict from settings once; change the entries in place.
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rate


def test_both_throttles_are_on_by_default_with_generous_rates():
    configured = settings.REST_FRAMEWORK
    # DRF's throttles, keyed on config.clients.client_address instead of DRF's own reading.
    assert configured["DEFAULT_THROTTLE_CLASSES"] == [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
    ]
    assert configured["DEFAULT_THROTTLE_RATES"] == {
        "anon": "60/minute",
        "user": "3000/minute",
        "failed_auth": "20/minute",
    }
    assert configured["DEFAULT_AUTHENTICATION_CLASSES"][0] == "config.throttling.GuardedTokenAuthentication"
    assert configured["NUM_PROXIES"] == settings.CRIER_TRUSTED_PROXY_COUNT == 0


def test_a_user_beyond_the_rate_is_answered_429_with_retry_after(superuser, rates):
    rates("user", "3/minute")
    client = token_client(superuser)

    statuses = [client.get("/api/v1/stop/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    throttled = client.get("/api/v1/stop/")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert "throttled" in throttled.json()["detail"].lower()


def test_users_are_throttled_each_on_their_own_count(superuser, make_user, rates):
    rates("user", "2/minute")
    first, second = token_client(superuser), token_client(make_user("other", "Operators"))

    assert [first.get("/api/v1/stop/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/stop/").status_code == 200


def test_anonymous_clients_are_throttled_by_address_where_they_are_let_in(rates):
    # Anonymous clients reach only the schema: elsewhere they are refused before throttling.
    rates("anon", "1/minute")
    client = APIClient()

    assert [client.get("/api/schema/").status_code for _ in range(2)] == [200, 429]


@pytest.mark.parametrize("value", ["100/minute", "5/s", "1000/day"])
def test_a_rate_from_the_environment_is_read(monkeypatch, value):
    monkeypatch.setenv("CRIER_TEST_RATE", value)
    assert env_rate("CRIER_TEST_RATE", "1/minute") == value


def test_an_empty_rate_in_the_environment_turns_the_throttle_off(monkeypatch):
    monkeypatch.setenv("CRIER_TEST_RATE", "")
    assert env_rate("CRIER_TEST_RATE", "1/minute") is None


def test_a_malformed_rate_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("CRIER_TEST_RATE", "lots")
    with pytest.raises(ImproperlyConfigured, match="CRIER_TEST_RATE='lots' is not a rate"):
        env_rate("CRIER_TEST_RATE", "1/minute")


# --- Failed authentications (issue #15: guessing costs) -------------------------------

FAILED_AUTH_LIMIT = 20  # the shipped default of CRIER_API_THROTTLE_FAILED_AUTH (20/minute)


def invented(client: APIClient, n: int, **extra) -> list[int]:
    """Send ``n`` requests, each with a new invented token; return their statuses."""
    statuses = []
    for i in range(n):
        client.credentials(HTTP_AUTHORIZATION=f"Token invented{i:034d}")
        statuses.append(client.get("/api/v1/stop/", **extra).status_code)
    return statuses


def test_invented_tokens_are_answered_429_after_the_bound_not_401_forever():
    # The figure: 70 requests with invented tokens.
    statuses = invented(APIClient(), 70)

    assert statuses == [401] * FAILED_AUTH_LIMIT + [429] * (70 - FAILED_AUTH_LIMIT)


def test_past_the_bound_even_a_valid_token_from_that_address_waits(superuser):
    invented(APIClient(), FAILED_AUTH_LIMIT)
    good = token_client(superuser)

    refused = good.get("/api/v1/stop/")

    # Refused before the token is looked up, so a right guess teaches nothing either.
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    detail = refused.json()["detail"].lower()
    assert "failed authentications" in detail and "expected available in" in detail
    # Another address is not affected.
    assert good.get("/api/v1/stop/", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_good_tokens_do_not_use_up_the_budget(superuser):
    good = token_client(superuser)
    assert all(good.get("/api/v1/stop/").status_code == 200 for _ in range(2 * FAILED_AUTH_LIMIT))

    assert invented(APIClient(), FAILED_AUTH_LIMIT + 1) == [401] * FAILED_AUTH_LIMIT + [429]


def test_a_malformed_token_header_counts_as_a_failure_and_no_header_does_not(rates):
    rates("failed_auth", "2/minute")
    client = APIClient()
    assert [client.get("/api/schema/").status_code for _ in range(5)] == [200] * 5  # anonymous

    client.credentials(HTTP_AUTHORIZATION="Token")  # no key: DRF says "Invalid token header"
    assert [client.get("/api/v1/stop/").status_code for _ in range(3)] == [401, 401, 429]


def test_the_failed_authentication_bound_is_a_setting(rates):
    rates("failed_auth", "3/minute")
    assert invented(APIClient(), 5) == [401, 401, 401, 429, 429]


def test_an_empty_failed_authentication_rate_turns_the_bound_off(rates):
    rates("failed_auth", None)
    assert set(invented(APIClient(), FAILED_AUTH_LIMIT + 5)) == {401}


def test_the_wait_ends_with_the_window(rates, time_machine):
    rates("failed_auth", "2/minute")
    time_machine.move_to("2026-12-06 08:00:10+00:00", tick=False)
    assert invented(APIClient(), 3) == [401, 401, 429]

    time_machine.move_to("2026-12-06 08:01:00+00:00", tick=False)
    assert invented(APIClient(), 3) == [401, 401, 429]


# --- Client addresses and X-Forwarded-For ----------------------------------------------


def test_a_forged_forwarded_for_does_not_make_a_new_client_for_the_failure_bound():
    client = APIClient()
    forged = []
    for i in range(FAILED_AUTH_LIMIT + 5):
        client.credentials(HTTP_AUTHORIZATION=f"Token forged{i:034d}")
        forged.append(client.get("/api/v1/stop/", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code)

    # No trusted proxy (CRIER_TRUSTED_PROXY_COUNT=0): a new header value per request is
    # still the same client.
    assert forged == [401] * FAILED_AUTH_LIMIT + [429] * 5


def test_a_forged_forwarded_for_does_not_escape_the_anonymous_throttle(rates):
    rates("anon", "2/minute")
    client = APIClient()

    statuses = [
        client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(5)
    ]

    assert statuses == [200, 200, 429, 429, 429]


def test_behind_one_trusted_proxy_the_address_it_appended_is_the_client(settings, rates):
    settings.CRIER_TRUSTED_PROXY_COUNT = 1
    rates("failed_auth", "2/minute")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    client = APIClient()

    # The same client whatever it forges to the left of the proxy's entry ...
    same = invented(client, 3, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.5", **proxy)
    again = invented(client, 1, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.5", **proxy)
    # ... and another client behind the same proxy is counted on its own.
    other = invented(client, 1, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.6", **proxy)

    assert (same, again, other) == ([401, 401, 429], [429], [401])


def test_behind_one_trusted_proxy_the_anonymous_throttle_keys_on_the_client(settings, rates):
    settings.CRIER_TRUSTED_PROXY_COUNT = 1
    rates("anon", "1/minute")
    client = APIClient()

    def get(forwarded: str) -> int:
        return client.get("/api/schema/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert [get("203.0.113.5"), get("1.2.3.4, 203.0.113.5"), get("203.0.113.6")] == [200, 429, 200]


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, "192.0.2.1"),
        (0, "203.0.113.5", "192.0.2.1"),  # no trusted proxy: the header is not believed
        (1, None, "192.0.2.1"),  # no header: the peer
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "198.51.100.1, 203.0.113.5", "203.0.113.5"),  # the client's own entry is ignored
        (2, "198.51.100.1, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "203.0.113.5", "203.0.113.5"),  # fewer entries than proxies: the leftmost (DRF's rule)
        (1, "  2001:db8::1 ", "2001:db8::1"),
        (1, "not-an-address", "192.0.2.1"),  # a passed-through value is not a key
        (1, "198.51.100.1, 203.0.113.5:4444", "192.0.2.1"),
    ],
)
def test_client_address(rf, settings, proxies, forwarded, expected):
    settings.CRIER_TRUSTED_PROXY_COUNT = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", **extra)

    assert client_address(request) == expected


@pytest.mark.parametrize("proxies", [0, 1, 2, 3])
@pytest.mark.parametrize(
    "forwarded", [None, "203.0.113.5", "198.51.100.1, 203.0.113.5", "198.51.100.1,203.0.113.5, 10.0.0.2"]
)
def test_client_address_agrees_with_drf_num_proxies(rf, settings, proxies, forwarded):
    """DRF decides on its own where it calls BaseThrottle.get_ident; with NUM_PROXIES set
    from the same setting it agrees with ours for every well-formed header."""
    settings.CRIER_TRUSTED_PROXY_COUNT = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", **extra)

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}):
        drf = BaseThrottle().get_ident(request)

    assert client_address(request) == drf


# --- Shared between processes -----------------------------------------------------------

REDIS_CACHE_URL = "redis://127.0.0.1:6379/5"  # this worktree's Redis database (brief)

TAKER = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from config.throttling import FailedAuthenticationBound
bound = FailedAuthenticationBound()
print("ready", flush=True)
sys.stdin.readline()  # start together
print(sum(bound.take(sys.argv[1]) is not None for _ in range(int(sys.argv[2]))), flush=True)
"""


def _redis_or_skip():
    redis = pytest.importorskip("redis")
    try:
        connection = redis.Redis.from_url(REDIS_CACHE_URL)
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_CACHE_URL}")
    return connection


def test_processes_sharing_a_redis_cache_take_no_more_than_the_bound_together(tmp_path):
    connection = _redis_or_skip()
    address = f"198.51.100.{os.getpid() % 250}"
    for key in connection.scan_iter(f"crier:*crier:failed-auth:{address}:*"):
        connection.delete(key)
    env = {**os.environ, "CRIER_ENV_FILE": "", "DEBUG": "1", "CRIER_CACHE_URL": REDIS_CACHE_URL,
           "CRIER_API_THROTTLE_FAILED_AUTH": "20/minute", "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"}
    env.pop("PYTEST_CURRENT_TEST", None)
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", TAKER, address, "30"], cwd=settings.BASE_DIR, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(3)
    ]
    try:
        for taker in takers:
            assert taker.stdout.readline().strip() == "ready", taker.stderr.read()
        if time.time() % 60 > 50:  # all in one window: start after the next minute begins
            time.sleep(61 - time.time() % 60)
        for taker in takers:
            taker.stdin.write("go\n")
            taker.stdin.flush()
        outputs = [taker.communicate(timeout=60) for taker in takers]
    finally:
        for taker in takers:
            taker.kill() if taker.poll() is None else None

    assert all(taker.returncode == 0 for taker in takers), outputs
    # 90 attempts from three processes at once, and exactly the bound of them got a slot.
    assert sum(int(out.strip()) for out, _err in outputs) == FAILED_AUTH_LIMIT


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_over_http_get_no_more_than_the_bound(live_server):
    """40 invented tokens at once over real HTTP (the live server answers each in its own
    thread): exactly the bound of them are looked up (401), the rest wait (429)."""

    def guess(i: int) -> int:
        headers = {"Authorization": f"Token parallel{i:032d}"}
        return httpx.get(f"{live_server.url}/api/v1/stop/", headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=2 * FAILED_AUTH_LIMIT) as pool:  # all at once
        statuses = list(pool.map(guess, range(2 * FAILED_AUTH_LIMIT)))

    assert sorted(statuses) == [401] * FAILED_AUTH_LIMIT + [429] * FAILED_AUTH_LIMIT
