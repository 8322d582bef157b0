"""Report rows holding text Crier refuses today (a lone surrogate, a NUL, JSON nested too
deep), once, when this version is installed: logged as warnings, never failing the
migration. ``manage.py find_broken_text`` runs the same scan at any time (approvals/broken_text.py)."""

import logging

from django.db import migrations, transaction

logger = logging.getLogger("approvals.broken_text")


def report_broken_text(apps, schema_editor):
    from approvals.broken_text import crier_models, scan

    connection = schema_editor.connection
    try:
        # In a savepoint: on PostgreSQL a failed query would abort the migration's transaction.
        with transaction.atomic(using=connection.alias):
            findings = list(scan(crier_models(apps), connection))
    except Exception:  # a report must never stop an upgrade
        logger.exception("the scan for broken text failed; run manage.py find_broken_text")
        return
    for finding in findings:
        logger.warning("broken text: %s", finding)
    if findings:
        logger.warning(
            "%d value(s) hold text Crier refuses; repair them through the admin or the API "
            "(manage.py find_broken_text lists them again)",
            len(findings),
        )


class Migration(migrations.Migration):
    # The scan reads every app's tables as they are after its latest migration.
    dependencies = [
        ("approvals", "0007_seed_broadcast_rule"),
        ("audit", "0003_checkpoint_schedule_and_seal"),
        ("providers", "0003_account_sandbox"),
        ("templates_registry", "0002_registry_validation_and_version_author"),
        ("campaigns", "0010_recipient_tokens_encrypted"),
    ]

    operations = [migrations.RunPython(report_broken_text, migrations.RunPython.noop, elidable=True)]
