"""API throttling: beyond the configured rates a client is answered 429 with Retry-After."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from config.settings import env_rate
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
    assert configured["DEFAULT_THROTTLE_CLASSES"] == [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ]
    assert configured["DEFAULT_THROTTLE_RATES"] == {"anon": "60/minute", "user": "3000/minute"}


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
