"""Admin login lockout (django-axes, config/settings.py "Guessing costs"; issue #15 point 5).

After CRIER_LOGIN_FAILURE_LIMIT (5) failed logins for one username, or from one address,
that username or address is refused, even with the right password, for
CRIER_LOGIN_COOLOFF_MINUTES (15); operators see and lift lockouts in the admin or with
axes' commands. The address is config.clients.client_address: X-Forwarded-For counts only
behind CRIER_TRUSTED_PROXY_COUNT proxies.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.checks.registry import registry
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from config.checks import check_trusted_proxies

pytestmark = pytest.mark.django_db

LIMIT = 5  # the shipped default of CRIER_LOGIN_FAILURE_LIMIT
LOGIN = "/admin/login/?next=/admin/"


def attempt(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_the_shipped_settings():
    assert (settings.CRIER_LOGIN_FAILURE_LIMIT, settings.CRIER_LOGIN_COOLOFF_MINUTES) == (LIMIT, 15)
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_forty_wrong_passwords_and_then_the_right_one_is_refused(client, make_user):
    # The figure: 40 wrong passwords, then the right one used to log in.
    make_user("olga")

    wrong = [attempt(client, "olga", f"guess-{n}").status_code for n in range(40)]
    right = attempt(client, "olga", "olga-pw")

    # A wrong password is the form again (200) until the limit; from then on every attempt
    # is the locked-out page (429), and the right password too.
    assert wrong == [200] * (LIMIT - 1) + [429] * (40 - LIMIT + 1)
    assert right.status_code == 429 and not logged_in(right)
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_below_the_limit_the_right_password_still_logs_in(client, make_user):
    make_user("olga")
    for n in range(LIMIT - 1):
        attempt(client, "olga", f"guess-{n}")

    assert logged_in(attempt(client, "olga", "olga-pw"))


def test_the_locked_out_page_says_what_happened_in_plain_words(client, make_user):
    make_user("olga")
    for n in range(LIMIT):
        page = attempt(client, "olga", f"guess-{n}")

    body = page.content.decode()
    assert page.status_code == 429
    assert "Sign-in paused" in body
    assert f"There were {LIMIT} failed sign-ins for this username or from this address" in body
    assert "Try again in 15 minutes" in body and "ask an operator" in body
    assert "guess-" not in body  # nothing typed is shown back


def test_a_lockout_ends_after_the_cool_off(client, make_user, time_machine):
    make_user("olga")
    time_machine.move_to(timezone.now(), tick=False)
    for n in range(LIMIT):
        attempt(client, "olga", f"guess-{n}")
    assert attempt(client, "olga", "olga-pw").status_code == 429

    time_machine.shift(timedelta(minutes=14))
    assert attempt(client, "olga", "olga-pw").status_code == 429
    # That attempt, refused, started the wait again (the page says so).
    time_machine.shift(timedelta(minutes=14))
    assert attempt(client, "olga", "olga-pw").status_code == 429
    time_machine.shift(timedelta(minutes=16))
    assert logged_in(attempt(client, "olga", "olga-pw"))


def test_one_username_is_locked_whichever_addresses_guess_it(client, make_user):
    make_user("olga")
    for n in range(LIMIT):
        attempt(client, "olga", f"guess-{n}", REMOTE_ADDR=f"198.51.100.{n + 1}")

    refused = attempt(client, "olga", "olga-pw", REMOTE_ADDR="203.0.113.77")

    assert refused.status_code == 429


def test_one_address_is_locked_whichever_usernames_it_tries(client, make_user):
    make_user("olga")
    for n in range(LIMIT):
        attempt(client, f"nobody-{n}", "guess")

    assert attempt(client, "olga", "olga-pw").status_code == 429  # from the same address
    assert logged_in(attempt(Client(), "olga", "olga-pw", REMOTE_ADDR="203.0.113.77"))


def test_a_forged_forwarded_for_does_not_make_a_new_address(client, make_user):
    make_user("olga")
    # No trusted proxy: a new X-Forwarded-For per attempt, and different usernames so that
    # only the address can lock.
    for n in range(LIMIT):
        attempt(client, f"nobody-{n}", "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}")

    refused = attempt(client, "olga", "olga-pw", HTTP_X_FORWARDED_FOR="203.0.113.77")

    assert refused.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_one_trusted_proxy_the_client_it_names_is_locked(client, make_user, settings):
    settings.CRIER_TRUSTED_PROXY_COUNT = 1
    make_user("olga")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(LIMIT):
        # The client forges the left part; the proxy appended the address it saw.
        attempt(client, f"nobody-{n}", "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5", **proxy)

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    forged = attempt(client, "olga", "olga-pw", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.5", **proxy)
    assert forged.status_code == 429
    # Another client behind the same proxy is not locked out.
    assert logged_in(attempt(Client(), "olga", "olga-pw", HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy))


def test_an_operator_unlocks_a_username_with_the_command(client, make_user):
    make_user("olga")
    for n in range(LIMIT):
        attempt(client, "olga", f"guess-{n}", REMOTE_ADDR=f"198.51.100.{n + 1}")
    assert attempt(client, "olga", "olga-pw").status_code == 429

    out = io.StringIO()
    call_command("axes_reset_username", "olga", stdout=out)

    # One record per address that tried, and the refused attempt from this client's.
    assert out.getvalue().strip() == f"{LIMIT + 1} attempts removed."
    assert logged_in(attempt(client, "olga", "olga-pw"))


def test_an_operator_unlocks_an_address_with_the_command(client, make_user):
    make_user("olga")
    for n in range(LIMIT):
        attempt(client, f"nobody-{n}", "guess")
    assert attempt(client, "olga", "olga-pw").status_code == 429

    call_command("axes_reset_ip", "127.0.0.1", stdout=io.StringIO())

    assert logged_in(attempt(client, "olga", "olga-pw"))


def test_operators_see_lockouts_in_the_admin_and_lift_them(client, make_user):
    make_user("olga")
    operator = make_user("oscar", "Operators")
    for n in range(LIMIT):
        attempt(Client(), "olga", f"guess-{n}", REMOTE_ADDR=f"198.51.100.{n + 1}")
    assert attempt(Client(), "olga", "olga-pw").status_code == 429
    client.force_login(operator)

    listing = client.get("/admin/axes/accessattempt/")

    assert listing.status_code == 200
    assert "olga" in listing.content.decode() and "Locked Out" in listing.content.decode()
    attempts = list(AccessAttempt.objects.filter(username="olga").values_list("pk", flat=True))
    for pk in attempts:
        assert "guess-" not in client.get(f"/admin/axes/accessattempt/{pk}/change/").content.decode()
        deleted = client.post(f"/admin/axes/accessattempt/{pk}/delete/", {"post": "yes"})
        assert deleted.status_code == 302
    assert logged_in(attempt(Client(), "olga", "olga-pw"))


@pytest.mark.parametrize("group", ["Marketing", "Reviewers"])
def test_other_roles_do_not_see_lockouts(client, make_user, group):
    client.force_login(make_user("someone", group))
    assert client.get("/admin/axes/accessattempt/").status_code == 403


def test_the_typed_password_is_never_stored(client, make_user):
    make_user("olga")
    attempt(client, "olga", "s3cret-typed-guess")

    stored = AccessAttempt.objects.get(username="olga")
    assert "s3cret-typed-guess" not in f"{stored.post_data} {stored.get_data}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CRIER_LOGIN_FAILURE_LIMIT", "0", "CRIER_LOGIN_FAILURE_LIMIT=0 must be 1 or more"),
        ("CRIER_LOGIN_COOLOFF_MINUTES", "-1", "CRIER_LOGIN_COOLOFF_MINUTES=-1 must be 0 or more"),
        ("CRIER_TRUSTED_PROXY_COUNT", "one", "CRIER_TRUSTED_PROXY_COUNT='one' is not a whole number"),
    ],
)
def test_a_bad_guard_setting_names_the_variable(tmp_path, variable, value, message):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(CRIER_ENV_FILE="", DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path}/x.db", **{variable: value})
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and message in proc.stderr


def test_behind_a_tls_proxy_without_trusted_proxies_the_deploy_check_warns(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CRIER_TRUSTED_PROXY_COUNT = 0
    assert [m.id for m in check_trusted_proxies(None)] == ["crier_config.W001"]

    settings.CRIER_TRUSTED_PROXY_COUNT = 1
    assert check_trusted_proxies(None) == []


def test_the_proxy_check_runs_with_the_deploy_checks():
    assert check_trusted_proxies in registry.get_checks(include_deployment_checks=True)
    assert check_trusted_proxies not in registry.get_checks(include_deployment_checks=False)
