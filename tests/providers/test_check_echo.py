"""An account check repeats no byte of a foreign answer (issue 15, point 2).

A sandbox account may point at any host; whatever that host answers, the check's sentence
(API ``check/``, the admin's *Check* action, ``manage.py check_provider``) and the logs carry
only our own words, the HTTP status and a code-shaped provider code (providers/answers.py).
A real local HTTP server that is no provider answers with recognisable bodies.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

MARKER = "FOREIGN-BODY-7f3a9c"


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


CREDENTIALS = {
    "binance": lambda: {"access_key": "ak-echo", "secret_key": "sk-echo-" + "s" * 40},
    "mpaas": lambda: {"access_key_id": "akid-echo", "access_key_secret": "aks-echo"},
    "jiguang": lambda: {"channel_key": "ck-echo", "master_secret": "ms-echo"},
    "alipayplus": lambda: {"client_id": "cid-echo", "private_key": _pem()},
}
SETTINGS = {"mpaas": {"workspace_id": "default", "delivery_type": 1}, "binance": {"test_uid": "1"}}

# Bodies a foreign host may answer with: a page, JSON shaped like each provider's answer with
# the marker in every text field and a code that is not code-shaped, plain text.
JSON_ALIKE = json.dumps(
    {
        "code": f"<b>{MARKER}</b>",
        "message": MARKER,
        "success": False,
        "result": {"resultStatus": "F", "resultCode": f"{MARKER} x", "resultMessage": MARKER},
        "Code": f"{MARKER} !",
        "Message": MARKER,
        "ResultCode": f"{MARKER}?",
        "ResultMessage": MARKER,
    }
).encode()
ANSWERS = [
    (200, f"<html><body>{MARKER}</body></html>".encode(), "text/html"),
    (200, JSON_ALIKE, "application/json"),
    (401, f"denied {MARKER}".encode(), "text/plain"),
    (404, JSON_ALIKE, "application/json"),
    (500, f"{MARKER} stack trace".encode(), "text/plain"),
]


def _account(kind: str, url: str) -> ProviderAccount:
    account = ProviderAccount(
        name=f"{kind} echo",
        kind=kind,
        base_url=url,
        sandbox=True,
        app_id="ONEX570DA89211721",
        settings=SETTINGS.get(kind, {}),
        timeout_seconds=5,
    )
    account.set_credentials(CREDENTIALS[kind]())
    account.save()
    return account


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
@pytest.mark.parametrize("status, body, content_type", ANSWERS)
def test_no_check_repeats_any_of_a_foreign_answer(
    kind,
    status,
    body,
    content_type,
    foreign_server,
    make_user,
    admin_client,
    caplog,  # noqa: F811
):
    server = foreign_server(status=status, body=body, content_type=content_type)
    account = _account(kind, server.url)
    operator = make_user("olga", "Operators")
    api = APIClient()
    api.force_authenticate(operator)

    with caplog.at_level(logging.DEBUG):
        answer = api.post(f"/api/v1/provider-accounts/{account.pk}/check/")
        page = admin_client.post(
            reverse("admin:providers_provideraccount_changelist"),
            {"action": "check_accounts", "_selected_action": [account.pk]},
            follow=True,
        )
        out = io.StringIO()
        with contextlib.suppress(CommandError):  # fails unless the answer has the provider's shape
            call_command("check_provider", account.name, stdout=out, stderr=io.StringIO())

    assert len(server.received) == 3  # a sandbox account is checked: the host did answer
    assert answer.status_code == 200
    detail = answer.json()["detail"]
    shown = [detail, page.content.decode(), out.getvalue(), caplog.text]
    assert all(MARKER not in text for text in shown)
    assert f"{account.name[1:]}: " in shown[1] and detail in out.getvalue()  # the admin capitalises
    if status in (401, 404, 500):
        assert f"HTTP {status}" in detail


def test_the_check_action_is_offered_only_to_those_who_manage_accounts(client, make_user):
    _account("jiguang", "http://127.0.0.1:9")  # the admin offers actions only over some rows
    viewer = make_user("mia", "Marketing")
    client.force_login(viewer)
    page = client.get(reverse("admin:providers_provideraccount_changelist"))
    assert page.status_code == 200 and "check_accounts" not in page.content.decode()
    client.force_login(make_user("olga", "Operators"))
    page = client.get(reverse("admin:providers_provideraccount_changelist"))
    assert "check_accounts" in page.content.decode()
