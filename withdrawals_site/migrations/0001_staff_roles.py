"""Seed the staff role groups and their permissions (withdrawals_site/roles.py; docs/ROLES.md).

The approval groups the flows reference (approvals/0003) keep their names and rows; the new role
groups are added next to them, and Compliance and Treasury get the extra permissions of their role.
"""

from django.db import migrations

from withdrawals_site.roles import ROLES, role_permission_rows


def seed(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions are normally created after migrate; create every app's now to grant them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    for role in ROLES:
        for name in role.groups:
            Group.objects.get_or_create(name=name)
        # events/ came later: withdrawals_site/0002 grants its permissions.
        Group.objects.get(name=role.group).permissions.add(*role_permission_rows(role, Permission,
                                                                                skip_apps=("events",)))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("admin", "__latest__"),
        ("authtoken", "__latest__"),
        ("django_celery_beat", "__latest__"),
        ("axes", "__latest__"),
        ("customers", "0002_payout_freeze"),
        ("chains", "0011_action_permissions"),
        ("ledger", "0006_action_permissions"),
        ("approvals", "0008_work_order_types"),
        ("withdrawals", "0012_resolve_permission"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
