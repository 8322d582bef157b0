"""The project package as an app, so that its system checks are registered
(config/checks.py), the admin carries Crier's name (config/admin_site.py), the user's
language preference applies (config/models.py, config/preferences.py) and its templates
and static files are found."""

from __future__ import annotations

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProjectConfig(AppConfig):
    name = "config"
    label = "crier_config"
    verbose_name = _("Crier project")

    def ready(self) -> None:
        from django.contrib import admin

        # checks registers the system checks; preferences connects the login receiver.
        from config import checks, preferences  # noqa: F401
        from config.admin_site import brand_admin_site

        brand_admin_site(admin.site)


class LoginLockoutsConfig(AxesAppConfig):
    """django-axes under a name people read, in their language (its own is "Axes")."""

    verbose_name = _("Login lockouts")
