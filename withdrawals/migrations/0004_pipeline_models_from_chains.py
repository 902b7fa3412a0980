"""The send pipeline's hot-wallet models (nonce allocator, tracked BTC outputs), the admin's
sending proxies and the travel-rule audit moved here from chains and approvals. State only: the
tables keep their names (``db_table``); the content types follow, so granted permissions stay."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = {"chains": ["hotwalletnonce", "hotwalletutxo", "networksendingcontrol", "feereservecoin"],
         "approvals": ["travelrulerecord"]}


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, models_ in MOVED.items():
        ContentType.objects.filter(app_label=app_label, model__in=models_).update(app_label="withdrawals")


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, models_ in MOVED.items():
        ContentType.objects.filter(app_label="withdrawals", model__in=models_).update(app_label=app_label)


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0004_travel_rule_record_to_withdrawals'),
        ('chains', '0009_pipeline_models_to_withdrawals'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('withdrawals', '0003_status_change_base'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='FeeReserveCoin',
                fields=[
                ],
                options={
                    'verbose_name': 'fee reserve',
                    'verbose_name_plural': 'fee reserve',
                    'proxy': True,
                    'indexes': [],
                    'constraints': [],
                },
                bases=('chains.coin',),
            ),
            migrations.CreateModel(
                name='NetworkSendingControl',
                fields=[
                ],
                options={
                    'verbose_name': 'network kill switch',
                    'verbose_name_plural': 'network kill switches',
                    'proxy': True,
                    'indexes': [],
                    'constraints': [],
                },
                bases=('chains.network',),
            ),
            migrations.CreateModel(
                name='TravelRuleRecord',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('previous', models.JSONField(blank=True, null=True)),
                    ('data', models.JSONField()),
                    ('at', models.DateTimeField(auto_now_add=True)),
                    ('actor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='withdrawals.withdrawalorder')),
                ],
                options={
                    'db_table': 'approvals_travelrulerecord',
                    'ordering': ['at', 'id'],
                },
            ),
            migrations.CreateModel(
                name='HotWalletNonce',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('address', models.CharField(max_length=128)),
                    ('next_nonce', models.BigIntegerField(default=0)),
                    ('node_nonce', models.BigIntegerField(default=0, help_text="The node's pending nonce at the last allocation.")),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                    ('network', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='chains.network')),
                ],
                options={
                    'verbose_name': 'hot-wallet nonce',
                    'db_table': 'chains_hotwalletnonce',
                    'constraints': [models.UniqueConstraint(fields=('network', 'address'), name='hot_wallet_nonce_unique')],
                },
            ),
            migrations.CreateModel(
                name='HotWalletUtxo',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('address', models.CharField(max_length=128)),
                    ('txid', models.CharField(max_length=64)),
                    ('vout', models.PositiveIntegerField()),
                    ('value_sat', models.PositiveBigIntegerField()),
                    ('script_pubkey', models.CharField(help_text='Hex of the output script.', max_length=200)),
                    ('status', models.CharField(choices=[('pending', 'Unconfirmed change'), ('available', 'Available'), ('reserved', 'Reserved by a candidate'), ('spent', 'Spent'), ('dropped', 'Dropped (its transaction never confirmed)')], db_index=True, default='available', max_length=12)),
                    ('spent_txid', models.CharField(blank=True, max_length=64)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                    ('network', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='chains.network')),
                    ('origin', models.ForeignKey(blank=True, help_text='Our candidate whose change this is; empty for outputs found on chain.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='change_utxos', to='withdrawals.withdrawaltransaction')),
                    ('reserved_by', models.ForeignKey(blank=True, help_text='The candidate spending it (the newest, after a fee bump).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reserved_utxos', to='withdrawals.withdrawaltransaction')),
                ],
                options={
                    'verbose_name': 'hot-wallet UTXO',
                    'db_table': 'chains_hotwalletutxo',
                    'ordering': ['network', 'address', '-value_sat'],
                    'indexes': [models.Index(fields=['network', 'address', 'status'], name='chains_hotw_network_6be77e_idx')],
                    'constraints': [models.UniqueConstraint(fields=('network', 'txid', 'vout'), name='hot_wallet_utxo_unique'), models.CheckConstraint(condition=models.Q(models.Q(('reserved_by__isnull', False), ('status', 'reserved')), models.Q(('status', 'reserved'), _negated=True), _connector='OR'), name='hot_wallet_utxo_reserved_by_candidate')],
                },
            ),
        ]),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
