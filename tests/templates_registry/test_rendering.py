"""Rendering: variant fallback, parameter checks, no placeholder left, pinned versions."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from hypothesis import find, given, settings
from hypothesis import strategies as st

from templates_registry.content import content_clean
from templates_registry.models import MessageTemplate, TemplateVersion
from templates_registry.placeholders import Placeholder, Text, parse, unparse
from templates_registry.rendering import Rendered, RenderError, choose_variant, render, render_version
from templates_registry.selectors import current_version
from templates_registry.services import template_update

from .conftest import PARAMETERS, THREE_LANGUAGES

# The suite runs on shared, busy machines: judge results, not the speed of each example.
no_deadline = settings(deadline=None)


def version_of(variants, default_language: str = "en") -> TemplateVersion:
    """Return an unsaved version checked exactly as the services check one."""
    content = content_clean(default_language=default_language, variants=variants, provider_refs={})
    return TemplateVersion(
        template=MessageTemplate(key="generated"),
        number=1,
        default_language=content.default_language,
        variants=[v.as_dict() for v in content.variants],
        variables=content.variables,
    )


THREE = version_of(THREE_LANGUAGES)


# -- choosing the variant --------------------------------------------------------------
@pytest.mark.parametrize(
    ("asked", "used"),
    [
        ("zh-CN", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("es", "es"),
        ("es-MX", "es"),
        ("en-US", "en"),
        ("zh-Hans-CN", "en"),
        ("ja", "en"),
        ("", "en"),
    ],
)
def test_variant_is_exact_then_base_language_then_default(asked, used):
    assert render_version(THREE, asked, PARAMETERS).language_used == used


def test_a_regional_variant_is_chosen_before_its_base_language():
    version = version_of(
        [{"language": "en", "body": "colour ${x}"}, {"language": "en-US", "body": "color ${x}"}]
    )
    assert render_version(version, "en-US", {"x": "red"}).body == "color red"
    assert render_version(version, "en-GB", {"x": "red"}).body == "colour red"


def test_the_default_language_need_not_be_english():
    version = version_of(THREE_LANGUAGES, default_language="zh-CN")
    assert render_version(version, "fr", PARAMETERS).language_used == "zh-CN"


def test_a_script_subtag_falls_back_step_by_step():
    variants = [{"language": "zh", "body": "简"}, {"language": "zh-Hant", "body": "繁"}]
    assert choose_variant(variants, "zh-Hant-TW", "zh")["body"] == "繁"
    assert choose_variant(variants, "zh-Hans-SG", "zh")["body"] == "简"


def test_a_malformed_language_is_an_error_on_the_language_field():
    with pytest.raises(ValidationError) as caught:
        render_version(THREE, "english!", PARAMETERS)
    assert "'english!' is not a BCP-47 language tag" in caught.value.message_dict["language"][0]


# -- parameters ------------------------------------------------------------------------
def test_rendering_replaces_every_placeholder_in_title_and_body():
    assert render_version(THREE, "en", PARAMETERS) == Rendered(
        language_used="en", title="Welcome, Ana!", body="Claim your 50 USDT bonus by 2026-12-31."
    )


def test_missing_parameters_are_all_listed():
    with pytest.raises(RenderError) as caught:
        render_version(THREE, "en", {"first_name": "Ana"})
    assert caught.value.missing == ["amount", "deadline"]
    assert caught.value.unknown == []
    [message] = caught.value.message_dict["parameters"]
    assert message.startswith("missing parameters: amount, deadline")


def test_unknown_parameters_are_errors_too():
    with pytest.raises(RenderError) as caught:
        render_version(THREE, "en", {**PARAMETERS, "promo": "X", "coupon": "Y"})
    assert caught.value.unknown == ["coupon", "promo"]
    assert "unknown parameters: coupon, promo" in caught.value.message_dict["parameters"][0]


def test_missing_and_unknown_are_reported_together():
    with pytest.raises(RenderError) as caught:
        render_version(THREE, "en", {"first_name": "Ana", "amout": "5"})
    assert (caught.value.missing, caught.value.unknown) == (["amount", "deadline"], ["amout"])
    assert len(caught.value.message_dict["parameters"]) == 2


def test_a_variable_only_one_language_uses_is_still_required_for_every_language():
    version = version_of(
        [{"language": "en", "body": "Hi ${first_name}"}, {"language": "zh-CN", "body": "您好"}]
    )
    assert render_version(version, "zh-CN", {"first_name": "Ana"}).body == "您好"
    with pytest.raises(RenderError) as caught:
        render_version(version, "zh-CN", {})
    assert caught.value.missing == ["first_name"]


def test_a_parameter_value_must_be_text():
    with pytest.raises(RenderError) as caught:
        render_version(THREE, "en", {**PARAMETERS, "amount": 50})
    assert caught.value.invalid == {"amount": "must be text, got int 50"}


def test_a_parameter_value_holding_a_placeholder_is_refused():
    with pytest.raises(RenderError) as caught:
        render_version(THREE, "en", {**PARAMETERS, "first_name": "${user}"})
    assert "contains '${' at position 0" in caught.value.invalid["first_name"]


def test_escaped_placeholder_renders_as_literal_text():
    version = version_of([{"language": "en", "body": "Type $${code} or use ${code}"}])
    assert render_version(version, "en", {"code": "WELCOME"}).body == "Type ${code} or use WELCOME"


def test_render_error_is_a_validation_error_on_parameters():
    with pytest.raises(ValidationError) as caught:
        render_version(THREE, "en", {})
    assert list(caught.value.message_dict) == ["parameters"]


# -- properties ------------------------------------------------------------------------
NAMES = ["first_name", "amount", "deadline", "_code", "x1"]
LANGUAGES = ["en", "en-US", "zh-CN", "es", "ja"]
literal_text = (
    st.text(alphabet=st.sampled_from("ab $}{\n中文!"), min_size=1, max_size=10)
    .filter(lambda t: "${" not in t)
    .map(lambda t: t + " " if t.endswith("$") else t)
)
values = st.text(max_size=12).filter(lambda v: "${" not in v)
# Without "$" and "{" a value cannot combine with the text around it into "${", so any
# "${" in the output could only be a placeholder the renderer left behind.
plain_values = st.text(max_size=12).filter(lambda v: "$" not in v and "{" not in v)


@st.composite
def texts(draw) -> list[Text | Placeholder]:
    parts: list[Text | Placeholder] = []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        if index % 2 == draw(st.integers(min_value=0, max_value=1)) or not parts:
            parts.append(Placeholder(draw(st.sampled_from(NAMES)), 0))
        else:
            parts.append(Text(draw(literal_text)))
    # Keep Texts apart: two in a row would merge, one made of "$" and "{" into "${".
    merged: list[Text | Placeholder] = []
    for part in parts:
        if merged and isinstance(part, Text) and isinstance(merged[-1], Text):
            merged.append(Placeholder(draw(st.sampled_from(NAMES)), 0))
        merged.append(part)
    return merged


@st.composite
def templates(draw):
    languages = draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=4, unique=True))
    variants = [
        {"language": language, "title": unparse(draw(texts())), "body": unparse(draw(texts()))}
        for language in languages
    ]
    return version_of(variants, default_language=languages[0])


@no_deadline
@given(templates(), st.sampled_from([*LANGUAGES, "fr", "zh-Hant-TW", ""]), st.data())
def test_rendering_any_valid_template_with_all_its_parameters_leaves_no_placeholder(version, language, data):
    parameters = {name: data.draw(plain_values, label=name) for name in version.variables}
    rendered = render_version(version, language, parameters)
    assert "${" not in rendered.title
    assert "${" not in rendered.body
    assert rendered.language_used in [v["language"] for v in version.variants]


@no_deadline
@given(templates(), st.data())
def test_rendering_substitutes_exactly_the_parameter_values(version, data):
    parameters = {name: data.draw(values, label=name) for name in version.variables}
    for variant in version.variants:
        expected = "".join(
            parameters[p.name] if isinstance(p, Placeholder) else p.value for p in parse(variant["body"])
        )
        assert render_version(version, variant["language"], parameters).body == expected


@no_deadline
@given(templates(), st.data())
def test_leaving_out_any_parameter_names_it(version, data):
    left_out = data.draw(st.lists(st.sampled_from(version.variables), min_size=1, unique=True))
    parameters = {name: "v" for name in version.variables if name not in left_out}
    with pytest.raises(RenderError) as caught:
        render_version(version, "en", parameters)
    assert caught.value.missing == sorted(left_out)


def test_the_property_strategy_produces_several_languages_and_variables():
    # Guards the properties above against a strategy that quietly stops generating placeholders.
    version = find(templates(), lambda v: len(v.variables) >= 3 and len(v.variants) >= 3)
    assert all(re.search(r"\$\{\w+\}", v["title"] + v["body"]) for v in version.variants)


# -- versions --------------------------------------------------------------------------
@pytest.mark.django_db
def test_render_uses_the_current_version(welcome):
    changed = [{**v, "body": v["body"] + " ${promo_code}"} for v in THREE_LANGUAGES]
    template_update(template=welcome, variants=changed)
    rendered = render(welcome, "en", {**PARAMETERS, "promo_code": "NEW"})
    assert rendered.body.endswith(" NEW")


@pytest.mark.django_db
def test_a_pinned_version_keeps_its_text_when_the_template_changes(welcome, make_campaign):
    campaign = make_campaign(current_version(welcome))
    new_body = "New text for ${first_name}, ${amount}, ${deadline}, ${promo}"
    changed = [{**v, "body": new_body} for v in THREE_LANGUAGES]
    template_update(template=welcome, variants=changed)

    campaign.refresh_from_db()
    assert campaign.template_version.number == 1
    pinned = render_version(campaign.template_version, "en", campaign.parameters)
    assert pinned.body == "Claim your 50 USDT bonus by 2026-12-31."
    # The new version needs a parameter the approved campaign never supplied.
    with pytest.raises(RenderError):
        render(welcome, "en", campaign.parameters)


@pytest.mark.django_db
def test_a_version_a_campaign_uses_cannot_be_deleted(welcome, make_campaign):
    make_campaign(current_version(welcome))
    with pytest.raises(ProtectedError):
        current_version(welcome).delete()
