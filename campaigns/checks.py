"""System checks that keep the queue configured so it cannot double-send.

django-q2's defaults can repeat work: ``max_attempts=0`` retries a failing task
forever, ``catch_up=True`` replays every missed schedule slot after downtime, and a
lease (``retry``) shorter than ``timeout`` hands a running task to a second worker.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_queue_settings(app_configs, **kwargs) -> list[Error]:
    """Report Q_CLUSTER settings that could send a campaign twice (campaigns.E001–E004)."""
    conf = getattr(settings, "Q_CLUSTER", {})
    errors: list[Error] = []
    max_attempts = conf.get("max_attempts", 0)
    if not isinstance(max_attempts, int) or max_attempts < 1:
        errors.append(
            Error(
                f"Q_CLUSTER['max_attempts'] is {max_attempts!r}; it must be a whole number >= 1 "
                "(0 retries a failing task forever).",
                id="campaigns.E001",
            )
        )
    if conf.get("catch_up", True):
        errors.append(
            Error(
                "Q_CLUSTER['catch_up'] must be False: True replays every missed schedule slot "
                "after downtime; Crier expires late occurrences itself.",
                id="campaigns.E002",
            )
        )
    timeout = conf.get("timeout")
    retry = conf.get("retry")
    if timeout is None or retry is None or retry <= timeout:
        errors.append(
            Error(
                f"Q_CLUSTER['retry'] ({retry!r}) must be larger than Q_CLUSTER['timeout'] "
                f"({timeout!r}); otherwise a task still running is handed to a second worker.",
                id="campaigns.E003",
            )
        )
    if "orm" in conf and conf["orm"] != "default":
        errors.append(
            Error(
                f"Q_CLUSTER['orm'] is {conf['orm']!r}; keep the ORM broker on the 'default' "
                "database alias (a separate alias repeats schedules: django-q2 #293).",
                id="campaigns.E004",
            )
        )
    return errors
