"""Reference data: networks, currencies and coins (a currency on a network) with their
withdrawal settings."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from core.amounts import decimal_places
from core.fields import AMOUNT_PLACES, AmountField
from core.history import config_history


@config_history()
class Network(models.Model):
    class Kind(models.TextChoices):
        EVM = "evm", "EVM (Ethereum)"
        UTXO = "utxo", "UTXO (Bitcoin)"
        TRON = "tron", "TRON"

    code = models.CharField(max_length=16, unique=True, validators=[RegexValidator(r"^[A-Z0-9_]+$")],
                            help_text="Public network code used by the App, e.g. ETH, BTC, TRON.")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    native_currency = models.ForeignKey("Currency", on_delete=models.PROTECT, related_name="+",
                                        help_text="The currency network fees are paid in (ETH, BTC, TRX).")
    rpc_url = models.CharField(max_length=300, blank=True,
                               help_text="Node endpoint. Empty: the URL from the environment "
                                         "(ETH_RPC_URL, BTC_RPC_URL, TRON_RPC_URL) or the embedded default.")
    chain_id = models.PositiveBigIntegerField(
        null=True, blank=True,
        help_text="EVM chain id (anvil: 31337, Ethereum mainnet: 1); required for EVM networks. Compared with the "
                  "node's eth_chainId at start and before every signature.")
    address_network = models.CharField(
        max_length=32, blank=True,
        help_text="Which addresses are valid: for BTC bitcoin, testnet, regtest or bitcoinlib_test; "
                  "for TRON mainnet or nile. Empty for EVM.")
    confirmations = models.PositiveIntegerField(default=12, validators=[MinValueValidator(1)],
                                                help_text="Default confirmation depth for coins on this network.")
    sending_paused = models.BooleanField(
        default=False, help_text="Kill switch: approved withdrawals on this network wait, nothing is sent.")
    explorer_tx_url = models.CharField(
        max_length=300, blank=True,
        help_text="Block explorer link of a transaction, {tx} replaced by its hash, e.g. "
                  "https://etherscan.io/tx/{tx}. Empty: the admin shows the hash without a link.")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(kind="evm") | Q(chain_id__isnull=False), name="network_evm_chain_id"),
        ]

    def __str__(self) -> str:
        return self.code

    def explorer_url(self, tx_hash: str) -> str:
        """The explorer page of ``tx_hash`` on this network ('' without a template)."""
        return self.explorer_tx_url.replace("{tx}", tx_hash) if self.explorer_tx_url and tx_hash else ""

    def clean(self) -> None:
        if self.explorer_tx_url and (not self.explorer_tx_url.startswith("https://") or
                                     "{tx}" not in self.explorer_tx_url):
            raise ValidationError({"explorer_tx_url": "An https:// URL with {tx} where the hash goes."})
        if self.kind == Network.Kind.EVM and self.chain_id is None:
            raise ValidationError({"chain_id": "An EVM network needs its chain id (anvil: 31337, mainnet: 1): "
                                               "nothing is signed for a chain the node does not confirm."})


@config_history()
class Currency(models.Model):
    code = models.CharField(max_length=12, unique=True, validators=[RegexValidator(r"^[A-Z0-9]+$")])
    name = models.CharField(max_length=100)
    decimals = models.PositiveSmallIntegerField(validators=[MinValueValidator(0)],
                                                help_text="Smallest unit: 8 for BTC, 18 for ETH, 6 for USDT.")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"
        constraints = [models.CheckConstraint(condition=Q(decimals__lte=AMOUNT_PLACES), name="currency_decimals_max")]

    def __str__(self) -> str:
        return self.code


@config_history(exclude=["network_fee_estimate", "network_fee_estimated_at"])  # the estimate: every minute
class Coin(models.Model):
    """A currency on a network, e.g. USDT on ETH (ERC-20). Withdrawal settings live here."""

    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="coins")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="coins")
    contract_address = models.CharField(max_length=100, blank=True,
                                        help_text="Token contract (ERC-20 / TRC-20); empty for the native coin.")
    enabled = models.BooleanField(default=False, help_text="Open for withdrawal in the App.")
    decimals = models.PositiveSmallIntegerField(
        help_text="Decimals a withdrawal amount may have (precision); at most the currency's decimals and the "
                  "chain decimals.")
    chain_decimals = models.PositiveSmallIntegerField(
        help_text="Decimals of the asset on this chain: the token contract's decimals() (USDT: 6 on Ethereum and "
                  "TRON, 18 on some chains), the native coin's own (ETH 18, BTC 8, TRX 6). Checked against the "
                  "chain when the coin is saved, enabled and before every signature.")
    min_amount = AmountField(help_text="Smallest withdrawal amount.")
    max_amount = AmountField(help_text="Largest single withdrawal amount.")
    daily_limit = AmountField(help_text="Per customer per UTC day, at KYC level 1; "
                                        "higher levels multiply it (see KYC_DAILY_LIMIT_MULTIPLIER).")
    customer_fee = AmountField(default=Decimal("0"), help_text="Fee charged to the customer, in this coin.")
    fee_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+",
                                     help_text="Currency the network fee is paid in from the main account.")
    confirmations = models.PositiveIntegerField(validators=[MinValueValidator(1)],
                                                help_text="Confirmations before the withdrawal counts as credited.")
    fee_cap = AmountField(null=True, blank=True,
                          help_text="Most network fee one withdrawal may pay (fee currency); required to enable "
                                    "the coin. A send whose fee would exceed it waits instead of overpaying.")
    network_fee_estimate = AmountField(null=True, blank=True, editable=False,
                                       help_text="Latest network fee estimate read from the chain.")
    network_fee_estimated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["currency__code", "network__code"]
        permissions = [("enable_coin", "Can enable or disable a coin for withdrawal (with a reason)")]
        constraints = [
            models.UniqueConstraint(fields=["currency", "network"], name="coin_currency_network_unique"),
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="coin_min_positive"),
            models.CheckConstraint(condition=Q(max_amount__gte=F("min_amount")), name="coin_max_ge_min"),
            models.CheckConstraint(condition=Q(daily_limit__gte=F("min_amount")), name="coin_daily_ge_min"),
            models.CheckConstraint(condition=Q(customer_fee__gte=0), name="coin_fee_not_negative"),
            models.CheckConstraint(condition=Q(decimals__lte=F("chain_decimals")), name="coin_decimals_le_chain"),
            models.CheckConstraint(condition=Q(enabled=False) | Q(fee_cap__isnull=False),
                                   name="coin_enabled_needs_fee_cap"),
            models.CheckConstraint(condition=Q(fee_cap__isnull=True) | Q(fee_cap__gt=0), name="coin_fee_cap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency.code}/{self.network.code}"

    @property
    def is_token(self) -> bool:
        return bool(self.contract_address)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.currency_id and self.decimals is not None and self.decimals > self.currency.decimals:
            errors["decimals"] = f"At most the currency's {self.currency.decimals} decimals."
        if self.decimals is not None and self.chain_decimals is not None and self.decimals > self.chain_decimals:
            errors["decimals"] = f"At most the chain's {self.chain_decimals} decimals."
        if self.enabled and self.fee_cap is None:
            errors["fee_cap"] = "A coin cannot be open for withdrawal without a fee cap."
        elif self.fee_cap is not None and self.fee_cap <= 0:
            errors["fee_cap"] = "The fee cap must be positive."
        for name in ("min_amount", "max_amount", "daily_limit", "customer_fee"):
            value = getattr(self, name)
            if value is not None and self.decimals is not None and decimal_places(value) > self.decimals:
                errors[name] = f"More than the coin's {self.decimals} decimals."
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            errors["max_amount"] = "The maximum is below the minimum."
        if self.daily_limit is not None and self.min_amount is not None and self.daily_limit < self.min_amount:
            errors["daily_limit"] = "The daily limit is below the minimum."
        if self.network_id and self.fee_currency_id and self.fee_currency_id != self.network.native_currency_id:
            errors["fee_currency"] = f"Fees on {self.network.code} are paid in {self.network.native_currency.code}."
        if self.network_id and self.is_token and self.network.kind == Network.Kind.UTXO:
            errors["contract_address"] = "Bitcoin has no token contracts."
        if self.pk and not errors:
            in_use = self.settlement_change_refused()
            if in_use:
                errors["chain_decimals" if "chain_decimals" in in_use else "decimals"] = in_use
        if errors:
            raise ValidationError(errors)

    def settlement_change_refused(self) -> str:
        """Why the precision or chain decimals may not change now ("" when they may, or did not
        change): an order of this coin that is not finished was priced and approved with them."""
        from chains.signals import coin_in_use_checks

        stored = Coin.objects.filter(pk=self.pk).values("decimals", "chain_decimals").first()
        if stored is None:
            return ""
        changed = [name for name in ("chain_decimals", "decimals") if stored[name] != getattr(self, name)]
        if not changed:
            return ""
        for check in coin_in_use_checks:
            busy = check(self.pk)
            if busy:
                return f"{' and '.join(changed)} cannot change while {busy}."
        return ""


# --- Kill switches (flipped by chains.services.sending_pause_set) -----------------------------------------


class SendingSwitch(models.Model):
    """The global kill switch: one row (id 1). Paused: no order is signed or sent on any network.

    Per-network pausing is ``Network.sending_paused``. Both are flipped only through
    ``chains.services.sending_pause_set``, which writes a KillSwitchChange.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    sending_paused = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "global sending switch"
        verbose_name_plural = "global sending switch"
        permissions = [("flip_kill_switch", "Can pause or resume sending (global or per network, with a reason)")]
        constraints = [models.CheckConstraint(condition=Q(id=1), name="sending_switch_singleton")]

    def __str__(self) -> str:
        return "All networks: " + ("PAUSED" if self.sending_paused else "sending")


class KillSwitchChange(models.Model):
    """Audit of every flip of a kill switch: which (a network, or empty for all), who, when, why."""

    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="Empty: the global switch.")
    paused = models.BooleanField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        scope = self.network.code if self.network_id else "all networks"
        return f"{scope} {'paused' if self.paused else 'resumed'} at {self.at:%Y-%m-%d %H:%M}"
