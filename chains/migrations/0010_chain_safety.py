"""Issue 12, "No double pay, ever": decimals from the chain, the right chain, bounded fees.

* ``Coin.chain_decimals``: the asset's decimals on its chain (what the adapters scale amounts by),
  filled from the currency's decimals, which is what the adapters used until now; must be at
  least the amount precision (``Coin.decimals``).
* ``Network.chain_id`` is required for EVM networks. Rows without one get 31337 (the demo and
  anvil chain): a wrong guess fails closed, since the chain id is compared with the node's
  ``eth_chainId`` at start and before every signature, and a mismatch signs nothing.
* An enabled coin needs a fee cap. Enabled coins without one are **disabled** here (and each is
  printed): inventing a cap could be too low (orders stuck) or meaningless; staff set one and
  enable the coin again. Orders in flight are unaffected (a disabled coin only stops new requests).
"""

from django.db import migrations, models
from django.db.models import F, Q


def forwards(apps, schema_editor):
    Coin = apps.get_model("chains", "Coin")
    Network = apps.get_model("chains", "Network")
    for coin in Coin.objects.select_related("currency"):
        Coin.objects.filter(pk=coin.pk).update(chain_decimals=coin.currency.decimals)
    for network in Network.objects.filter(kind="evm", chain_id__isnull=True):
        print(f"\n  chains.0010: EVM network {network.code} had no chain id; set to 31337 (anvil), "
              "checked against its node before anything is signed")
        Network.objects.filter(pk=network.pk).update(chain_id=31337)
    for coin in Coin.objects.filter(enabled=True, fee_cap__isnull=True).select_related("currency", "network"):
        print(f"\n  chains.0010: coin {coin.currency.code}/{coin.network.code} had no fee cap; disabled "
              "(set a fee cap, then enable it again)")
        Coin.objects.filter(pk=coin.pk).update(enabled=False)


class Migration(migrations.Migration):
    dependencies = [("chains", "0009_pipeline_models_to_withdrawals")]

    operations = [
        migrations.AddField("coin", "chain_decimals", models.PositiveSmallIntegerField(null=True)),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterField(
            "coin", "chain_decimals",
            models.PositiveSmallIntegerField(
                help_text="Decimals of the asset on this chain: the token contract's decimals() (USDT: 6 on "
                          "Ethereum and TRON, 18 on some chains), the native coin's own (ETH 18, BTC 8, TRX 6). "
                          "Checked against the chain when the coin is saved, enabled and before every signature.")),
        migrations.AlterField(
            "coin", "decimals",
            models.PositiveSmallIntegerField(
                help_text="Decimals a withdrawal amount may have (precision); at most the currency's decimals "
                          "and the chain decimals.")),
        migrations.AlterField(
            "coin", "fee_cap",
            models.DecimalField(blank=True, decimal_places=18, max_digits=38, null=True,
                                help_text="Most network fee one withdrawal may pay (fee currency); required to "
                                          "enable the coin. A send whose fee would exceed it waits instead of "
                                          "overpaying.")),
        migrations.AlterField(
            "network", "chain_id",
            models.PositiveBigIntegerField(
                blank=True, null=True,
                help_text="EVM chain id (anvil: 31337, Ethereum mainnet: 1); required for EVM networks. Compared "
                          "with the node's eth_chainId at start and before every signature.")),
        migrations.AddConstraint("network", models.CheckConstraint(
            condition=~Q(kind="evm") | Q(chain_id__isnull=False), name="network_evm_chain_id")),
        migrations.AddConstraint("coin", models.CheckConstraint(
            condition=Q(decimals__lte=F("chain_decimals")), name="coin_decimals_le_chain")),
        migrations.AddConstraint("coin", models.CheckConstraint(
            condition=Q(enabled=False) | Q(fee_cap__isnull=False), name="coin_enabled_needs_fee_cap")),
        migrations.AddConstraint("coin", models.CheckConstraint(
            condition=Q(fee_cap__isnull=True) | Q(fee_cap__gt=0), name="coin_fee_cap_positive")),
    ]
