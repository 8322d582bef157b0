"""The project's own models: a signed-in person's preferences (README, "Languages")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserPreference(models.Model):
    """One row per user who saved a preference; no row means "follow the browser"."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="crier_preference",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        # No model choices: adding a language to settings.LANGUAGES needs no migration. The
        # code is checked where it is set (PreferenceForm, set_language; config/preferences.py).
        help_text=_("The language of Crier's pages for you. Empty: your browser's language."),
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return str(self.user)
