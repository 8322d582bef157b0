# Provider endpoints are pinned (docs/providers.md §7): an account may send only
# to its provider's declared hosts, unless it is a sandbox account (an emulator) and
# CRIER_ALLOW_SANDBOX_ACCOUNTS is on. Existing accounts on a loopback host can only be
# emulators (the demo's): they become sandbox accounts, so they keep working where sandbox
# accounts are allowed. Every other account stays a production account and is refused
# until its base URL is one of its provider's hosts.

from urllib.parse import urlsplit

from django.db import migrations, models

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def mark_emulator_accounts(apps, schema_editor):
    ProviderAccount = apps.get_model("providers", "ProviderAccount")
    for account in ProviderAccount.objects.only("pk", "base_url"):
        try:
            host = urlsplit(account.base_url).hostname or ""
        except ValueError:
            continue
        if host.lower() in LOOPBACK:
            ProviderAccount.objects.filter(pk=account.pk).update(sandbox=True)


class Migration(migrations.Migration):

    dependencies = [
        ('providers', '0002_base_url_help'),
    ]

    operations = [
        migrations.AddField(
            model_name='provideraccount',
            name='sandbox',
            field=models.BooleanField(default=False, help_text='An emulator or provider sandbox account: its base URL may be any http(s) host, and it is used only where CRIER_ALLOW_SANDBOX_ACCOUNTS is on.'),
        ),
        migrations.RunPython(mark_emulator_accounts, migrations.RunPython.noop),
    ]
