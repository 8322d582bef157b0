"""An English browser switches Crier to Chinese on "My preferences", and the choice is kept
at the next sign-in although the browser still asks for English (config/preferences.py)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_an_english_browser_switches_to_chinese_on_my_preferences_and_keeps_it(
    page, login, live_server, screenshot, make_user
):
    make_user("boss", "Reviewers", superuser=True)
    login(page, "boss")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{live_server.url}/admin/preferences/")
    page.select_option("#id_language", "zh-hans")
    page.click("input[type=submit]")
    page.get_by_text("您的偏好已保存。").wait_for()
    screenshot(page, "zh_hans_my_preferences")
    # Signing in again from a fresh browser that asks for English: the preference wins.
    login(page, "boss")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
