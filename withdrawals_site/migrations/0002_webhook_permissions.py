"""Grant the webhook and outbox permissions (events/) to the roles that have them in
withdrawals_site/roles.py: Configuration admins keep subscriptions, both they and Operations
makers read the delivery log and redeliver."""

from django.db import migrations

from withdrawals_site.roles import ROLES


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    app_config = apps.get_app_config("events")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    for role in ROLES:
        codenames = [p.split(".")[1] for p in role.permissions if p.startswith("events.")]
        if codenames:
            group, _ = Group.objects.get_or_create(name=role.group)
            group.permissions.add(*Permission.objects.filter(content_type__app_label="events",
                                                             codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("withdrawals_site", "0001_staff_roles"),
        ("events", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
