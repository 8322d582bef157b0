"""The project package as an app, so that its system checks are registered
(config/checks.py), the admin carries Crier's name (config/admin_site.py) and its
templates and static files are found; it has no models."""

from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "config"
    label = "crier_config"
    verbose_name = "Crier project"

    def ready(self) -> None:
        from django.contrib import admin

        from config import checks  # noqa: F401  (registers the checks)
        from config.admin_site import brand_admin_site

        brand_admin_site(admin.site)
