"""Configuration admins keep the staff accounts (Admin → Users / Groups): what they grant waits for
another configuration admin (work order ``atm.staff.access_change``; withdrawals_site/roles.py)."""

from django.db import migrations

from withdrawals_site.roles import CONFIGURATION_ADMINS, STAFF_ACCESS_PERMISSIONS


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for label in ("auth", "approvals"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group, _ = Group.objects.get_or_create(name=CONFIGURATION_ADMINS)
    for dotted in STAFF_ACCESS_PERMISSIONS:
        app_label, codename = dotted.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("withdrawals_site", "0001_staff_roles"),
        ("approvals", "0013_staff_access_change_flow"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
