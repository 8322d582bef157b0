"""Creating, updating, versioning and archiving templates."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from templates_registry.models import MessageTemplate, TemplateStatus, TemplateVersion
from templates_registry.selectors import current_version
from templates_registry.services import (
    TemplateConflict,
    template_activate,
    template_archive,
    template_create,
    template_update,
)

from .conftest import REFS, THREE_LANGUAGES

pytestmark = pytest.mark.django_db


def errors_of(caught: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return caught.value.message_dict


def test_created_template_has_version_one_with_its_variants_and_variables(welcome):
    version = current_version(welcome)
    assert welcome.version == 1 and version.number == 1
    assert [v["language"] for v in version.variants] == ["en", "es", "zh-CN"]
    assert version.variables == ["amount", "deadline", "first_name"]
    assert version.provider_refs == REFS
    assert sorted(welcome.variants.values_list("language", flat=True)) == ["en", "es", "zh-CN"]


def test_languages_are_stored_in_canonical_case(db, make_template):
    template = make_template(
        default_language="EN-us",
        variants=[{"language": "en-us", "title": "", "body": "hi"}, {"language": "ZH-cn", "body": "你好"}],
    )
    assert template.default_language == "en-US"
    assert sorted(template.variants.values_list("language", flat=True)) == ["en-US", "zh-CN"]


def test_a_new_template_is_a_draft_unless_told(db):
    template = template_create(key="t", variants=[{"language": "en", "body": "x"}], provider_refs={})
    assert template.status == TemplateStatus.DRAFT


def test_duplicate_key_is_refused(welcome, make_template):
    with pytest.raises(ValidationError) as caught:
        make_template(key="welcome-bonus")
    assert errors_of(caught)["key"] == ["a template with key 'welcome-bonus' already exists"]


def test_malformed_placeholder_names_the_variant_the_field_and_the_position(db, make_template):
    variants = [
        {"language": "en", "title": "Hi", "body": "Hello ${first_name}"},
        {"language": "zh-CN", "title": "你好${}", "body": "你好 ${1a}"},
    ]
    with pytest.raises(ValidationError) as caught:
        make_template(variants=variants)
    messages = errors_of(caught)["variants"]
    assert messages[0].startswith("variant zh-CN, title: empty placeholder '${}' at position 2")
    assert messages[1].startswith("variant zh-CN, body: malformed placeholder '${1a}' at position 3")
    assert not MessageTemplate.objects.exists()


def test_unclosed_placeholder_is_refused(db, make_template):
    with pytest.raises(ValidationError) as caught:
        make_template(variants=[{"language": "en", "body": "Win ${amount now"}])
    assert "variant en, body: unclosed placeholder '${amount now' at position 4" in errors_of(caught)[
        "variants"
    ][0]


def test_every_problem_is_reported_at_once(db):
    with pytest.raises(ValidationError) as caught:
        template_create(
            key="bad key",
            default_language="fr",
            variants=[
                {"language": "english", "body": "x"},
                {"language": "en", "body": "  "},
                {"language": "EN", "body": "y"},
            ],
            provider_refs={"jiguang": "abc"},
            status="archived",
        )
    errors = errors_of(caught)
    assert set(errors) == {"key", "status", "default_language", "variants", "provider_refs"}
    assert "variant 1: 'english' is not a BCP-47 language tag" in errors["variants"][0]
    assert errors["variants"][1] == "variant en, body: is empty; write the message text"
    assert errors["variants"][2] == "variant en: the language appears more than once"
    assert errors["default_language"] == ["there is no fr variant; add one or choose one of: en"]


def test_a_template_needs_a_variant(db):
    with pytest.raises(ValidationError) as caught:
        template_create(key="empty", variants=[], provider_refs={})
    assert errors_of(caught)["variants"] == ["a template needs at least one variant"]


def test_changing_a_variant_text_creates_a_new_version_and_keeps_the_old(welcome):
    changed = [dict(v) for v in THREE_LANGUAGES]
    changed[0]["body"] = "Your ${amount} bonus waits until ${deadline}."
    template_update(template=welcome, variants=changed)

    assert welcome.version == 2
    old, new = welcome.versions.get(number=1), welcome.versions.get(number=2)
    assert old.variants[0]["body"] == "Claim your ${amount} bonus by ${deadline}."
    assert new.variants[0]["body"] == "Your ${amount} bonus waits until ${deadline}."
    assert welcome.variants.get(language="en").body == "Your ${amount} bonus waits until ${deadline}."


def test_changing_the_variable_set_creates_a_new_version_with_the_new_variables(welcome):
    changed = [{**v, "body": v["body"] + " ${promo_code}"} for v in THREE_LANGUAGES]
    template_update(template=welcome, variants=changed)
    assert current_version(welcome).variables == ["amount", "deadline", "first_name", "promo_code"]
    assert welcome.versions.get(number=1).variables == ["amount", "deadline", "first_name"]


def test_removing_a_language_removes_its_variant_in_the_new_version_only(welcome):
    template_update(template=welcome, variants=THREE_LANGUAGES[:2])
    assert sorted(welcome.variants.values_list("language", flat=True)) == ["en", "zh-CN"]
    assert len(welcome.versions.get(number=1).variants) == 3
    assert len(welcome.versions.get(number=2).variants) == 2


def test_changing_a_provider_reference_is_a_new_version(welcome):
    template_update(template=welcome, provider_refs={**REFS, "jiguang": "100232"})
    assert welcome.version == 2
    assert welcome.provider_refs["jiguang"] == "100232"
    assert welcome.versions.get(number=1).provider_refs["jiguang"] == "100231"


def test_saving_the_same_content_creates_no_version(welcome):
    template_update(
        template=welcome, variants=list(reversed(THREE_LANGUAGES)), provider_refs=REFS, default_language="en"
    )
    assert welcome.version == 1
    assert TemplateVersion.objects.filter(template=welcome).count() == 1


def test_a_description_change_is_not_a_new_version(welcome):
    template_update(template=welcome, description="Sent after sign-up.")
    assert (welcome.description, welcome.version) == ("Sent after sign-up.", 1)


def test_a_failed_update_changes_nothing(welcome):
    with pytest.raises(ValidationError):
        template_update(template=welcome, variants=[{"language": "en", "body": "${"}], status="archived")
    assert (welcome.version, welcome.status) == (1, TemplateStatus.ACTIVE)
    welcome.refresh_from_db()
    assert (welcome.version, welcome.status) == (1, TemplateStatus.ACTIVE)


def test_an_edit_based_on_a_stale_version_is_a_conflict(welcome):
    stale = MessageTemplate.objects.get(pk=welcome.pk)
    template_update(template=welcome, variants=THREE_LANGUAGES[:1])
    with pytest.raises(TemplateConflict, match="changed since version 1 was read"):
        template_update(template=stale, variants=THREE_LANGUAGES[:2])
    assert welcome.versions.count() == 2


def test_archived_template_text_cannot_change(welcome):
    template_archive(template=welcome)
    with pytest.raises(TemplateConflict, match="is archived; restore it to draft"):
        template_update(template=welcome, variants=THREE_LANGUAGES[:1])


def test_archived_template_can_be_restored_to_draft_and_edited(welcome):
    template_archive(template=welcome)
    template_update(template=welcome, status="draft", variants=THREE_LANGUAGES[:1])
    assert (welcome.status, welcome.version) == (TemplateStatus.DRAFT, 2)


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("draft", "active", True),
        ("draft", "archived", True),
        ("active", "archived", True),
        ("active", "draft", False),
        ("archived", "active", False),
        ("archived", "draft", True),
    ],
)
def test_status_transitions(db, make_template, start, target, allowed):
    template = make_template(status="draft")
    if start == "active":
        template_activate(template=template)
    elif start == "archived":
        template_archive(template=template)
    if allowed:
        template_update(template=template, status=target)
        assert template.status == target
    else:
        with pytest.raises(TemplateConflict, match=f"is {start}; it cannot become {target}"):
            template_update(template=template, status=target)


def test_archiving_twice_is_a_conflict_not_a_silent_no_op(welcome):
    template_archive(template=welcome)
    with pytest.raises(TemplateConflict):
        template_archive(template=welcome)


def test_unknown_status_is_a_validation_error(welcome):
    with pytest.raises(ValidationError) as caught:
        template_update(template=welcome, status="paused")
    assert "'paused' is not a status" in errors_of(caught)["status"][0]


def test_the_author_of_a_version_is_recorded(db, make_template, marketer):
    template = make_template(by=marketer)
    template_update(template=template, variants=THREE_LANGUAGES[:1], by=marketer)
    assert [v.created_by for v in template.versions.all()] == [marketer, marketer]


def test_a_template_made_without_the_services_gets_version_one_on_its_first_update(db):
    template = MessageTemplate.objects.create(key="raw")
    template_update(template=template, variants=[{"language": "en", "body": "Hi ${name}"}])
    assert template.version == 1
    assert current_version(template).variables == ["name"]
