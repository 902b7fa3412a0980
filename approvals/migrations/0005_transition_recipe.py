"""Every move of a signed transaction, a tracked output, a work-order step and a fee-reserve request through core.transitions, with its audit row."""

import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0004_travel_rule_record_to_withdrawals'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='feereserverequest',
            name='decided_by',
            field=models.ForeignKey(blank=True, help_text='Who approved, rejected or cancelled it.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='workorderstep',
            name='state',
            field=django_fsm.FSMField(choices=[('pending', 'Pending'), ('current', 'Waiting for decisions'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('skipped', 'Skipped'), ('closed', 'Not reached (closed)')], default='pending', max_length=10, protected=True),
        ),
        migrations.CreateModel(
            name='FeeReserveRequestStatusChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('from_status', models.CharField(blank=True, max_length=32)),
                ('to_status', models.CharField(max_length=32)),
                ('reason', models.TextField(blank=True)),
                ('at', models.DateTimeField(auto_now_add=True)),
                ('actor', models.ForeignKey(blank=True, help_text='Empty when the system moved it (worker, beat).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('request', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='history', to='approvals.feereserverequest')),
            ],
            options={
                'ordering': ['at', 'id'],
                'abstract': False,
            },
        ),
    ]
