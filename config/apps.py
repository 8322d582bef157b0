"""The project package as an app, only so that its system checks are registered
(config/checks.py); it has no models."""

from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "config"
    label = "crier_config"
    verbose_name = "Crier project"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
