"""The one error a channel raises when a notification could not be delivered, and the
sentences it says it with.

A failure is stored in ``Notification.last_error`` by the worker, which has no reader: the
sentence is stored in English (:func:`english`) and the notifications admin shows it in
the reader's language (``audit.stored_text``; README, "Languages"). What a platform said
in its own words (an errcode's message, Slack's answer) is a value and stays as said.
``NotificationsConfig.ready`` imports this module, so every process knows the sentences.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from audit.stored_text import english, sentence

CREDENTIALS_UNREADABLE = sentence(
    gettext_noop(
        "chat webhook '%(name)s': its credentials cannot be read with CRIER_FIELD_KEYS; enter them again"
    )
)
NO_URL = sentence(gettext_noop("chat webhook '%(name)s' has no URL"))
# Why a webhook URL is not one Crier may call (notifications.chat.base.url_problem): the
# webhook form says it in the person's language, a delivery stores it in English.
NOT_A_URL = sentence(gettext_noop("the webhook URL is not a URL"))
NOT_SANDBOX = sentence(
    gettext_noop("a sandbox webhook must point at a local emulator (127.0.0.1 or localhost)")
)
NOT_HTTPS = sentence(gettext_noop("the webhook URL must use https"))
NOT_PLATFORM_HOST = sentence(gettext_noop("%(host)s is not a %(platform)s host; allowed: %(hosts)s"))
NO_ANSWER = sentence(gettext_noop("%(platform)s did not answer: %(error)s"))
HTTP_STATUS = sentence(gettext_noop("%(platform)s answered HTTP %(status)s"))
NOT_JSON = sentence(gettext_noop("%(platform)s answered HTTP %(status)s without JSON"))
UNEXPECTED_BODY = sentence(gettext_noop("%(platform)s answered an unexpected body"))
DINGTALK_ERROR = sentence(gettext_noop("DingTalk errcode %(code)s: %(message)s"))
FEISHU_ERROR = sentence(gettext_noop("Feishu code %(code)s: %(message)s"))
WECOM_ERROR = sentence(gettext_noop("WeCom errcode %(code)s: %(message)s"))
SLACK_ERROR = sentence(gettext_noop("Slack answered HTTP %(status)s: %(words)s"))
NO_EMAIL = sentence(gettext_noop("user '%(user)s' has no e-mail address"))
MAIL_REFUSED = sentence(gettext_noop("the mail server refused the message: %(error)s"))
MAIL_UNREACHABLE = sentence(gettext_noop("the mail server could not be reached: %(error)s"))


class DeliveryError(Exception):
    """Delivery failed; ``retryable`` says whether trying again later may succeed. The
    message is stored as it is: raise it with :meth:`saying`, in English."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable

    @classmethod
    def saying(cls, msgid: str, *, retryable: bool = True, **values) -> DeliveryError:
        """The error whose message is the declared sentence ``msgid`` in English with ``values``."""
        return cls(english(msgid, **values), retryable=retryable)
