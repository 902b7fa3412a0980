"""Opening balances move through core.transitions, each move with its audit row."""

import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('withdrawals', '0012_resolve_permission'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='hotwalletopening',
            name='status',
            field=django_fsm.FSMField(choices=[('pending', 'Pending approval'), ('active', 'Active'), ('superseded', 'Superseded by a later opening'), ('rejected', 'Rejected')], db_index=True, default='pending', max_length=12, protected=True),
        ),
        migrations.CreateModel(
            name='HotWalletOpeningStatusChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('from_status', models.CharField(blank=True, max_length=32)),
                ('to_status', models.CharField(max_length=32)),
                ('reason', models.TextField(blank=True)),
                ('at', models.DateTimeField(auto_now_add=True)),
                ('actor', models.ForeignKey(blank=True, help_text='Empty when the system moved it (worker, beat).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('opening', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='history', to='withdrawals.hotwalletopening')),
            ],
            options={
                'ordering': ['at', 'id'],
                'abstract': False,
            },
        ),
    ]
