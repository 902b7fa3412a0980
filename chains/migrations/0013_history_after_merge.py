"""History tables follow the merged models (chain decimals, fee cap; earlier events get chain_decimals 0: unknown)."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chains', '0012_config_history'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='coin',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='coin',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='coin',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='coinevent',
            name='chain_decimals',
            field=models.PositiveSmallIntegerField(default=0, help_text="Decimals of the asset on this chain: the token contract's decimals() (USDT: 6 on Ethereum and TRON, 18 on some chains), the native coin's own (ETH 18, BTC 8, TRX 6). Checked against the chain when the coin is saved, enabled and before every signature."),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='coinevent',
            name='decimals',
            field=models.PositiveSmallIntegerField(help_text="Decimals a withdrawal amount may have (precision); at most the currency's decimals and the chain decimals."),
        ),
        migrations.AlterField(
            model_name='coinevent',
            name='fee_cap',
            field=models.DecimalField(blank=True, decimal_places=18, help_text='Most network fee one withdrawal may pay (fee currency); required to enable the coin. A send whose fee would exceed it waits instead of overpaying.', max_digits=38, null=True),
        ),
        migrations.AlterField(
            model_name='networkevent',
            name='chain_id',
            field=models.PositiveBigIntegerField(blank=True, help_text="EVM chain id (anvil: 31337, Ethereum mainnet: 1); required for EVM networks. Compared with the node's eth_chainId at start and before every signature.", null=True),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='coin',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "chains_coinevent" ("chain_decimals", "confirmations", "contract_address", "currency_id", "customer_fee", "daily_limit", "decimals", "enabled", "fee_cap", "fee_currency_id", "id", "max_amount", "min_amount", "network_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id") VALUES (NEW."chain_decimals", NEW."confirmations", NEW."contract_address", NEW."currency_id", NEW."customer_fee", NEW."daily_limit", NEW."decimals", NEW."enabled", NEW."fee_cap", NEW."fee_currency_id", NEW."id", NEW."max_amount", NEW."min_amount", NEW."network_id", _pgh_attach_context(), NOW(), \'insert\', NEW."id"); RETURN NULL;', hash='32ab3ec3e8d314525642cadaefa5acc6a7ce2584', operation='INSERT', pgid='pgtrigger_insert_insert_d9817', table='chains_coin', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='coin',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD."chain_decimals" IS DISTINCT FROM (NEW."chain_decimals") OR OLD."confirmations" IS DISTINCT FROM (NEW."confirmations") OR OLD."contract_address" IS DISTINCT FROM (NEW."contract_address") OR OLD."currency_id" IS DISTINCT FROM (NEW."currency_id") OR OLD."customer_fee" IS DISTINCT FROM (NEW."customer_fee") OR OLD."daily_limit" IS DISTINCT FROM (NEW."daily_limit") OR OLD."decimals" IS DISTINCT FROM (NEW."decimals") OR OLD."enabled" IS DISTINCT FROM (NEW."enabled") OR OLD."fee_cap" IS DISTINCT FROM (NEW."fee_cap") OR OLD."fee_currency_id" IS DISTINCT FROM (NEW."fee_currency_id") OR OLD."id" IS DISTINCT FROM (NEW."id") OR OLD."max_amount" IS DISTINCT FROM (NEW."max_amount") OR OLD."min_amount" IS DISTINCT FROM (NEW."min_amount") OR OLD."network_id" IS DISTINCT FROM (NEW."network_id"))', func='INSERT INTO "chains_coinevent" ("chain_decimals", "confirmations", "contract_address", "currency_id", "customer_fee", "daily_limit", "decimals", "enabled", "fee_cap", "fee_currency_id", "id", "max_amount", "min_amount", "network_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id") VALUES (NEW."chain_decimals", NEW."confirmations", NEW."contract_address", NEW."currency_id", NEW."customer_fee", NEW."daily_limit", NEW."decimals", NEW."enabled", NEW."fee_cap", NEW."fee_currency_id", NEW."id", NEW."max_amount", NEW."min_amount", NEW."network_id", _pgh_attach_context(), NOW(), \'update\', NEW."id"); RETURN NULL;', hash='6cea8da5f7ca33cf89444ec6db8fe9b7d66be1b1', operation='UPDATE', pgid='pgtrigger_update_update_2b65d', table='chains_coin', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='coin',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "chains_coinevent" ("chain_decimals", "confirmations", "contract_address", "currency_id", "customer_fee", "daily_limit", "decimals", "enabled", "fee_cap", "fee_currency_id", "id", "max_amount", "min_amount", "network_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id") VALUES (OLD."chain_decimals", OLD."confirmations", OLD."contract_address", OLD."currency_id", OLD."customer_fee", OLD."daily_limit", OLD."decimals", OLD."enabled", OLD."fee_cap", OLD."fee_currency_id", OLD."id", OLD."max_amount", OLD."min_amount", OLD."network_id", _pgh_attach_context(), NOW(), \'delete\', OLD."id"); RETURN NULL;', hash='e6f4a1e6bf4651270ddd802820583783b47d412f', operation='DELETE', pgid='pgtrigger_delete_delete_4ce37', table='chains_coin', when='AFTER')),
        ),
    ]
