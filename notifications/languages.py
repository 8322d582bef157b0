"""Which language a person or a chat group reads: the one place that decides it.

README, "Languages": a page follows the signed-in user's saved preference, else the
switcher's cookie, else the browser (``config/preferences.py`` applies it to requests). A
notification has no browser, so it follows the recipient's saved preference
(:class:`~notifications.models.UserPreference`), else ``settings.LANGUAGE_CODE``; a chat
group has no user, so it follows the language set on its webhook. The outbox writes the
answer on each row when the row is created (``notifications.outbox``), and the row is
rendered in it when it is sent, however many retries that takes.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from notifications.models import UserPreference


def supported(code: str | None) -> str | None:
    """``code`` if it is one of settings.LANGUAGES (any spelling Django accepts), else None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def saved(user) -> str:
    """The user's saved language ("" when none was saved: the browser's)."""
    return UserPreference.objects.filter(user=user).values_list("language", flat=True).first() or ""


def remember(user, language: str) -> None:
    """Save ``language`` ("" = the browser's) as the user's preference."""
    UserPreference.objects.update_or_create(user=user, defaults={"language": language})


def for_users(users: list) -> dict[int, str]:
    """The language each of ``users`` reads notifications in, by user id (one query)."""
    if not users:
        return {}
    chosen = dict(
        UserPreference.objects.filter(user__in=[u.pk for u in users]).values_list("user_id", "language")
    )
    return {u.pk: supported(chosen.get(u.pk)) or settings.LANGUAGE_CODE for u in users}


def for_webhook(webhook) -> str:
    """The language a chat group reads: its webhook's, else the site's default."""
    return supported(webhook.language) or settings.LANGUAGE_CODE


def of_row(language: str) -> str:
    """The language to render a stored row in (rows from before languages were kept: default)."""
    return supported(language) or settings.LANGUAGE_CODE
