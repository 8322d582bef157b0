"""Create the groups Marketing, Reviewers and Operators with the permissions each role needs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ALL = [
    ("templates_registry", "view_messagetemplate"),
    ("templates_registry", "view_templatevariant"),
    ("templates_registry", "view_templateversion"),
    ("campaigns", "view_recipient"),
    ("campaigns", "view_audience"),
    ("campaigns", "view_audiencemember"),
    ("campaigns", "view_campaign"),
    ("campaigns", "view_dispatch"),
    ("campaigns", "view_delivery"),
    ("campaigns", "view_deliveryattempt"),
    ("approvals", "view_review"),
    ("approvals", "view_reviewdecision"),
    ("approvals", "view_auditevent"),
    ("providers", "view_provideraccount"),
]

ROLES = {
    "Marketing": VIEW_ALL
    + [
        ("templates_registry", "add_messagetemplate"),
        ("templates_registry", "change_messagetemplate"),
        ("templates_registry", "add_templatevariant"),
        ("templates_registry", "change_templatevariant"),
        ("templates_registry", "delete_templatevariant"),
        ("campaigns", "add_recipient"),
        ("campaigns", "change_recipient"),
        ("campaigns", "add_audience"),
        ("campaigns", "change_audience"),
        ("campaigns", "add_audiencemember"),
        ("campaigns", "change_audiencemember"),
        ("campaigns", "delete_audiencemember"),
        ("campaigns", "add_campaign"),
        ("campaigns", "change_campaign"),
        ("campaigns", "submit_campaign"),
        ("campaigns", "cancel_campaign"),
    ],
    "Reviewers": VIEW_ALL
    + [
        ("campaigns", "approve_campaign"),
        ("campaigns", "cancel_campaign"),
    ],
    "Operators": VIEW_ALL
    + [
        ("providers", "add_provideraccount"),
        ("providers", "change_provideraccount"),
        ("providers", "manage_provider_accounts"),
        ("campaigns", "operate_dispatches"),
        ("campaigns", "cancel_campaign"),
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("campaigns", "0001_initial"),
        ("providers", "0001_initial"),
        ("templates_registry", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
