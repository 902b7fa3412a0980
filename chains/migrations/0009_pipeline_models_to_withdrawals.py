"""The hot-wallet nonce allocator, the tracked BTC outputs and the admin's sending proxies moved to
the withdrawals app with the send pipeline. State only: the tables keep their names."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("chains", "0008_switch_plural_names")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel("HotWalletUtxo"),
            migrations.DeleteModel("HotWalletNonce"),
            migrations.DeleteModel("NetworkSendingControl"),
            migrations.DeleteModel("FeeReserveCoin"),
        ]),
    ]
