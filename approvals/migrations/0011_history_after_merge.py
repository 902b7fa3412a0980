"""History tables follow the merged models (chain decimals, fee cap; earlier events get chain_decimals 0: unknown)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0010_config_change_group_and_flow'),
    ]

    operations = [
        migrations.AlterField(
            model_name='approvalflow',
            name='type',
            field=models.CharField(choices=[('atm.va.coin_withdraw_apply', 'Withdrawal (atm.va.coin_withdraw_apply)'), ('atm.va.address_verify', 'Address review (atm.va.address_verify)'), ('atm.va.main_account_topup', 'Main account top-up (atm.va.main_account_topup)'), ('atm.va.sub_to_main_transfer', 'Sub-account to main account (atm.va.sub_to_main_transfer)'), ('atm.va.hot_wallet_opening', 'Hot-wallet opening balance (atm.va.hot_wallet_opening)'), ('atm.va.reconciliation_ack', 'Reconciliation alert acknowledgement (atm.va.reconciliation_ack)'), ('atm.va.withdraw_resolve', 'Withdrawal resolution (atm.va.withdraw_resolve)'), ('atm.config.change', 'Configuration change (atm.config.change)')], db_index=True, max_length=40),
        ),
        migrations.AlterField(
            model_name='approvalflowevent',
            name='type',
            field=models.CharField(choices=[('atm.va.coin_withdraw_apply', 'Withdrawal (atm.va.coin_withdraw_apply)'), ('atm.va.address_verify', 'Address review (atm.va.address_verify)'), ('atm.va.main_account_topup', 'Main account top-up (atm.va.main_account_topup)'), ('atm.va.sub_to_main_transfer', 'Sub-account to main account (atm.va.sub_to_main_transfer)'), ('atm.va.hot_wallet_opening', 'Hot-wallet opening balance (atm.va.hot_wallet_opening)'), ('atm.va.reconciliation_ack', 'Reconciliation alert acknowledgement (atm.va.reconciliation_ack)'), ('atm.va.withdraw_resolve', 'Withdrawal resolution (atm.va.withdraw_resolve)'), ('atm.config.change', 'Configuration change (atm.config.change)')], max_length=40),
        ),
        migrations.AlterField(
            model_name='workorder',
            name='type',
            field=models.CharField(choices=[('atm.va.coin_withdraw_apply', 'Withdrawal (atm.va.coin_withdraw_apply)'), ('atm.va.address_verify', 'Address review (atm.va.address_verify)'), ('atm.va.main_account_topup', 'Main account top-up (atm.va.main_account_topup)'), ('atm.va.sub_to_main_transfer', 'Sub-account to main account (atm.va.sub_to_main_transfer)'), ('atm.va.hot_wallet_opening', 'Hot-wallet opening balance (atm.va.hot_wallet_opening)'), ('atm.va.reconciliation_ack', 'Reconciliation alert acknowledgement (atm.va.reconciliation_ack)'), ('atm.va.withdraw_resolve', 'Withdrawal resolution (atm.va.withdraw_resolve)'), ('atm.config.change', 'Configuration change (atm.config.change)')], db_index=True, max_length=40),
        ),
    ]
