"""E-mail through Django's mail API: plain text and HTML from templates, one link to act.

The backend is Django's ``EMAIL_BACKEND`` (``config/settings.py``: the console backend
when ``DEBUG`` is on, so ``make run`` prints every e-mail in its terminal; SMTP from the
standard ``EMAIL_*`` settings otherwise; the locmem backend in tests).
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from notifications import errors, languages
from notifications.errors import DeliveryError
from notifications.messages import footer, render
from notifications.models import Notification


def send_email(notification: Notification) -> None:
    """Send ``notification`` to its user's address; raise DeliveryError when it fails."""
    user = notification.user
    if not user.email:
        raise DeliveryError.saying(errors.NO_EMAIL, user=user.get_username(), retryable=False)
    language = languages.of_row(notification.language)
    with translation.override(language):  # the row's language, the same on every retry
        rendered = render(notification.kind, notification.context)
        context = {"message": rendered, "user": user, "footer": footer(), "language": language}
        message = EmailMultiAlternatives(
            subject=f"[Crier] {rendered.subject}",
            body=render_to_string("notifications/email/notification.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[user.email],
            headers={"X-Crier-Notification": notification.idempotency_key, "Content-Language": language},
        )
        message.attach_alternative(
            render_to_string("notifications/email/notification.html", context), "text/html"
        )
    try:
        message.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise DeliveryError.saying(errors.MAIL_REFUSED, error=exc, retryable=False) from exc
    except (OSError, smtplib.SMTPException) as exc:  # OSError: no route, refused, timeout
        raise DeliveryError.saying(errors.MAIL_UNREACHABLE, error=f"{type(exc).__name__}: {exc}") from exc
