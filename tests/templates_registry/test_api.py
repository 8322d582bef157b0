"""The REST API under /api/v1/templates/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from templates_registry.models import MessageTemplate, TemplateStatus

from .conftest import PARAMETERS, REFS, THREE_LANGUAGES

pytestmark = pytest.mark.django_db

URL = "/api/v1/templates/"
NEW = {
    "key": "weekly-digest",
    "description": "Sunday summary.",
    "default_language": "en",
    "variants": [
        {"language": "en", "title": "Your week", "body": "${count} new offers, ${name}."},
        {"language": "zh-CN", "title": "本周", "body": "${name}，本周有${count}个新优惠。"},
    ],
    "provider_refs": REFS,
}


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_marketer(api, marketer):
    api.force_authenticate(marketer)
    return api


@pytest.fixture
def as_reviewer(api, reviewer):
    api.force_authenticate(reviewer)
    return api


def test_marketer_creates_a_template_with_nested_variants(as_marketer):
    response = as_marketer.post(URL, NEW, format="json")
    assert response.status_code == 201, response.data
    data = response.data
    assert data["key"] == "weekly-digest"
    assert data["version"] == 1
    assert data["status"] == "draft"
    assert data["variables"] == ["count", "name"]
    assert data["provider_refs"] == REFS
    assert [v["language"] for v in data["variants"]] == ["en", "zh-CN"]
    assert data["warnings"] == []
    assert MessageTemplate.objects.get(pk=data["id"]).versions.get().created_by.username == "marketer"


def test_create_with_malformed_placeholder_is_a_400_naming_variant_and_position(as_marketer):
    bad = {**NEW, "variants": [{"language": "en", "title": "", "body": "Hi ${na me}"}]}
    response = as_marketer.post(URL, bad, format="json")
    assert response.status_code == 400
    assert response.data["variants"] == [
        "variant en, body: malformed placeholder '${na me}' at position 3 (line 1, column 4): "
        "a name starts with a letter or '_' followed by letters, digits or '_'"
    ]


def test_create_with_a_bad_shape_is_a_400_from_the_serializer(as_marketer):
    bad_shape = {**NEW, "variants": [], "provider_refs": {"jiguang": ["x"]}}
    response = as_marketer.post(URL, bad_shape, format="json")
    assert response.status_code == 400
    assert set(response.data) == {"variants", "provider_refs"}


def test_list_and_filter_by_status(as_reviewer, make_template):
    make_template("a-active")
    make_template("b-draft", status="draft")
    everything = as_reviewer.get(URL)
    assert [t["key"] for t in everything.data["results"]] == ["a-active", "b-draft"]
    active = as_reviewer.get(URL, {"status": "active"})
    assert [t["key"] for t in active.data["results"]] == ["a-active"]


def test_retrieve_shows_variables_version_and_warnings(as_reviewer, make_template):
    template = make_template(
        variants=[{"language": "en", "body": "Hi ${name}"}, {"language": "ja", "body": "こんにちは"}]
    )
    data = as_reviewer.get(f"{URL}{template.pk}/").data
    assert (data["version"], data["variables"]) == (1, ["name"])
    assert data["warnings"] == ["variable 'name' is used by en but not by ja"]


def test_update_creates_a_new_version(as_marketer, welcome):
    body = {
        "key": "welcome-bonus",
        "default_language": "en",
        "status": "active",
        "variants": THREE_LANGUAGES[:2],
        "provider_refs": REFS,
    }
    response = as_marketer.put(f"{URL}{welcome.pk}/", body, format="json")
    assert response.status_code == 200, response.data
    assert response.data["version"] == 2
    assert [v["language"] for v in response.data["variants"]] == ["en", "zh-CN"]
    assert welcome.versions.count() == 2


def test_patch_of_the_description_keeps_the_version_and_status(as_marketer, welcome):
    response = as_marketer.patch(f"{URL}{welcome.pk}/", {"description": "New words"}, format="json")
    assert response.status_code == 200, response.data
    assert (response.data["description"], response.data["version"], response.data["status"]) == (
        "New words", 1, "active")


def test_patch_of_the_variants_creates_a_new_version(as_marketer, welcome):
    variants = [{**THREE_LANGUAGES[0], "body": "Only ${amount}"}]
    response = as_marketer.patch(f"{URL}{welcome.pk}/", {"variants": variants}, format="json")
    assert (response.status_code, response.data["version"], response.data["variables"]) == (
        200, 2, ["amount", "first_name"])


def test_the_key_cannot_change(as_marketer, welcome):
    response = as_marketer.patch(f"{URL}{welcome.pk}/", {"key": "other"}, format="json")
    assert response.status_code == 400
    assert "cannot change" in response.data["key"][0]


def test_archive_then_edit_is_a_conflict(as_marketer, welcome):
    response = as_marketer.post(f"{URL}{welcome.pk}/archive/")
    assert (response.status_code, response.data["status"]) == (200, "archived")
    again = as_marketer.post(f"{URL}{welcome.pk}/archive/")
    assert again.status_code == 409
    edit = as_marketer.patch(f"{URL}{welcome.pk}/", {"variants": THREE_LANGUAGES[:1]}, format="json")
    assert edit.status_code == 409
    assert "archived" in edit.data["detail"]


def test_render_returns_the_language_used(as_reviewer, welcome):
    response = as_reviewer.post(
        f"{URL}{welcome.pk}/render/", {"language": "es-MX", "parameters": PARAMETERS}, format="json"
    )
    assert response.status_code == 200, response.data
    assert response.data == {
        "language_used": "es",
        "title": "¡Bienvenido, Ana!",
        "body": "Reclama tu bono de 50 USDT antes del 2026-12-31.",
        "version": 1,
    }


def test_render_lists_missing_and_unknown_names_in_a_400(as_reviewer, welcome):
    response = as_reviewer.post(
        f"{URL}{welcome.pk}/render/",
        {"language": "en", "parameters": {"first_name": "Ana", "bonus": "5"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.data["missing"] == ["amount", "deadline"]
    assert response.data["unknown"] == ["bonus"]
    assert response.data["parameters"][0].startswith("missing parameters: amount, deadline")
    assert response.data["parameters"][1].startswith("unknown parameters: bonus")


def test_render_of_a_pinned_older_version(as_reviewer, as_marketer, welcome):
    v2 = {"variants": [{"language": "en", "body": "v2 ${x}"}]}
    as_marketer.patch(f"{URL}{welcome.pk}/", v2, format="json")
    old = as_reviewer.post(
        f"{URL}{welcome.pk}/render/", {"version": 1, "parameters": PARAMETERS}, format="json"
    )
    assert (old.status_code, old.data["version"], old.data["title"]) == (200, 1, "Welcome, Ana!")
    missing = as_reviewer.post(f"{URL}{welcome.pk}/render/", {"version": 9}, format="json")
    assert missing.status_code == 400
    assert "has no version 9 (latest: 2)" in missing.data["version"][0]


def test_render_refuses_a_malformed_language(as_reviewer, welcome):
    response = as_reviewer.post(
        f"{URL}{welcome.pk}/render/", {"language": "en US", "parameters": PARAMETERS}, format="json"
    )
    assert response.status_code == 400
    assert "not a BCP-47 language tag" in response.data["language"][0]


def test_versions_list_names_the_pinned_campaigns(as_reviewer, welcome, make_campaign):
    campaign = make_campaign(welcome.versions.get(number=1))
    data = as_reviewer.get(f"{URL}{welcome.pk}/versions/").data
    assert [(v["number"], v["campaign_ids"]) for v in data] == [(1, [campaign.pk])]


def test_reviewer_reads_but_cannot_write(as_reviewer, welcome):
    assert as_reviewer.get(URL).status_code == 200
    assert as_reviewer.post(URL, NEW, format="json").status_code == 403
    assert as_reviewer.patch(f"{URL}{welcome.pk}/", {"description": "x"}, format="json").status_code == 403
    assert as_reviewer.post(f"{URL}{welcome.pk}/archive/").status_code == 403
    welcome.refresh_from_db()
    assert welcome.status == TemplateStatus.ACTIVE


def test_delete_is_not_offered(as_marketer, welcome):
    assert as_marketer.delete(f"{URL}{welcome.pk}/").status_code in (403, 405)
    assert MessageTemplate.objects.filter(pk=welcome.pk).exists()


def test_non_staff_and_anonymous_users_are_refused(api, django_user_model, welcome):
    assert api.get(URL).status_code in (401, 403)
    outsider = django_user_model.objects.create_user(username="outsider", password="x")
    api.force_authenticate(outsider)
    assert api.get(URL).status_code == 403


def test_the_schema_describes_the_template_endpoints(as_reviewer):
    response = as_reviewer.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/templates/", "/api/v1/templates/{id}/render/", "/api/v1/templates/{id}/archive/"} <= set(
        paths
    )
