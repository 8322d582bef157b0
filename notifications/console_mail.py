"""The e-mail backend of ``make run`` (DEBUG): Django's console backend, printing each e-mail
as a person reads it — sender, recipients and subject as written, then the plain-text part —
instead of the raw MIME message, whose non-ASCII subject is quoted-printable
(``=?utf-8?q?…``) and whose HTML part repeats the text. Production sends by SMTP
(``config/settings.py``, README "Notifications")."""

from __future__ import annotations

from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.core.mail.message import EmailMessage


class EmailBackend(ConsoleBackend):
    def write_message(self, message: EmailMessage) -> None:
        lines = [
            f"From: {message.from_email}",
            f"To: {', '.join(message.to)}",
            f"Subject: {message.subject}",
            "",
            message.body.rstrip(),
            "-" * 79,
        ]
        self.stream.write("\n".join(lines) + "\n")
