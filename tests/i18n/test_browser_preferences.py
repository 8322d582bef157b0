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


def test_the_header_switcher_turns_every_page_chinese_and_saves_the_choice(
    page, login, live_server, screenshot, make_user
):
    """The language select in every page's header (config/templates/admin/
    _language_switcher.html): no script, a select and a button; the choice holds on the next
    page and is saved as the user's preference."""
    from notifications.models import UserPreference

    boss = make_user("boss", "Reviewers", superuser=True)
    login(page, "boss")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.select_option("#crier-language", "zh-hans")
    page.click(".crier-language-switcher button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/admin/campaigns/campaign/")  # back where the user was
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "修改密码" in page.inner_text("#user-tools")
    screenshot(page, "zh_hans_header_switcher")
    assert UserPreference.objects.get(user=boss).language == "zh-hans"
