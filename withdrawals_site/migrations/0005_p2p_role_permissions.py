"""Compliance works the P2P appeal queue: the role groups re-seeded from ``ROLES`` (idempotent:
permissions are added, none removed) once the P2P permissions exist."""

from django.db import migrations

from withdrawals_site.roles import ROLES, role_permission_rows


def seed(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    for role in ROLES:
        for name in role.groups:
            Group.objects.get_or_create(name=name)
        Group.objects.get(name=role.group).permissions.add(*role_permission_rows(role, Permission))


class Migration(migrations.Migration):
    dependencies = [
        ("withdrawals_site", "0004_tax_and_deposit_permissions"),
        ("p2p", "0003_appeal_queue"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
