"""The audit chain becomes keyed: each event records the key that signed it (empty for the
legacy events written before, which keep their plain SHA-256), and signed checkpoints of the
chain's head get a table of their own (audit/chain.py says what each covers).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField()),
                ('event_count', models.PositiveBigIntegerField()),
                ('legacy_count', models.PositiveBigIntegerField()),
                ('head_id', models.BigIntegerField(blank=True, null=True)),
                ('head_hash', models.CharField(blank=True, max_length=64)),
                ('key_id', models.CharField(max_length=32)),
                ('mac', models.CharField(max_length=64)),
            ],
            options={
                'ordering': ['id'],
                'abstract': False,
                'base_manager_name': 'objects',
            },
        ),
        migrations.AddField(
            model_name='auditevent',
            name='key_id',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
    ]
