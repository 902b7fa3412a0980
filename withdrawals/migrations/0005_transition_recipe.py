"""Every move of a signed transaction, a tracked output, a work-order step and a fee-reserve request through core.transitions, with its audit row."""

import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('withdrawals', '0004_pipeline_models_from_chains'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='hotwalletutxo',
            name='status',
            field=django_fsm.FSMField(choices=[('pending', 'Unconfirmed change'), ('available', 'Available'), ('reserved', 'Reserved by a candidate'), ('spent', 'Spent'), ('dropped', 'Dropped (its transaction never confirmed)')], db_index=True, default='available', max_length=12, protected=True),
        ),
        migrations.AlterField(
            model_name='withdrawaltransaction',
            name='state',
            field=django_fsm.FSMField(choices=[('signed', 'Signed, not yet accepted by a node'), ('sent', 'Accepted by a node'), ('confirmed', 'Confirmed (settled the order)'), ('replaced', 'Replaced by another candidate'), ('failed', 'Failed')], default='signed', max_length=12, protected=True),
        ),
        migrations.CreateModel(
            name='HotWalletUtxoStatusChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('from_status', models.CharField(blank=True, max_length=32)),
                ('to_status', models.CharField(max_length=32)),
                ('reason', models.TextField(blank=True)),
                ('at', models.DateTimeField(auto_now_add=True)),
                ('actor', models.ForeignKey(blank=True, help_text='Empty when the system moved it (worker, beat).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('utxo', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='history', to='withdrawals.hotwalletutxo')),
            ],
            options={
                'ordering': ['at', 'id'],
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='WithdrawalTransactionStateChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('from_status', models.CharField(blank=True, max_length=32)),
                ('to_status', models.CharField(max_length=32)),
                ('reason', models.TextField(blank=True)),
                ('at', models.DateTimeField(auto_now_add=True)),
                ('actor', models.ForeignKey(blank=True, help_text='Empty when the system moved it (worker, beat).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('transaction', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='history', to='withdrawals.withdrawaltransaction')),
            ],
            options={
                'ordering': ['at', 'id'],
                'abstract': False,
            },
        ),
    ]
