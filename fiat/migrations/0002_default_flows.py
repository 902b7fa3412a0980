"""The default flows of the fiat work orders (approvals/defaults.py at the time)."""

from django.db import migrations

# Written out (not read from approvals.defaults): a migration seeds what was the default then.
FLOWS = {
    "atm.fiat.bank_account_verify": [("Bank-account review", "Compliance", 1, "always")],
    "atm.fiat.withdraw_apply": [
        ("Operations check", "Withdrawal approvers", 1, "always"),
        ("Compliance review", "Compliance", 1, "screening_alert"),
        ("Treasury release", "Treasury", 1, "always"),
    ],
}


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    ApprovalFlow = apps.get_model("approvals", "ApprovalFlow")
    ApprovalStep = apps.get_model("approvals", "ApprovalStep")
    for type_, steps in FLOWS.items():
        if ApprovalFlow.objects.filter(type=type_).exists():
            continue
        flow = ApprovalFlow.objects.create(type=type_, version=1, active=True,
                                           description="Default flow (approvals/defaults.py).")
        for position, (name, group, n, condition) in enumerate(steps, start=1):
            ApprovalStep.objects.create(flow=flow, position=position, name=name,
                                        group=Group.objects.get_or_create(name=group)[0], approvals_required=n,
                                        condition=condition, threshold=None, threshold_currency="")


def unseed(apps, schema_editor):
    ApprovalFlow = apps.get_model("approvals", "ApprovalFlow")
    WorkOrder = apps.get_model("approvals", "WorkOrder")
    for type_ in FLOWS:
        if not WorkOrder.objects.filter(type=type_).exists():
            for flow in ApprovalFlow.objects.filter(type=type_):
                flow.steps.all().delete()
                flow.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("fiat", "0001_initial"),
        ("approvals", "0012_fiat_work_order_types"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
