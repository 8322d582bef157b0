"""Preferences in the admin (each user their own) and the rotation of webhook credentials."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from notifications.models import ChatWebhook, NotificationPreference

pytestmark = pytest.mark.django_db


def test_a_user_manages_their_own_preferences_and_sees_nobody_elses(client, people):
    NotificationPreference.objects.create(user=people["reviewer2"], kind="held", enabled=False)
    client.force_login(people["reviewer"])

    response = client.post(
        "/admin/notifications/notificationpreference/add/",
        {"kind": "review_requested", "channel": "email"},  # "enabled" unticked: turned off
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    mine = NotificationPreference.objects.get(user=people["reviewer"])
    assert (mine.kind, mine.enabled) == ("review_requested", False)
    listing = client.get("/admin/notifications/notificationpreference/").content.decode()
    assert "reviewer2" not in listing
    other = NotificationPreference.objects.get(user=people["reviewer2"])
    assert client.get(f"/admin/notifications/notificationpreference/{other.pk}/change/").status_code in (
        302,
        403,
        404,
    )


def test_rotating_keys_re_encrypts_webhook_credentials(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    webhook = ChatWebhook(name="ops", kind="wecom")
    webhook.set_credentials({"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"})
    webhook.save()

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_chat_credentials")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    webhook.refresh_from_db()
    assert webhook.get_credentials()["url"].endswith("key=k")

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="'ops'"):
        call_command("rotate_chat_credentials")


def test_a_second_choice_for_the_same_event_is_refused_in_words(client, people):
    NotificationPreference.objects.create(user=people["operator"], kind="sending_stopped", enabled=True)
    client.force_login(people["operator"])

    response = client.post(
        "/admin/notifications/notificationpreference/add/", {"kind": "sending_stopped", "channel": "email"}
    )

    assert response.status_code == 200
    assert "a preference for this event and channel exists already" in response.content.decode()
    assert NotificationPreference.objects.filter(user=people["operator"]).count() == 1


@pytest.mark.parametrize(
    ("debug", "backend"),
    [("1", "notifications.console_mail"), ("0", "django.core.mail.backends.smtp")],
)
def test_make_run_prints_e_mail_and_production_sends_it_by_smtp(debug, backend):
    """With DEBUG on (make run's .env) the console backend prints every e-mail in the
    terminal the worker runs in; without it, SMTP from the EMAIL_* settings."""
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "EMAIL_"))}
    env.update(DEBUG=debug, CRIER_ENV_FILE="", SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="config.settings")
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True
    )
    assert out.stdout.strip() == f"{backend}.EmailBackend", out.stderr[-2000:]


def test_make_run_prints_each_e_mail_as_a_person_reads_it():
    """Subject as written (not quoted-printable), the text part once, no MIME boundaries."""
    import io

    from django.core.mail import EmailMultiAlternatives

    from notifications.console_mail import EmailBackend

    stream = io.StringIO()
    message = EmailMultiAlternatives(
        "[Crier] Review requested: Welcome bonus — Alipay+ VIPs",
        "Review it: http://127.0.0.1:8000/admin/campaigns/campaign/1/review/",
        "Crier <crier@localhost>",
        ["reviewer@crier.example"],
    )
    message.attach_alternative("<p>Review it</p>", "text/html")
    EmailBackend(stream=stream).send_messages([message])

    printed = stream.getvalue()
    assert "Subject: [Crier] Review requested: Welcome bonus — Alipay+ VIPs" in printed
    assert "To: reviewer@crier.example" in printed
    assert printed.count("Review it: http://127.0.0.1:8000/admin/campaigns/campaign/1/review/") == 1
    assert "=?utf-8?" not in printed and "<p>" not in printed and "boundary" not in printed
