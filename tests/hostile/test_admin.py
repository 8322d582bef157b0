"""Hostile input through the admin (issue #15, item 1): the add and change form of every
model of Crier's apps registered in the admin (read from the admin site, so a new one is
included), the template variants inline, the buttons that post a free-text reason or
comment, and the CSV uploads. A NUL in any text field, and a lone surrogate, a NUL or
100,000-deep nesting in any JSON field, is an error naming that field and the rule, within
a bounded time; not one row changes; every changelist still answers 200."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from campaigns.models import Recipient
from templates_registry.models import MessageTemplate
from tests.hostile.common import BOUND_SECONDS, DEEP, NUL, OUR_APPS, SURROGATE, snapshot, timed

pytestmark = pytest.mark.django_db

RAW_NUL = "a\x00b"
#: What the refusal says, per value (Django's own rule for a NUL in a text field).
NUL_RULES = ("Null characters are not allowed", "the NUL character (\\u0000) is not allowed in text")
JSON_VALUES = {
    "surrogate": ("[" + SURROGATE + "]", ("is not valid Unicode text",)),
    "nul": ("[" + NUL + "]", NUL_RULES),
    "deep": (DEEP, ("nested deeper than 64 levels",)),
}
#: Form fields that read JSON text: Django's and the campaign form's list and object fields.
JSON_FIELD_NAMES = {"ParametersField", "ListField", "CircleValueField"}
#: Of those, the ones holding numbers: a string of any kind is refused as not a number.
NUMBER_FIELD_NAMES = {"CircleValueField"}


def admins(user) -> list[tuple[type, admin.ModelAdmin]]:
    request = RequestFactory().get("/")
    request.user = user
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in OUR_APPS
    ], request


def text_fields(form_class, obj) -> dict[str, str]:
    """{field name: "text", "json" or "numbers"} for every field of the page's form that
    takes typed text."""
    found = {}
    for name, field in form_class(instance=obj).fields.items():
        if field.disabled:
            continue
        if type(field).__name__ in NUMBER_FIELD_NAMES:
            found[name] = "numbers"
        elif isinstance(field, forms.JSONField) or type(field).__name__ in JSON_FIELD_NAMES:
            found[name] = "json"
        elif isinstance(field, forms.CharField):
            found[name] = "text"
    return found


def form_pages(user) -> list[tuple[str, str, dict[str, bool]]]:
    """(label, url, text fields) of every add and change page the superuser may post."""
    registered, request = admins(user)
    pages = []
    for model, model_admin in registered:
        opts = model._meta
        if model_admin.has_add_permission(request):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            pages.append((f"{opts.label} add", url, text_fields(model_admin.get_form(request, None), None)))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None and model_admin.has_change_permission(request, obj):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            pages.append((f"{opts.label} change", url, text_fields(model_admin.get_form(request, obj), obj)))
    return pages


def field_errors(answer, name: str) -> str:
    form = answer.context["adminform"].form
    return " ".join(str(message) for message in form.errors.get(name, []))


def assert_changelists_answer(client: Client, user) -> None:
    registered, request = admins(user)
    for model, model_admin in registered:
        if model_admin.has_view_permission(request):
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            assert client.get(url).status_code == 200, url


@pytest.fixture
def staff(world, superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.mark.slow  # runs long: its file is scheduled first (tests/conftest.py)
def test_every_admin_form_refuses_hostile_text_in_each_field_naming_it(staff, superuser):
    pages = form_pages(superuser)
    labels = {label for label, _url, _fields in pages}
    # Each model with text or JSON fields a person edits in the admin.
    assert {"campaigns.Campaign add", "campaigns.Campaign change", "templates_registry.MessageTemplate add",
            "campaigns.Recipient change", "campaigns.Audience add", "campaigns.Audience change",
            "providers.ProviderAccount change"} <= labels, labels
    before = snapshot()

    tried = 0
    for label, url, fields in pages:
        for name, reads in fields.items():
            values = {"raw-nul": (RAW_NUL, NUL_RULES)}
            if reads == "numbers":  # any string is refused as not a number; depth is named
                values = {"raw-nul": (RAW_NUL, ("",))}
                values.update({k: (v, ("",)) for k, (v, _rules) in JSON_VALUES.items()})
                values["deep"] = JSON_VALUES["deep"]
            elif reads == "json":
                # A raw NUL is not JSON at all: any refusal on the field will do; the rule is
                # named for the JSON-escaped NUL.
                values = {"raw-nul": (RAW_NUL, ("",)), **JSON_VALUES}
            # The bound is for pathological costs (a quadratic check took minutes), not a
            # speed measurement: scaled by what a harmless value costs on this form now, so a
            # machine loaded by other work does not fail it (benchmarks measure speed).
            _answer, usual = timed(lambda u=url, n=name: staff.post(u, {n: "harmless"}))
            bound = max(BOUND_SECONDS, 10 * usual)
            for kind, (value, rules) in values.items():
                answer, seconds = timed(lambda u=url, n=name, v=value: staff.post(u, {n: v}))
                tried += 1
                assert answer.status_code == 200, (label, name, kind, answer.status_code)
                errors = field_errors(answer, name)
                assert errors and any(rule in errors for rule in rules), (label, name, kind, errors)
                assert seconds < bound, (label, name, kind, seconds, usual)
        assert snapshot() == before, label

    # Dispatch and delivery pages are read-only (the ledger is the engine's), so their
    # fields are no longer among the forms tried.
    assert tried > 90
    assert_changelists_answer(staff, superuser)


def test_the_audience_segment_refuses_a_nul_naming_the_field(staff, superuser):
    """The segment is a text column (one segment id): a NUL is Django's text rule."""
    before = snapshot()
    answer = staff.post(
        reverse("admin:campaigns_audience_add"), {"name": "s", "kind": "segment", "segment": RAW_NUL}
    )
    assert answer.status_code == 200
    assert "Null characters are not allowed" in field_errors(answer, "segment")
    assert snapshot() == before


def variants_body(title: str, body: str) -> dict[str, str]:
    from tests.templates_registry.test_admin import form_data

    return form_data([{"language": "en", "title": title, "body": body}], key="hostile-variant")


@pytest.mark.parametrize("where", ["title", "body"])
def test_the_template_variants_inline_refuses_a_nul(staff, superuser, where):
    before = snapshot()
    values = {"title": "t", "body": "b", where: RAW_NUL}

    answer, seconds = timed(
        lambda: staff.post(reverse("admin:templates_registry_messagetemplate_add"), variants_body(**values))
    )

    assert answer.status_code == 200 and seconds < BOUND_SECONDS
    inline_errors = " ".join(str(e) for formset in answer.context["inline_admin_formsets"]
                             for e in formset.formset.errors)
    assert "Null characters are not allowed" in inline_errors and where in inline_errors
    assert not MessageTemplate.objects.filter(key="hostile-variant").exists()
    assert snapshot() == before


def test_the_buttons_that_post_a_reason_or_a_comment_refuse_a_nul(staff, superuser, world):
    draft, in_review, _sending = world.ids["campaigns"]
    dispatch = world.ids["dispatches"][0]
    posts = [
        (reverse("admin:campaigns_campaign_transition", args=[draft, "cancel"]), {"reason": RAW_NUL}),
        (
            reverse("admin:campaigns_campaign_review", args=[in_review]),
            {"decision": "reject", "comment": RAW_NUL},
        ),
        (reverse("admin:campaigns_dispatch_sending", args=["stop"]), {"reason": RAW_NUL}),
        (reverse("admin:campaigns_dispatch_held", args=[dispatch, "cancel"]), {"reason": RAW_NUL}),
    ]
    before = snapshot()

    for url, data in posts:
        answer, seconds = timed(lambda u=url, d=data: staff.post(u, d, follow=True))
        if "comment" in data:
            # The review page answers 400 and shows the refusal by the comment box, keeping
            # the page (and what was typed) instead of redirecting with a message.
            assert answer.status_code == 400, (url, answer.status_code)
            shown = str(answer.context["comment_error"])
        else:
            assert answer.status_code == 200, (url, answer.status_code)
            shown = " ".join(str(m) for m in answer.context["messages"])
        assert "the NUL character (\\u0000) is not allowed in text" in shown, (url, shown)
        assert seconds < BOUND_SECONDS, (url, seconds)
        assert snapshot() == before, url

    assert_changelists_answer(staff, superuser)


HUGE_HEADER = ",".join(["external_id", *(f"c{i}" for i in range(200_000 - 1))]) + "\nu1\n"


def test_the_csv_uploads_answer_a_200000_column_header_in_bounded_time(staff, superuser, world):
    audience = world.ids["audiences"][0]
    before = snapshot()
    uploads = [
        (reverse("admin:campaigns_recipient_upload"), {}),
        (reverse("admin:campaigns_audience_upload", args=[audience]), {"list": "members"}),
    ]

    for url, extra in uploads:
        for button in ("_preview", "_import"):
            upload = SimpleUploadedFile("h.csv", HUGE_HEADER.encode(), content_type="text/csv")
            body = {"file": upload, button: "x", **extra}
            answer, seconds = timed(lambda u=url, b=body: staff.post(u, b))
            assert answer.status_code == 200, (url, button, answer.status_code)
            assert seconds < BOUND_SECONDS, (url, button, seconds)
    # The recipient upload names the rule (tests/campaigns/test_csv_header.py has the text).
    assert Recipient.objects.count() == len(world.ids["recipients"])
    assert snapshot()["campaigns.Recipient"] == before["campaigns.Recipient"]

    assert_changelists_answer(staff, superuser)
