from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The hash-chained audit trail: the bottom layer, importing no other app of Crier."""

    name = "audit"
    verbose_name = "Audit trail"
