"""manage.py issue_token: print a user's API token, creating it once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def issue(*args: str) -> str:
    out = io.StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue().strip()


def test_issue_token_prints_a_new_token_that_authenticates(make_user):
    user = make_user("olga", "Operators")

    key = issue("olga")

    assert key == Token.objects.get(user=user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/stop/").status_code == 200


def test_issue_token_prints_the_same_token_again(make_user):
    make_user("olga")
    assert issue("olga") == issue("olga")


def test_rotate_replaces_the_token(make_user):
    make_user("olga")
    old = issue("olga")

    new = issue("olga", "--rotate")

    assert new != old and not Token.objects.filter(key=old).exists()


def test_an_unknown_user_is_named(db):
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        issue("nobody")


def test_an_inactive_user_gets_no_token(django_user_model):
    django_user_model.objects.create_user(username="gone", password="x", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        issue("gone")
