"""Seed the default approval groups, their admin permissions and the default flows
(approvals/defaults.py; docs/APPROVALS.md)."""

from django.db import migrations

from approvals.defaults import DEFAULT_FLOWS, DEFAULT_GROUPS, GROUP_PERMISSIONS


def seed(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ApprovalFlow = apps.get_model("approvals", "ApprovalFlow")
    ApprovalStep = apps.get_model("approvals", "ApprovalStep")

    # Permissions are normally created after migrate; create ours now to grant them.
    app_config = apps.get_app_config("approvals")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    groups = {name: Group.objects.get_or_create(name=name)[0] for name in DEFAULT_GROUPS}
    for name, codenames in GROUP_PERMISSIONS.items():
        perms = Permission.objects.filter(content_type__app_label="approvals", codename__in=codenames)
        groups[name].permissions.add(*perms)

    for type_, steps in DEFAULT_FLOWS.items():
        if ApprovalFlow.objects.filter(type=type_).exists():
            continue
        flow = ApprovalFlow.objects.create(type=type_, version=1, active=True,
                                           description="Default flow (approvals/defaults.py).")
        for position, (name, group, n, condition, threshold, currency) in enumerate(steps, start=1):
            ApprovalStep.objects.create(flow=flow, position=position, name=name, group=groups[group],
                                        approvals_required=n, condition=condition, threshold=threshold,
                                        threshold_currency=currency)


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0002_append_only_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
