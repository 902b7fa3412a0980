"""Seed the default flow of ``atm.va.deposit_book`` ("Treasury check": 1 of Treasury;
approvals/defaults.py) and Treasury's admin permissions on deposit bookings."""

from django.db import migrations

from approvals.defaults import DEFAULT_FLOWS, TREASURY

DEPOSIT_BOOK = "atm.va.deposit_book"


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

    group, _ = Group.objects.get_or_create(name=TREASURY)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="approvals",
                                                     codename__in=["view_depositbooking", "add_depositbooking"]))
    if ApprovalFlow.objects.filter(type=DEPOSIT_BOOK).exists():
        return
    flow = ApprovalFlow.objects.create(type=DEPOSIT_BOOK, version=1, active=True,
                                       description="Default flow (approvals/defaults.py).")
    for position, (name, group_name, n, condition, threshold, currency) in enumerate(DEFAULT_FLOWS[DEPOSIT_BOOK],
                                                                                     start=1):
        ApprovalStep.objects.create(flow=flow, position=position, name=name,
                                    group=Group.objects.get_or_create(name=group_name)[0],
                                    approvals_required=n, condition=condition, threshold=threshold,
                                    threshold_currency=currency)


class Migration(migrations.Migration):
    dependencies = [("approvals", "0014_deposit_booking")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
