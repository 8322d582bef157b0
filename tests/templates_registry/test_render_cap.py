"""A rendered message is at most CRIER_MAX_RENDERED_CHARS characters: refused at write, at
render (before any text is built) and at campaign submit, always as a 400 naming the field."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from rest_framework.test import APIClient

from approvals.services import campaign_submit
from campaigns.models import Campaign, CampaignStatus
from templates_registry.models import MessageTemplate
from templates_registry.rendering import RenderError, render_version
from templates_registry.selectors import current_version
from templates_registry.services import template_create, template_update
from tests.approvals.factories import make_campaign

from .conftest import REFS
from .test_admin import CHANGELIST, form_data, preview_url

pytestmark = pytest.mark.django_db

URL = "/api/v1/templates/"


@pytest.fixture
def as_marketer(marketer):
    api = APIClient()
    api.force_authenticate(marketer)
    return api


def create(body: str, title: str = "", key: str = "capped"):
    return template_create(
        key=key,
        status="active",
        provider_refs=REFS,
        variants=[{"language": "en", "title": title, "body": body}],
    )


def test_the_default_cap_is_4000_characters(settings):
    assert settings.CRIER_MAX_RENDERED_CHARS == 4000


# --- at write ----------------------------------------------------------------------------


@override_settings(CRIER_MAX_RENDERED_CHARS=50)
def test_a_variant_whose_own_text_is_over_the_cap_is_refused_naming_the_variant():
    with pytest.raises(ValidationError) as exc:
        template_create(
            key="long",
            provider_refs=REFS,
            variants=[
                {"language": "en", "title": "t" * 11, "body": "b" * 40 + "${name}"},  # 51 without ${name}
                {"language": "es", "title": "t" * 10, "body": "b" * 40 + "${name}"},  # 50: allowed
            ],
        )
    assert exc.value.message_dict == {
        "variants": [
            "variant en, title and body: 51 characters without their variables; "
            "a rendered message is at most 50 characters"
        ]
    }
    assert not MessageTemplate.objects.exists()


@override_settings(CRIER_MAX_RENDERED_CHARS=50)
def test_an_update_over_the_cap_is_refused_and_keeps_the_version():
    template = create("short ${name}")
    with pytest.raises(ValidationError) as exc:
        template_update(template=template, variants=[{"language": "en", "title": "", "body": "x" * 51}])
    assert "variants" in exc.value.message_dict
    template.refresh_from_db()
    assert template.version == 1


@override_settings(CRIER_MAX_RENDERED_CHARS=50)
def test_the_api_answers_400_on_variants_for_a_text_over_the_cap(as_marketer):
    data = {
        "key": "long",
        "variants": [{"language": "en", "title": "", "body": "x" * 60}],
        "provider_refs": REFS,
    }
    response = as_marketer.post(URL, data, format="json")
    assert response.status_code == 400
    assert response.data == {
        "variants": [
            "variant en, title and body: 60 characters without their variables; "
            "a rendered message is at most 50 characters"
        ]
    }
    assert not MessageTemplate.objects.exists()
    assert as_marketer.get(URL).status_code == 200


@override_settings(CRIER_MAX_RENDERED_CHARS=50)
def test_the_admin_form_refuses_a_text_over_the_cap_naming_the_variant(client, marketer):
    client.force_login(marketer)
    response = client.post(
        f"{CHANGELIST}add/", form_data([{"language": "en", "title": "", "body": "y" * 70}])
    )
    assert response.status_code == 200
    assert "variant en, title and body: 70 characters without their variables" in response.content.decode()
    assert not MessageTemplate.objects.exists()


# --- at render ---------------------------------------------------------------------------


@override_settings(CRIER_MAX_RENDERED_CHARS=50)
def test_a_render_up_to_the_cap_passes_and_one_character_more_is_refused():
    version = current_version(create("${a}: ${b}", title="${a}"))
    rendered = render_version(version, "en", {"a": "x" * 20, "b": "y" * 8})  # 20 + 20 + 2 + 8
    assert len(rendered.title + rendered.body) == 50
    with pytest.raises(RenderError) as exc:
        render_version(version, "en", {"a": "x" * 20, "b": "y" * 9})
    assert exc.value.message_dict == {
        "parameters": [
            "parameter 'a': 20 characters, used 2 time(s) in the en variant: the rendered title and "
            "body would be 51 characters; at most 50 are allowed"
        ]
    }


@override_settings(CRIER_MAX_RENDERED_CHARS=50)
def test_a_refused_render_names_as_many_values_as_it_takes_longest_first():
    version = current_version(create("${a}${b}${c}"))
    with pytest.raises(RenderError) as exc:
        render_version(version, "en", {"a": "x" * 30, "b": "y" * 25, "c": "z" * 20})  # 75: 25 too many
    assert list(exc.value.invalid) == ["a"]
    with pytest.raises(RenderError) as exc:
        render_version(version, "en", {"a": "x" * 30, "b": "y" * 30, "c": "z" * 30})  # 90: 40 too many
    assert list(exc.value.invalid) == ["a", "b"]


def test_the_100_mb_render_of_the_issue_is_refused_without_building_it(as_marketer, monkeypatch):
    # 400 KB of placeholders and no text of its own: allowed at write, 100 MB once rendered.
    template = create("${a}" * 100_000)

    def substitute(*args):
        raise AssertionError("the over-cap text was built")

    monkeypatch.setattr("templates_registry.rendering._substitute", substitute)
    response = as_marketer.post(
        f"{URL}{template.pk}/render/", {"parameters": {"a": "x" * 1000}}, format="json"
    )
    assert response.status_code == 400
    assert response.data["parameters"] == [
        "parameter 'a': 1000 characters, used 100000 time(s) in the en variant: the rendered title "
        "and body would be 100000000 characters; at most 4000 are allowed"
    ]
    assert (response.data["missing"], response.data["unknown"]) == ([], [])


def test_a_template_written_before_the_cap_was_lowered_is_a_400_on_template(as_marketer):
    template = create("x" * 100)
    with override_settings(CRIER_MAX_RENDERED_CHARS=50):
        response = as_marketer.post(f"{URL}{template.pk}/render/", {}, format="json")
    assert response.status_code == 400
    assert response.data == {
        "template": [
            "capped v1 variant en is 100 characters without its variables; a rendered title and "
            "body are at most 50 characters"
        ]
    }


@override_settings(CRIER_MAX_RENDERED_CHARS=50)
def test_the_admin_preview_shows_an_over_cap_value_as_an_error(client, reviewer):
    template = create("${a}")
    client.force_login(reviewer)
    response = client.get(preview_url(template), {"a": "x" * 51})
    assert response.status_code == 200
    assert "51 characters, used 1 time(s) in the en variant" in response.content.decode()


# --- at campaign submit --------------------------------------------------------------------


def over_cap_draft(marketer) -> Campaign:
    # The factory's template: "Hello ${name}" / "Save ${pct}% today", in en and zh-CN. The
    # cap is checked at write too (tests/hostile/test_parameter_cap.py): this draft was
    # written while the cap was higher, and the cap was lowered to 4000 before its submit.
    with override_settings(CRIER_MAX_RENDERED_CHARS=10_000):
        return make_campaign(marketer, parameters={"name": "n" * 4000, "pct": "20"})


def test_submit_refuses_a_campaign_over_the_cap_naming_the_parameter(marketer):
    campaign = over_cap_draft(marketer)
    with pytest.raises(ValidationError) as exc:
        campaign_submit(campaign=campaign, actor=marketer)
    assert list(exc.value.message_dict) == ["parameters"]
    assert "parameter 'name': 4000 characters" in exc.value.message_dict["parameters"][0]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_the_submit_endpoint_answers_400_on_parameters_and_the_campaign_stays_a_draft(as_marketer, marketer):
    campaign = over_cap_draft(marketer)
    response = as_marketer.post(f"/api/v1/campaigns/{campaign.pk}/submit/")
    assert response.status_code == 400
    assert "at most 4000 are allowed" in response.data["parameters"][0]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert as_marketer.get(f"/api/v1/campaigns/{campaign.pk}/").status_code == 200
