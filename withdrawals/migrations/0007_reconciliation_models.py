import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chains', '0009_pipeline_models_to_withdrawals'),
        ('withdrawals', '0006_otp_lock_and_replacement'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HotWalletOpening',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('address', models.CharField(help_text="The hot wallet's address on the network.", max_length=128)),
                ('amount', models.DecimalField(decimal_places=18, help_text='The chain balance at as_of, in whole units.', max_digits=38)),
                ('as_of', models.DateTimeField(help_text='When the balance was read; movements after it are added.')),
                ('reason', models.TextField()),
                ('status', models.CharField(choices=[('pending', 'Pending approval'), ('active', 'Active'), ('superseded', 'Superseded by a later opening'), ('rejected', 'Rejected')], db_index=True, default='pending', max_length=12)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('currency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='chains.currency')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('network', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='chains.network')),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ReconciliationAlert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('address', models.CharField(max_length=128)),
                ('expected_low', models.DecimalField(decimal_places=18, help_text='Expected if every transaction in flight landed.', max_digits=38)),
                ('expected_high', models.DecimalField(decimal_places=18, help_text='Expected if none of them landed.', max_digits=38)),
                ('actual', models.DecimalField(decimal_places=18, help_text='The chain balance read.', max_digits=38)),
                ('difference', models.DecimalField(decimal_places=18, help_text='actual − the nearest end of the expected range (negative: missing).', max_digits=38)),
                ('dust', models.DecimalField(decimal_places=18, max_digits=38)),
                ('reason', models.TextField()),
                ('paused_sending', models.BooleanField(default=False, help_text='This alert paused sending on the network.')),
                ('detected_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('last_seen_at', models.DateTimeField(auto_now=True)),
                ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                ('acknowledged_reason', models.TextField(blank=True)),
                ('currency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='chains.currency')),
                ('network', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='chains.network')),
                ('opening', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='alerts', to='withdrawals.hotwalletopening')),
            ],
            options={
                'ordering': ['-detected_at', '-id'],
            },
        ),
        migrations.AddConstraint(
            model_name='hotwalletopening',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gte', 0)), name='hot_wallet_opening_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='hotwalletopening',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'active')), fields=('network', 'address', 'currency'), name='one_active_opening_per_wallet_currency'),
        ),
        migrations.AddConstraint(
            model_name='reconciliationalert',
            constraint=models.UniqueConstraint(condition=models.Q(('acknowledged_at', None)), fields=('network', 'address', 'currency'), name='one_open_reconciliation_alert'),
        ),
    ]
