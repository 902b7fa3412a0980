"""Shared set-up of the send-pipeline tests (imported by tests/chains/test_pipeline*.py,
test_faults.py, test_reorg.py). No tests here.

A scenario is the real thing end to end: an ETH network pointing at the session's anvil node,
the ETH and demo-USDT coins, a customer who requests through the App API with a TOTP code,
an approver who approves the work order, a funded main account, and one hot wallet for the
session whose key reaches the worker through its environment (``HOT_KEY_ETH``), never the
database. The worker gets ``WDC_FAULT_FILE`` too: a test that writes a fault point into that
file makes the worker SIGKILL itself there, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from eth_account import Account
from rest_framework.test import APIClient

from approvals.defaults import TREASURY, WITHDRAWAL_APPROVERS
from approvals.models import PriceQuote, WorkOrder
from approvals.services import fee_reserve_request_create, work_order_decide
from chains.adapters.evm import to_units
from chains.models import Coin, Currency, Network
from ledger.selectors import ledger_check, tenant_fee_reserve
from ledger.services import ledger_deposit
from tests.fixtures.anvil import Anvil, DevAccount
from tests.fixtures.factories import (
    AddressFactory,
    CoinFactory,
    CurrencyFactory,
    NetworkFactory,
    StaffFactory,
)
from tests.withdrawals.conftest import enrolled_customer, fresh_otp
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction

ETH_CONFIRMATIONS = 2
HOT_ETH = Decimal("100")
HOT_USDT = Decimal("100000")
MAIN_ACCOUNT_ETH = Decimal("1")
WAIT_SECONDS = 30


# The test modules import these fixtures, so pytest sees one session fixture per module: the
# values are kept here so that every module gets the same wallet and file (and the worker is not
# restarted for a new key).
_SESSION: dict[str, object] = {}


@pytest.fixture(scope="session")
def pipeline_hot_wallet(anvil: Anvil, demo_token: str) -> DevAccount:
    """One hot wallet for the whole session (the worker reads its key once, from its environment)."""
    key = f"hot:{anvil.url}"
    if key not in _SESSION:
        _SESSION[key] = anvil.new_wallet(eth=HOT_ETH, token=demo_token, usdt=HOT_USDT)
    return _SESSION[key]


@pytest.fixture(scope="session")
def fault_file(tmp_path_factory) -> Path:
    if "fault" not in _SESSION:
        _SESSION["fault"] = tmp_path_factory.mktemp("faults") / "fault"
    return _SESSION["fault"]


@pytest.fixture
def pipeline_worker(celery_worker_proc, pipeline_hot_wallet: DevAccount, fault_file: Path):
    """The session's real worker, with the hot key and the fault file in its environment."""
    wanted = {"HOT_KEY_ETH": pipeline_hot_wallet.key.hex(), "WDC_FAULT_FILE": str(fault_file)}
    if any(celery_worker_proc.env.get(k) != v for k, v in wanted.items()):
        celery_worker_proc.env.update(wanted)
        celery_worker_proc.restart()
    fault_file.unlink(missing_ok=True)
    yield celery_worker_proc
    fault_file.unlink(missing_ok=True)


def arm_fault(fault_file: Path, point: str) -> None:
    """The worker SIGKILLs itself the next time it reaches ``point`` (once)."""
    fault_file.write_text(point)


@dataclass
class Scene:
    anvil: Anvil
    hot: DevAccount
    network: Network
    eth: Coin
    usdt: Coin
    customer: object
    client: APIClient
    approver: object
    treasurer: object
    recipient: str
    addresses: dict

    @property
    def tenant(self):
        return self.customer.tenant

    def request(self, currency: str = "ETH", amount: str = "0.5", key: str | None = None) -> WithdrawalOrder:
        body = {"currency": currency, "network": "ETH", "address_id": self.addresses["ETH"].pk, "amount": amount,
                "otp": fresh_otp(self.customer)}
        key = key or f"k-{time.monotonic_ns()}"
        response = self.client.post("/api/v1/withdrawals/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 201, response.content
        return WithdrawalOrder.objects.get(pk=response.json()["id"])

    def approve(self, order: WithdrawalOrder) -> None:
        """The approver decides the order's work order (its last step: the order goes to sending)."""
        work_order = WorkOrder.objects.get(object_id=order.pk, type="atm.va.coin_withdraw_apply")
        work_order_decide(work_order=work_order, actor=self.approver, decision="approve", comment="ok")
        order.refresh_from_db()
        assert order.status != WithdrawalOrder.Status.PENDING_APPROVAL, work_order.steps.all()

    def top_up(self, amount: Decimal, kind: str = "main_topup") -> None:
        """Record a main-account top-up through its work order (Treasury approves)."""
        request = fee_reserve_request_create(tenant=self.tenant, currency="ETH", amount=amount, kind=kind,
                                             actor=self.approver, note="venue transfer")
        work_order = WorkOrder.objects.get(object_id=request.pk, type__in=["atm.va.main_account_topup",
                                                                            "atm.va.sub_to_main_transfer"])
        work_order_decide(work_order=work_order, actor=self.treasurer, decision="approve", comment="booked")

    def recipient_balance(self, coin: Coin) -> Decimal:
        return self.anvil.adapter().balance(_coin_config(coin), self.recipient)


def _coin_config(coin: Coin):
    from chains.adapters import coin_config

    return coin_config(coin)


def make_scene(anvil: Anvil, hot: DevAccount, demo_token: str, *, main_account: Decimal = MAIN_ACCOUNT_ETH,
               rpc_url: str | None = None) -> Scene:
    eth_currency = CurrencyFactory(code="ETH", decimals=18)
    network = NetworkFactory(code="ETH", native_currency=eth_currency, rpc_url=rpc_url or anvil.url,
                             chain_id=anvil.chain_id, confirmations=ETH_CONFIRMATIONS)
    eth = CoinFactory(currency=eth_currency, network=network, confirmations=ETH_CONFIRMATIONS,
                      customer_fee=Decimal("0.001"))
    usdt = CoinFactory(currency=CurrencyFactory(code="USDT", decimals=6), network=network,
                       contract_address=demo_token, decimals=6, min_amount=Decimal("1"),
                       max_amount=Decimal("100000"), daily_limit=Decimal("200000"), customer_fee=Decimal("1"),
                       confirmations=ETH_CONFIRMATIONS)
    for code, price in (("ETH", "1000"), ("USDT", "7.8")):  # values under the travel-rule threshold
        PriceQuote.objects.update_or_create(currency=Currency.objects.get(code=code), quote="HKD",
                                            defaults={"price": Decimal(price)})
    customer = enrolled_customer()
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("1.0"), reference="dep-eth-usd")
    ledger_deposit(customer=customer, currency="ETH", quote="HKD", amount=Decimal("0.8"), reference="dep-eth-hkd")
    ledger_deposit(customer=customer, currency="USDT", quote="USD", amount=Decimal("500"), reference="dep-usdt")
    recipient = Account.create().address
    addresses = {"ETH": AddressFactory(customer=customer, network=network, address=recipient)}
    client = APIClient()
    client.force_authenticate(customer.user)
    approver = StaffFactory()
    approver.groups.add(Group.objects.get_or_create(name=WITHDRAWAL_APPROVERS)[0])
    treasurer = StaffFactory()
    treasurer.groups.add(Group.objects.get_or_create(name=TREASURY)[0])
    scene = Scene(anvil=anvil, hot=hot, network=network, eth=eth, usdt=usdt, customer=customer, client=client,
                  approver=approver, treasurer=treasurer, recipient=recipient, addresses=addresses)
    if main_account:
        scene.top_up(main_account)
    return scene


@pytest.fixture
def scene(db, anvil: Anvil, pipeline_hot_wallet: DevAccount, demo_token: str) -> Scene:
    return make_scene(anvil, pipeline_hot_wallet, demo_token)


# --- waiting and checking -----------------------------------------------------------------------

def wait_for(predicate: Callable[[], object], *, seconds: float = WAIT_SECONDS, every: float = 0.2,
             tick: Callable[[], None] | None = None, what: str = "condition"):
    """Poll ``predicate`` until truthy (calling ``tick`` between tries, e.g. mine and sweep)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        if tick:
            tick()
        time.sleep(every)


def status_of(order: WithdrawalOrder) -> str:
    return WithdrawalOrder.objects.filter(pk=order.pk).values_list("status", flat=True).get()


def wait_status(order: WithdrawalOrder, *statuses: str, seconds: float = WAIT_SECONDS,
                tick: Callable[[], None] | None = None) -> WithdrawalOrder:
    wait_for(lambda: status_of(order) in statuses, seconds=seconds, tick=tick,
             what=f"W{order.pk} to be {'/'.join(statuses)} (is {status_of(order)}, "
                  f"last_error={WithdrawalOrder.objects.get(pk=order.pk).last_error!r})")
    order.refresh_from_db()
    return order


def sweep_via_worker(stale_after: float | None = 0, timeout: float = 20) -> dict:
    """One sweep run by the real worker (``chains.sweep_confirmations``), waited for."""
    from chains.send_tasks import sweep_confirmations

    return sweep_confirmations.delay(stale_after=stale_after).get(timeout=timeout)


def mine_and_sweep(anvil: Anvil, blocks: int = 1) -> Callable[[], None]:
    def tick() -> None:
        anvil.mine(blocks)
        sweep_via_worker()

    return tick


def hot_nonce(anvil: Anvil, hot: DevAccount) -> int:
    return anvil.w3.eth.get_transaction_count(hot.address, "latest")


def transfers_to(anvil: Anvil, token: str, recipient: str, from_block: int = 0) -> list[dict]:
    """DemoUSDT Transfer events to ``recipient``."""
    from chains.erc20 import token_contract

    contract = token_contract(anvil.w3, token)
    return list(contract.events.Transfer().get_logs(from_block=from_block, argument_filters={"receiver": recipient}))


def assert_settled(scene: Scene, order: WithdrawalOrder, *, main_before: Decimal) -> None:
    """SPEC "Ledger", Completed: principal from the sub-account, customer fee to revenue, the
    reserve released, the actual fee (the receipt's) booked from the main account."""
    order.refresh_from_db()
    assert order.status == WithdrawalOrder.Status.COMPLETED
    receipt = scene.anvil.w3.eth.get_transaction_receipt(order.tx_hash)
    actual_fee = Decimal(receipt["gasUsed"] * receipt["effectiveGasPrice"]).scaleb(-18)
    assert order.fee_paid == actual_fee and order.fee_reserved == 0
    fee = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")
    assert fee["main"] == main_before - actual_fee
    assert fee["expense"] >= actual_fee
    assert fee["reserved"] == 0
    assert WithdrawalTransaction.objects.filter(order=order, state="confirmed").count() == 1
    assert ledger_check() == []


def units(amount: Decimal, decimals: int) -> int:
    return to_units(amount, decimals)
