# Alipay+ access tokens (addresses that are credentials) are encrypted at rest like account
# credentials (providers/fields.py): the field encrypts on write and decrypts on read, and
# this migration rewrites the rows stored before it. Backwards, the tokens are written in
# clear again (with the keys still configured).

from django.db import migrations, models
from django.db.models import Value

import providers.fields


def _rows(Recipient):
    kinds = list(providers.fields.credential_kinds())
    if not kinds:
        return Recipient.objects.none()
    return Recipient.objects.filter(addresses__has_any_keys=kinds).order_by("pk")


def encrypt_tokens(apps, schema_editor):
    Recipient = apps.get_model("campaigns", "Recipient")
    for recipient in _rows(Recipient).only("pk", "addresses").iterator(chunk_size=1000):
        # Read through the field (stored in clear: returned as is), written back encrypted.
        Recipient.objects.filter(pk=recipient.pk).update(addresses=recipient.addresses)


def decrypt_tokens(apps, schema_editor):
    Recipient = apps.get_model("campaigns", "Recipient")
    for recipient in _rows(Recipient).only("pk", "addresses").iterator(chunk_size=1000):
        clear = Value(recipient.addresses, output_field=models.JSONField())
        Recipient.objects.filter(pk=recipient.pk).update(addresses=clear)


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0009_reach_bound_and_held_dispatches'),
    ]

    operations = [
        migrations.AlterField(
            model_name='recipient',
            name='addresses',
            field=providers.fields.ProviderAddressesField(blank=True, default=dict),
        ),
        migrations.RunPython(encrypt_tokens, decrypt_tokens),
    ]
