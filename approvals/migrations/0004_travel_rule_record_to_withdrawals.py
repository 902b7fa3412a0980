"""The travel-rule audit moved to the withdrawals app with its capture service. State only: the
table (and its append-only trigger) keeps its name."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("approvals", "0003_default_groups_and_flows")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel("TravelRuleRecord")]),
    ]
