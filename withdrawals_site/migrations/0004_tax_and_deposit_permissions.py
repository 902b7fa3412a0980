"""Seed the role groups again once the tax records (tax/0001) and the deposit bookings
(approvals/0012) exist: Operations makers view and generate tax reports, Treasury books
customer deposits (withdrawals_site/roles.py). Idempotent: adding a permission twice is a no-op."""

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
        ("withdrawals_site", "0003_webhook_permissions"),
        ("tax", "0001_initial"),
        ("approvals", "0015_deposit_book_flow"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
