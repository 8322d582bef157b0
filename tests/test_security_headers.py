"""Security headers and session length: the Content-Security-Policy and a short staff session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize("url", ["/admin/", "/admin/campaigns/campaign/add/", "/admin/login/"])
def test_admin_pages_carry_a_policy_that_allows_no_inline_script(admin_user, url):
    client = Client()
    if url != "/admin/login/":
        client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_campaign_form_has_no_inline_script_or_event_handler(admin_user, make_user):
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/campaigns/campaign/add/").content.decode()
    assert " onclick=" not in page and " onsubmit=" not in page
    for tag in page.split("<script")[1:]:
        opening = tag.split(">", 1)[0]
        assert "src=" in opening or 'type="application/json"' in opening, opening


def test_a_staff_session_lasts_the_configured_age_not_two_weeks(admin_user):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    client = Client()
    client.force_login(admin_user)
    session = Session.objects.get(session_key=client.session.session_key)
    left = (session.expire_date - timezone.now()).total_seconds()
    assert 8 * 3600 - 60 < left <= 8 * 3600


def test_the_session_age_comes_from_crier_session_age_seconds():
    env = {
        **os.environ,
        "CRIER_SESSION_AGE_SECONDS": "900",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "a-test-only-secret-key-that-is-long-enough-for-django-checks",
    }
    code = "from django.conf import settings; print(settings.SESSION_COOKIE_AGE)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "900"


def test_the_api_docs_work_under_the_policy_with_no_inline_script(admin_user):
    """Swagger UI's start-up script is served from our origin (SpectacularSwaggerSplitView),
    not inline, so ``script-src 'self'`` lets the interactive docs run."""
    client = Client()
    client.force_login(admin_user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.content.decode(), re.S)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "javascript" in script["Content-Type"]
    assert "SwaggerUIBundle" in script.content.decode()
