"""The reconciliation's work-order types and their default flows (approvals/defaults.py):
``atm.va.hot_wallet_opening`` (1 Treasury member besides the maker) and
``atm.va.reconciliation_ack`` (2 Treasury members)."""

from django.db import migrations, models

TYPES = ("atm.va.hot_wallet_opening", "atm.va.reconciliation_ack")


def seed(apps, schema_editor):
    from approvals.defaults import DEFAULT_FLOWS

    Group = apps.get_model("auth", "Group")
    ApprovalFlow = apps.get_model("approvals", "ApprovalFlow")
    ApprovalStep = apps.get_model("approvals", "ApprovalStep")
    for type_ in TYPES:
        if ApprovalFlow.objects.filter(type=type_).exists():
            continue
        flow = ApprovalFlow.objects.create(type=type_, version=1, active=True,
                                           description="Default flow (approvals/defaults.py).")
        for position, (name, group, n, condition, threshold, currency) in enumerate(DEFAULT_FLOWS[type_], start=1):
            ApprovalStep.objects.create(flow=flow, position=position, name=name,
                                        group=Group.objects.get_or_create(name=group)[0], approvals_required=n,
                                        condition=condition, threshold=threshold, threshold_currency=currency)


def unseed(apps, schema_editor):
    ApprovalFlow = apps.get_model("approvals", "ApprovalFlow")
    WorkOrder = apps.get_model("approvals", "WorkOrder")
    for type_ in TYPES:
        if not WorkOrder.objects.filter(type=type_).exists():
            for flow in ApprovalFlow.objects.filter(type=type_):
                flow.steps.all().delete()
                flow.delete()


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0005_transition_recipe'),
    ]

    operations = [
        migrations.AlterField(
            model_name='approvalflow',
            name='type',
            field=models.CharField(choices=[('atm.va.coin_withdraw_apply', 'Withdrawal (atm.va.coin_withdraw_apply)'), ('atm.va.address_verify', 'Address review (atm.va.address_verify)'), ('atm.va.main_account_topup', 'Main account top-up (atm.va.main_account_topup)'), ('atm.va.sub_to_main_transfer', 'Sub-account to main account (atm.va.sub_to_main_transfer)'), ('atm.va.hot_wallet_opening', 'Hot-wallet opening balance (atm.va.hot_wallet_opening)'), ('atm.va.reconciliation_ack', 'Reconciliation alert acknowledgement (atm.va.reconciliation_ack)')], db_index=True, max_length=40),
        ),
        migrations.AlterField(
            model_name='workorder',
            name='type',
            field=models.CharField(choices=[('atm.va.coin_withdraw_apply', 'Withdrawal (atm.va.coin_withdraw_apply)'), ('atm.va.address_verify', 'Address review (atm.va.address_verify)'), ('atm.va.main_account_topup', 'Main account top-up (atm.va.main_account_topup)'), ('atm.va.sub_to_main_transfer', 'Sub-account to main account (atm.va.sub_to_main_transfer)'), ('atm.va.hot_wallet_opening', 'Hot-wallet opening balance (atm.va.hot_wallet_opening)'), ('atm.va.reconciliation_ack', 'Reconciliation alert acknowledgement (atm.va.reconciliation_ack)')], db_index=True, max_length=40),
        ),
        migrations.RunPython(seed, unseed),
    ]
