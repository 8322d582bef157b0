"""How a page's language is chosen (config/preferences.py; README, "Languages"): the
browser's Accept-Language, the switcher (set_language), the user's saved preference (at
login and on every request), and the header switcher's template; and the zh-Hans formats."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation
from django.utils.formats import date_format, number_format

from config.preferences import SESSION_KEY
from notifications.models import UserPreference

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def login_page(client, **headers) -> str:
    return client.get("/admin/login/", **headers).content.decode()


def test_the_browsers_accept_language_chooses_the_language_of_the_login_page(client):
    assert 'lang="en"' in login_page(client)
    chinese = login_page(client, **ZH)
    assert 'lang="zh-hans"' in chinese
    assert "用户名" in chinese  # Django's own zh_Hans catalogue: "Username"


def test_the_switcher_sets_the_language_for_an_anonymous_visitor(client):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/login/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "zh-hans"
    assert 'lang="zh-hans"' in login_page(client)  # no Accept-Language: the cookie decides


def test_a_switch_by_a_signed_in_user_is_saved_as_their_preference_and_applied_at_login(
    client, make_user
):
    user = make_user("lin", superuser=True)
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/"})
    assert UserPreference.objects.get(user=user).language == "zh-hans"

    # A new browser (no cookie) that asks for English still gets the saved language.
    client.logout()
    client.cookies.clear()
    client.post("/admin/login/", {"username": "lin", "password": "lin-pw"})
    assert client.session[SESSION_KEY] == "zh-hans"
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="zh-hans"' in page


def test_the_my_preferences_page_saves_the_language_and_empty_follows_the_browser(client, make_user):
    user = make_user("wang", superuser=True)
    client.force_login(user)
    page = client.get("/admin/preferences/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "My preferences" in page.content.decode()

    saved = client.post("/admin/preferences/", {"language": "zh-hans"}, follow=True)
    assert UserPreference.objects.get(user=user).language == "zh-hans"
    assert "您的偏好已保存。" in saved.content.decode()
    assert "我的偏好" in client.get("/admin/preferences/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    client.post("/admin/preferences/", {"language": ""})
    assert UserPreference.objects.get(user=user).language == ""
    assert SESSION_KEY not in client.session
    assert "My preferences" in client.get("/admin/preferences/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_my_preferences_page_refuses_an_unknown_language_and_saves_nothing(client, make_user):
    user = make_user("zhao", superuser=True)
    client.force_login(user)
    response = client.post("/admin/preferences/", {"language": "xx"})
    assert response.status_code == 200
    assert "xx" in response.content.decode()  # Django's "Select a valid choice. xx is not one…"
    assert not UserPreference.objects.filter(user=user).exists()


def test_the_my_preferences_page_needs_a_staff_sign_in(client):
    response = client.get("/admin/preferences/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_language_switcher_renders_a_script_free_form_posting_to_set_language(make_user):
    request = RequestFactory().get("/admin/campaigns/campaign/?status=draft")
    request.user = make_user("li")
    with translation.override("zh-hans"):
        html = render_to_string("admin/_language_switcher.html", request=request)
    assert 'action="/i18n/setlang/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="next" value="/admin/campaigns/campaign/?status=draft"' in html
    assert '<option value="zh-hans" lang="zh-hans" selected>简体中文</option>' in html
    assert '<option value="en" lang="en">English</option>' in html
    assert "语言" in html and "切换" in html
    assert '<a href="/admin/preferences/">我的偏好</a>' in html
    assert "<script" not in html and "onchange" not in html  # CSP: no inline script


def test_the_javascript_catalogue_is_served_in_the_chosen_language(client):
    response = client.get("/jsi18n/", **ZH)
    assert response.status_code == 200
    assert "django.gettext" in response.content.decode()


def test_dates_weekdays_and_numbers_read_as_zh_hans_readers_expect():
    moment = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    with translation.override("zh-hans"):
        assert date_format(moment, "DATETIME_FORMAT") == "2026年12月7日 周一 09:00"
        assert date_format(moment, "DATE_FORMAT") == "2026年12月7日"
        assert [date_format(moment + dt.timedelta(days=d), "D") for d in range(7)] == [
            "周一", "周二", "周三", "周四", "周五", "周六", "周日",
        ]
        assert number_format(1234567, force_grouping=True) == "1,234,567"
    with translation.override("en"):
        assert date_format(moment, "DATETIME_FORMAT") == "Mon, Dec. 7, 2026, 09:00"


def test_every_admin_page_header_carries_the_switcher(client, make_user):
    client.force_login(make_user("li", superuser=True))
    html = client.get("/admin/").content.decode()
    user_tools = html[html.index('id="user-tools"'):]
    assert 'class="crier-language-switcher"' in user_tools
    assert 'action="/i18n/setlang/"' in user_tools
