"""The project package as an app: its system checks (config/checks.py) and the user's
language preference (config/models.py, config/preferences.py)."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProjectConfig(AppConfig):
    name = "config"
    label = "crier_config"
    verbose_name = _("Crier project")

    def ready(self) -> None:
        # checks registers the system checks; preferences connects the login receiver.
        from config import checks, preferences  # noqa: F401
