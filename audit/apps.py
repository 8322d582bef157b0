from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The keyed, hash-chained audit trail: the bottom layer, importing no other app of Crier."""

    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from audit import checks  # noqa: F401  (registers system checks)
