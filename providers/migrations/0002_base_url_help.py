# The base URL's help no longer names one provider's host: each provider class declares its
# official hosts (Provider.official_hosts), which the account form shows.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('providers', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='provideraccount',
            name='base_url',
            field=models.URLField(help_text="The provider's API base URL: the form shows each provider's official hosts.", max_length=300),
        ),
    ]
