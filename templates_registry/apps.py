from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesRegistryConfig(AppConfig):
    name = "templates_registry"
    verbose_name = _("Message templates")
