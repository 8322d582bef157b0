"""The demo templates."""

from __future__ import annotations

import io

import pytest

from templates_registry import demo
from templates_registry.content import content_of_version, variable_warnings
from templates_registry.models import MessageTemplate, TemplateStatus, TemplateVersion
from templates_registry.references import template_references
from templates_registry.rendering import render
from templates_registry.selectors import current_version

pytestmark = pytest.mark.django_db


def test_seed_creates_two_active_templates_in_three_languages_with_all_providers():
    demo.seed(io.StringIO())
    templates = list(MessageTemplate.objects.order_by("key"))
    assert [t.key for t in templates] == ["weekly-digest", "welcome-bonus"]
    for template in templates:
        version = current_version(template)
        languages = {v["language"] for v in version.variants}
        assert template.status == TemplateStatus.ACTIVE and template.version == 1
        assert {"en", "zh-CN"} < languages and len(languages) == 3
        assert set(template.provider_refs) == set(template_references())
        assert template.provider_refs["jiguang"].isdigit()
        assert 2 <= len(version.variables) <= 3
        assert variable_warnings(content_of_version(version)) == []


def test_every_demo_language_renders_completely():
    demo.seed(io.StringIO())
    for template in MessageTemplate.objects.all():
        parameters = {name: f"<{name}>" for name in current_version(template).variables}
        for variant in current_version(template).variants:
            rendered = render(template, variant["language"], parameters)
            assert rendered.language_used == variant["language"]
            assert "${" not in rendered.title + rendered.body


def test_seeding_twice_changes_nothing():
    demo.seed(io.StringIO())
    out = io.StringIO()
    demo.seed(out)
    assert MessageTemplate.objects.count() == 2
    assert TemplateVersion.objects.count() == 2
    assert "exists at v1, left as is" in out.getvalue()
