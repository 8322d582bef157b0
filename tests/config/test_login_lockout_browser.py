"""The login lockout in a real browser: Chromium signs in to the admin on the live server,
fails five times, meets the locked-out page (also with the right password), and signs in
again once an operator has lifted the lockout. The screenshot is
tests/screenshots/login-locked-out.png.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

LIMIT = 5  # CRIER_LOGIN_FAILURE_LIMIT's default


def test_a_locked_out_login_says_so_and_an_operator_lifts_it(page, login, live_server, screenshot, make_user):
    make_user("olga")
    base = live_server.url

    def submit(password: str) -> int:
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", "olga")
        page.fill("#id_password", password)
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.click("input[type=submit]")
        return answer.value.status

    assert [submit(f"guess-{n}") for n in range(LIMIT - 1)] == [200] * (LIMIT - 1)
    assert "Please enter the correct username and password" in page.inner_text("#content")
    assert submit("guess-last") == 429
    assert submit("olga-pw") == 429  # the right password, refused

    assert page.inner_text("h1") == "Sign-in paused"
    text = page.inner_text("#content")
    assert "failed sign-ins for this username or from this address" in text
    assert "Try again in 15 minutes" in text
    screenshot(page, "login-locked-out")
    page.click("text=Back to sign-in")
    page.wait_for_url(f"{base}/admin/login/")

    call_command("axes_reset_username", "olga", stdout=io.StringIO())

    login(page, "olga")  # the browser tests' own helper: lands on /admin/
    assert "Crier dashboard" in page.inner_text("#content")  # signed in: the admin's index
