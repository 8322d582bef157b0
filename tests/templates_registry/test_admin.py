"""The admin: preview of every language, editing through the services, version history."""

from __future__ import annotations

import re

import pytest

from templates_registry.models import MessageTemplate, TemplateStatus
from templates_registry.selectors import current_version

from .conftest import REFS, THREE_LANGUAGES

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/templates_registry/messagetemplate/"


def preview_url(template) -> str:
    return f"{CHANGELIST}{template.pk}/preview/"


def form_data(variants, **fields) -> dict[str, str]:
    """Return the POST body of the template change form with ``variants`` inline."""
    data = {
        "key": "spring-sale",
        "description": "",
        "default_language": "en",
        "status": "draft",
        **{f"ref_{kind}": ref for kind, ref in REFS.items()},
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "1",
        "variants-MAX_NUM_FORMS": "1000",
    }
    for index, variant in enumerate(variants):
        for name, value in variant.items():
            data[f"variants-{index}-{name}"] = value
    data.update(fields)
    return data


def cards(html: str) -> dict[str, str]:
    """Return the text of each language card of the preview, by language."""
    card = r'<section class="preview-card"[^>]*data-language="([^"]+)">(.*?)</section>'
    found = re.findall(card, html, re.S)
    return {language: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)) for language, body in found}


def test_preview_renders_three_languages_side_by_side_with_sample_parameters(client, marketer, welcome):
    client.force_login(marketer)
    response = client.get(
        preview_url(welcome), {"first_name": "Mei", "amount": "50 USDT", "deadline": "31 Dec"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    rendered = cards(html)
    assert list(rendered) == ["en", "es", "zh-CN"]
    assert "Welcome, Mei!" in rendered["en"] and "Claim your 50 USDT bonus by 31 Dec." in rendered["en"]
    assert "¡Bienvenido, Mei!" in rendered["es"]
    assert "Reclama tu bono de 50 USDT antes del 31 Dec." in rendered["es"]
    assert "欢迎，Mei！" in rendered["zh-CN"] and "请在31 Dec前领取您的50 USDT奖励。" in rendered["zh-CN"]
    assert "grid-template-columns: repeat(3," in html


def test_preview_fills_in_visible_stand_ins_for_parameters_left_empty(client, reviewer, welcome):
    client.force_login(reviewer)
    rendered = cards(client.get(preview_url(welcome)).content.decode())
    assert "Claim your [amount] bonus by [deadline]." in rendered["en"]


def test_preview_escapes_parameter_values(client, reviewer, welcome):
    client.force_login(reviewer)
    html = client.get(preview_url(welcome), {"first_name": "<b>x</b>"}).content.decode()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_preview_of_an_older_version_shows_its_text(client, reviewer, welcome):
    from templates_registry.services import template_update

    template_update(template=welcome, variants=[{"language": "en", "title": "", "body": "Now ${x}"}])
    client.force_login(reviewer)
    old = cards(client.get(preview_url(welcome), {"version": "1"}).content.decode())
    new = cards(client.get(preview_url(welcome)).content.decode())
    assert list(old) == ["en", "es", "zh-CN"] and list(new) == ["en"]
    assert "Now [x]" in new["en"]
    assert client.get(preview_url(welcome), {"version": "7"}).status_code == 404


def test_preview_shows_a_value_that_cannot_be_rendered_as_an_error(client, reviewer, welcome):
    client.force_login(reviewer)
    html = client.get(preview_url(welcome), {"first_name": "${name}"}).content.decode()
    assert "values are plain text, not templates" in html


def test_preview_needs_a_staff_user_with_view_permission(client, make_user, welcome):
    client.force_login(make_user("nobody"))
    assert client.get(preview_url(welcome)).status_code == 403


def test_change_page_lists_variables_versions_and_pinned_campaigns(client, reviewer, welcome, make_campaign):
    campaign = make_campaign(current_version(welcome), name="December launch")
    client.force_login(reviewer)
    response = client.get(f"{CHANGELIST}{welcome.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "amount, deadline, first_name" in html
    assert "version-history" in html and "December launch" in html
    assert f"/admin/campaigns/campaign/{campaign.pk}/change/" in html
    assert "Binance templateId: 1344001" in html
    assert f"{preview_url(welcome)}?version=1" in html


def test_marketer_adds_a_template_with_variants_inline_and_gets_version_one(client, marketer):
    client.force_login(marketer)
    variants = [
        {"language": "en", "title": "Sale", "body": "${pct}% off until ${day}"},
        {"language": "ja", "title": "セール", "body": "${day}まで${pct}%オフ"},
    ]
    response = client.post(f"{CHANGELIST}add/", form_data(variants))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    template = MessageTemplate.objects.get(key="spring-sale")
    version = current_version(template)
    assert (template.version, version.variables, version.provider_refs) == (1, ["day", "pct"], REFS)
    assert version.created_by == marketer


def test_admin_refuses_a_malformed_placeholder_and_names_the_variant(client, marketer):
    client.force_login(marketer)
    variants = [{"language": "en", "title": "", "body": "Hello ${}"}]
    response = client.post(f"{CHANGELIST}add/", form_data(variants))
    assert response.status_code == 200
    assert "variant en, body: empty placeholder &#x27;${}&#x27; at position 6" in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_admin_refuses_a_non_numeric_jiguang_id(client, marketer):
    client.force_login(marketer)
    data = form_data([{"language": "en", "title": "", "body": "x"}], ref_jiguang="welcome")
    response = client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 200
    assert "must be a whole number" in response.content.decode()


def test_editing_a_variant_in_the_admin_creates_a_new_version(client, marketer, welcome):
    client.force_login(marketer)
    rows = list(welcome.variants.order_by("language"))
    variants = [
        {"id": str(row.pk), "template": str(welcome.pk), "language": row.language, "title": row.title,
         "body": row.body + (" ${promo}" if row.language == "en" else "")}
        for row in rows
    ]
    data = form_data(variants, status="active", **{"variants-INITIAL_FORMS": str(len(rows))})
    del data["key"]
    response = client.post(f"{CHANGELIST}{welcome.pk}/change/", data, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "saved as version 2" in html
    assert "variable &#x27;promo&#x27; is used by en but not by es, zh-CN" in html
    welcome.refresh_from_db()
    assert welcome.version == 2
    assert current_version(welcome).variables == ["amount", "deadline", "first_name", "promo"]
    assert welcome.versions.get(number=1).variables == ["amount", "deadline", "first_name"]


def test_saving_unchanged_text_in_the_admin_keeps_the_version(client, marketer, welcome):
    client.force_login(marketer)
    rows = list(welcome.variants.order_by("language"))
    variants = [
        {"id": str(row.pk), "template": str(welcome.pk), "language": row.language, "title": row.title,
         "body": row.body}
        for row in rows
    ]
    data = form_data(variants, status="active", description="Edited words",
                     **{"variants-INITIAL_FORMS": str(len(rows))})
    response = client.post(f"{CHANGELIST}{welcome.pk}/change/", data, follow=True)
    assert "still version 1" in response.content.decode()
    welcome.refresh_from_db()
    assert (welcome.version, welcome.description) == (1, "Edited words")


def test_reviewer_sees_the_template_read_only(client, reviewer, welcome):
    client.force_login(reviewer)
    page = client.get(f"{CHANGELIST}{welcome.pk}/change/")
    assert page.status_code == 200
    assert 'name="ref_binance"' not in page.content.decode()
    data = form_data(THREE_LANGUAGES, status="archived")
    assert client.post(f"{CHANGELIST}{welcome.pk}/change/", data).status_code == 403
    welcome.refresh_from_db()
    assert welcome.status == TemplateStatus.ACTIVE


def test_archive_action_goes_through_the_service(client, marketer, welcome, make_template):
    archived = make_template("old-one", status="draft")
    from templates_registry.services import template_archive

    template_archive(template=archived)
    client.force_login(marketer)
    response = client.post(
        CHANGELIST,
        {"action": "archive_selected", "_selected_action": [welcome.pk, archived.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Archived welcome-bonus." in html
    assert "old-one" in html and "is archived; it cannot become archived" in html
    welcome.refresh_from_db()
    assert welcome.status == TemplateStatus.ARCHIVED


def test_templates_cannot_be_deleted_in_the_admin(admin_client, welcome):
    assert admin_client.get(f"{CHANGELIST}{welcome.pk}/delete/").status_code == 403


def test_the_changelist_shows_languages_and_variables(client, reviewer, welcome):
    client.force_login(reviewer)
    html = client.get(CHANGELIST).content.decode()
    assert "en, es, zh-CN" in html and "amount, deadline, first_name" in html
