"""The default flow of ``atm.staff.access_change`` ("Access check": 1 of Configuration checkers;
approvals/defaults.py) and the checkers' view of the access changes."""

from django.db import migrations

from approvals.defaults import CONFIGURATION_CHECKERS, DEFAULT_FLOWS, GROUP_PERMISSIONS

ACCESS_CHANGE = "atm.staff.access_change"


def seed(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ApprovalFlow = apps.get_model("approvals", "ApprovalFlow")
    ApprovalStep = apps.get_model("approvals", "ApprovalStep")

    app_config = apps.get_app_config("approvals")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    group, _ = Group.objects.get_or_create(name=CONFIGURATION_CHECKERS)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="approvals",
                                                     codename__in=GROUP_PERMISSIONS[CONFIGURATION_CHECKERS]))
    if ApprovalFlow.objects.filter(type=ACCESS_CHANGE).exists():
        return
    flow = ApprovalFlow.objects.create(type=ACCESS_CHANGE, version=1, active=True,
                                       description="Default flow (approvals/defaults.py).")
    for position, (name, _group, n, condition, threshold, currency) in enumerate(DEFAULT_FLOWS[ACCESS_CHANGE],
                                                                                start=1):
        ApprovalStep.objects.create(flow=flow, position=position, name=name, group=group, approvals_required=n,
                                    condition=condition, threshold=threshold, threshold_currency=currency)


class Migration(migrations.Migration):
    dependencies = [("approvals", "0012_staff_access_changes")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
