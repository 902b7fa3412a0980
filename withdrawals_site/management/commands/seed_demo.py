"""Demo data: networks, currencies, coins (with the demo ERC-20 deployed to the local chain),
the tenant and its fee reserve, staff in their approval groups, and two customers ready to
withdraw. Idempotent: a second run changes nothing.

Demo users have a published password, so it runs only on the embedded database (no
DATABASE_URL) or with ``--demo``; and with ``--demo`` it refuses, in one ``Configuration error:``
line and before writing anything, a database holding anything but the console's tables and the
demo's users (``withdrawals_site.demo.demo_database_problem``)."""

from __future__ import annotations

import sys
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from chains.models import Coin, Currency, Network
from customers.models import Customer, Tenant
from withdrawals_site.demo import DEMO_PASSWORD, DEMO_STAFF_ROLES
from withdrawals_site.roles import role_grant

# anvil's first dev account (default mnemonic): funds the hot wallet and owns the demo token.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEMO_LEGAL_NAMES = {"alice": "Alice CHAN", "bob": "Bob WONG"}
# Customer wallets: anvil dev account 9, a bitcoinlib_test address, a TRON address.
DEMO_ADDRESSES = {
    "ETH": "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
    "TRON": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
}
TRON_USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
PRICES = {"ETH": ("3000", "23400"), "BTC": ("60000", "468000"), "USDT": ("1", "7.8"), "TRX": ("0.1", "0.78")}
# username -> role (withdrawals_site/roles.py): two people in every group that makes and checks, so
# that no demo request waits for a second person who does not exist.
STAFF = {username: role for role, username in DEMO_STAFF_ROLES}


def demo_refusal(*, demo: bool) -> str | None:
    """Why seed_demo must not write to the configured database, or None."""
    if settings.EMBEDDED_DEMO:
        return None  # the embedded PostgreSQL under var/: the demo's own database
    if not demo:
        return ("seed_demo writes users with a published password; DATABASE_URL is set, so it runs only "
                "with --demo, on a database meant for the demo")
    from django.db import connection

    from withdrawals_site.demo import demo_database_problem

    problem = demo_database_problem(connection)
    return f"seed_demo refused: {problem} (check DATABASE_URL)" if problem else None


def refuse_or_return(*, demo: bool, stream=None) -> None:
    """One ``Configuration error:`` line and exit status 2 when the demo data may not be written."""
    reason = demo_refusal(demo=demo)
    if reason:
        print(f"Configuration error: {reason}", file=stream or sys.stderr)
        raise SystemExit(2)


class Command(BaseCommand):
    help = "Create the demo data (idempotent). Without DATABASE_URL, or with --demo on a demo-only database."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true",
                            help="DATABASE_URL is a database for the demo: load the demo data there (refused "
                                 "when it holds anything but the console's tables and the demo users).")

    def handle(self, *args, demo: bool = False, **options):
        refuse_or_return(demo=demo, stream=self.stderr._out)
        with transaction.atomic():
            currencies = self._currencies()
            networks = self._networks(currencies)
            tenant, _ = Tenant.objects.get_or_create(
                venue_code="HAS", defaults={"name": "Demo Broker Ltd", "quote_currencies": ["USD", "HKD"]})
            coins = self._coins(currencies, networks)
            self._prices(currencies)
            staff = self._staff()
            self._staff_authenticators(staff)
            customers = self._customers(tenant)
        self._chain(coins, networks)
        self._openings(networks, staff)
        self._money(tenant, customers, staff)
        with transaction.atomic():
            self._addresses(customers, networks)
            self._bank_accounts(customers)
        with transaction.atomic():
            self._p2p_offer(customers)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    # --- reference data ------------------------------------------------------------------------
    def _currencies(self) -> dict[str, Currency]:
        specs = {"BTC": ("Bitcoin", 8), "ETH": ("Ether", 18), "USDT": ("Tether USD", 6), "TRX": ("TRON", 6)}
        return {code: Currency.objects.get_or_create(code=code, defaults={"name": name, "decimals": decimals})[0]
                for code, (name, decimals) in specs.items()}

    def _networks(self, cur) -> dict[str, Network]:
        specs = {
            "ETH": dict(name="Ethereum (local anvil)", kind="evm", native_currency=cur["ETH"], chain_id=31337,
                        confirmations=3),
            "BTC": dict(name="Bitcoin (bitcoinlib test chain)", kind="utxo", native_currency=cur["BTC"],
                        address_network="bitcoinlib_test", confirmations=2),
            "TRON": dict(name="TRON (recorded node)", kind="tron", native_currency=cur["TRX"],
                         address_network="mainnet", confirmations=1),
        }
        return {code: Network.objects.get_or_create(code=code, defaults=spec)[0] for code, spec in specs.items()}

    def _coins(self, cur, net) -> dict[str, Coin]:
        specs = {
            "ETH/ETH": dict(currency=cur["ETH"], network=net["ETH"], decimals=8, min_amount=Decimal("0.001"),
                            max_amount=Decimal("50"), daily_limit=Decimal("100"), customer_fee=Decimal("0.0005"),
                            fee_currency=cur["ETH"], confirmations=3, chain_decimals=18, fee_cap=Decimal("0.01")),
            "USDT/ETH": dict(currency=cur["USDT"], network=net["ETH"], decimals=6, min_amount=Decimal("10"),
                             max_amount=Decimal("100000"), daily_limit=Decimal("200000"), customer_fee=Decimal("1"),
                             fee_currency=cur["ETH"], confirmations=3, chain_decimals=6, fee_cap=Decimal("0.02")),
            "BTC/BTC": dict(currency=cur["BTC"], network=net["BTC"], decimals=8, min_amount=Decimal("0.0001"),
                            max_amount=Decimal("5"), daily_limit=Decimal("10"), customer_fee=Decimal("0.00002"),
                            fee_currency=cur["BTC"], confirmations=2, chain_decimals=8, fee_cap=Decimal("0.0005")),
            "USDT/TRON": dict(currency=cur["USDT"], network=net["TRON"], decimals=6, min_amount=Decimal("10"),
                              max_amount=Decimal("100000"), daily_limit=Decimal("200000"),
                              customer_fee=Decimal("1"), fee_currency=cur["TRX"], confirmations=1,
                              contract_address=TRON_USDT_CONTRACT, chain_decimals=6, fee_cap=Decimal("50")),
        }
        coins = {}
        for name, spec in specs.items():
            coin, created = Coin.objects.get_or_create(currency=spec.pop("currency"), network=spec.pop("network"),
                                                       defaults={**spec, "enabled": True})
            if created:
                coin.full_clean()
            elif coin.fee_cap is None:  # seeded before fee caps were required (chains.0010 disabled it)
                Coin.objects.filter(pk=coin.pk).update(fee_cap=spec["fee_cap"], enabled=True)
                coin.refresh_from_db()
            coins[name] = coin
        return coins

    def _prices(self, cur) -> None:
        from approvals.models import PriceQuote

        for code, (usd, hkd) in PRICES.items():
            for quote, price in (("USD", usd), ("HKD", hkd)):
                PriceQuote.objects.get_or_create(currency=cur[code], quote=quote, defaults={"price": Decimal(price)})

    # --- people ------------------------------------------------------------------------------
    def _staff(self) -> dict:
        user_model = get_user_model()
        staff = {}
        for username, role in STAFF.items():
            user, created = user_model.objects.get_or_create(username=username, defaults={"is_staff": True})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                role_grant(user=user, role=role)
            staff[username] = user
        # The demo's setup, not a staff action: the users and groups above are created directly,
        # not through the four-eyes access changes (docs/SECURITY.md). The embedded demo (DEBUG)
        # only: a superuser sees every page but decides no work order (the engine refuses
        # non-members); with DEBUG off every start path refuses while one is active, so a --demo
        # database without DEBUG gets no 'admin'.
        if settings.DEBUG:
            admin, created = user_model.objects.get_or_create(
                username="admin", defaults={"is_staff": True, "is_superuser": True})
            if created:
                admin.set_password(DEMO_PASSWORD)
                admin.save()
            staff["admin"] = admin
        return staff

    def _staff_authenticators(self, staff: dict) -> None:
        """Each demo staff member gets a confirmed authenticator (``manage.py demo_otp ops1`` reads it)."""
        import time

        from staff.services import staff_totp_confirm, staff_totp_device_get, staff_totp_enrol

        for user in staff.values():
            if staff_totp_device_get(user=user) is None:
                device, _ = staff_totp_enrol(user=user)
                totp = device.totp()  # confirmed with the previous step's code: the current one stays usable
                staff_totp_confirm(user=user, code=totp.at(int(time.time()) - totp.interval))

    def _customers(self, tenant) -> dict[str, Customer]:
        from withdrawals.models import TotpDevice
        from withdrawals.services.otp import totp_confirm, totp_enroll

        user_model = get_user_model()
        customers = {}
        for n, username in enumerate(["alice", "bob"], start=1):
            user, created = user_model.objects.get_or_create(username=username,
                                                             defaults={"email": f"{username}@example.test"})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            customer, _ = Customer.objects.get_or_create(user=user, defaults={
                "tenant": tenant, "reference": f"C{n:06d}", "kyc_level": 2, "kyc_status": "approved"})
            if not customer.legal_name:  # KYC identity: fiat bank accounts must be in this name
                customer.legal_name = DEMO_LEGAL_NAMES[username]
                customer.country = "HK"
                customer.save(update_fields=["legal_name", "country"])
            if not TotpDevice.objects.filter(customer=customer, confirmed=True).exists():
                import time

                import pyotp

                _, secret, _ = totp_enroll(customer=customer)
                totp = pyotp.TOTP(secret)
                totp_confirm(customer=customer, code=totp.at(int(time.time()) - totp.interval))
            customers[username] = customer
        return customers

    # --- money -------------------------------------------------------------------------------
    def _money(self, tenant, customers, staff) -> None:
        from ledger.services import ledger_deposit, ledger_transfer

        deposits = [
            ("alice", "ETH", "USD", "2.0"), ("alice", "ETH", "HKD", "1.5"), ("alice", "USDT", "USD", "5000"),
            ("alice", "USDT", "HKD", "2000"), ("alice", "BTC", "USD", "0.3"), ("bob", "ETH", "USD", "1.0"),
            ("bob", "USDT", "HKD", "800"),
        ]
        for username, currency, quote, amount in deposits:
            ledger_deposit(customer=customers[username], currency=currency, quote=quote, amount=Decimal(amount),
                           reference=f"demo:deposit:{username}:{currency}{quote}", memo="Demo deposit")
        for currency, amount in (("ETH", "0.5"), ("BTC", "0.01"), ("TRX", "500")):
            ledger_transfer(tenant=tenant, currency=currency, amount=Decimal(amount), kind="main_topup",
                            reference=f"demo:main-topup:{currency}")

    def _bank_accounts(self, customers) -> None:
        """One active bank account per demo customer (alice: FPS HKD at HSBC; bob: SWIFT USD), seeded
        past review and cool-down (the App registers new ones through the review work order)."""
        from customers.names import name_normalize
        from fiat.models import BankAccount, BankAccountStatusChange

        now = timezone.now()
        accounts = {
            "alice": {"rail": "FPS", "currency": "HKD", "bank_code": "004", "account_number": "123456789012",
                      "bank_country": "HK"},
            "bob": {"rail": "SWIFT", "currency": "USD", "bic": "DEUTDEFF", "iban": "DE89370400440532013000",
                    "bank_country": "DE"},
        }
        for username, fields in accounts.items():
            customer = customers[username]
            entry, created = BankAccount.objects.get_or_create(
                customer=customer, rail=fields["rail"], currency=fields["currency"],
                defaults={**fields, "holder_name": customer.legal_name,
                          "holder_name_normalized": name_normalize(customer.legal_name), "name_match": "exact",
                          "status": "active", "verified_at": now - timedelta(days=2),
                          "usable_from": now - timedelta(days=1), "label": "Demo bank account"})
            if created:
                BankAccountStatusChange.objects.create(bank_account=entry, from_status="", to_status="active",
                                                       reason="Seeded as active (demo data)")

    def _addresses(self, customers, networks) -> None:
        from withdrawals.models import AddressStatusChange, CustomerAddress

        now = timezone.now()
        wanted = dict(DEMO_ADDRESSES)
        btc = self._btc_demo_address(networks["BTC"])
        if btc:
            wanted["BTC"] = btc
        for code, address in wanted.items():
            entry, created = CustomerAddress.objects.get_or_create(
                customer=customers["alice"], network=networks[code], address=address,
                defaults={"label": f"Alice's {code} wallet", "status": "verified", "verification_method": "signature",
                          "verified_at": now - timedelta(days=2), "usable_from": now - timedelta(days=1)})
            if created:
                AddressStatusChange.objects.create(address=entry, from_status="", to_status="verified",
                                                   reason="Seeded as verified (demo data)")

    def _p2p_offer(self, customers) -> None:
        """Alice sells USDT for HKD on P2P, paid to her reviewed FPS account (seeded by
        ``_bank_accounts``); bob can take it (docs/P2P.md)."""
        from fiat.models import BankAccount
        from p2p.models import P2POffer
        from p2p.services import offer_create

        alice = customers["alice"]
        if P2POffer.objects.filter(seller=alice).exists():
            return
        account = BankAccount.objects.get(customer=alice, currency="HKD", status="active")
        offer_create(seller=alice, currency="USDT", fiat="HKD", price="7.82", total_amount="2000", min_trade="100",
                     max_trade="2000", payment_method_ids=[account.pk], terms="Demo offer: FPS only, own-name payers.")

    def _btc_demo_address(self, network) -> str | None:
        try:
            from chains.adapters.bitcoin.codec import hot_wallet_address

            return hot_wallet_address(bytes.fromhex("11" * 32), address_network=network.address_network)
        except Exception as exc:  # the BTC adapter is optional for the demo
            self.stderr.write(f"BTC demo address skipped: {exc}")
            return None

    # --- the local chain ---------------------------------------------------------------------
    def _chain(self, coins, networks) -> None:
        from chains.hot_wallets import hot_address, hot_keys_ensure

        hot_keys_ensure(["ETH", "BTC", "TRON"])
        try:
            from chains.adapters import adapter_for
            from chains.adapters.evm.adapter import to_units
            from chains.erc20 import balance_of, deploy_demo_token, mint

            adapter = adapter_for(networks["ETH"])
            w3 = adapter.w3
            w3.eth.block_number  # noqa: B018 - reachability check
        except Exception as exc:
            self.stderr.write(f"Local chain not reachable ({settings.CHAIN_RPC_URLS['ETH']}): {exc}; "
                              "chain demo data skipped.")
            return
        hot = hot_address(networks["ETH"])
        if adapter.native_balance(hot) < Decimal("5"):
            self._send_eth(w3, hot, Decimal("100"))
        usdt = coins["USDT/ETH"]
        if not usdt.contract_address or not w3.eth.get_code(usdt.contract_address):
            usdt.contract_address = deploy_demo_token(w3, ANVIL_DEV_KEY)
            usdt.save(update_fields=["contract_address"])
            self.stdout.write(f"Deployed the demo USDT at {usdt.contract_address}")
        if balance_of(w3, usdt.contract_address, hot) < to_units(Decimal("100000"), 6):
            mint(w3, usdt.contract_address, owner_private_key=ANVIL_DEV_KEY, to=hot,
                 units=to_units(Decimal("1000000"), 6))
        self._fund_btc(networks["BTC"])
        from chains.services import coin_refresh_fee_estimate

        for coin in coins.values():
            try:
                coin_refresh_fee_estimate(coin=coin)
            except Exception as exc:  # an estimate is a nicety here, never a reason to fail the seed
                self.stderr.write(f"Fee estimate for {coin} skipped: {exc}")

    def _openings(self, networks, staff) -> None:
        """An opening balance per hot wallet and currency, read from the chain now: recorded by
        treasury1, approved by treasury2 (work order atm.va.hot_wallet_opening), so the running demo
        reconciles clean. Kept when the wallet still reconciles against its active opening."""
        from approvals.models import WorkOrder, WorkOrderType
        from approvals.services.work_orders import work_order_decide
        from chains.adapters import adapter_for
        from chains.hot_wallets import hot_address
        from withdrawals.selectors.reconciliation import (
            hot_wallet_expected,
            hot_wallet_opening_active,
            reconciliation_dust,
        )
        from withdrawals.services.reconciliation import hot_wallet_currencies, hot_wallet_opening_record

        for network in networks.values():
            try:
                address = hot_address(network)
                adapter = adapter_for(network)
                for currency, config in hot_wallet_currencies(network):
                    balance = adapter.balance(config, address)
                    active = hot_wallet_opening_active(network=network, address=address, currency=currency)
                    if active is not None:
                        expected, dust = hot_wallet_expected(opening=active), reconciliation_dust(currency)
                        if expected.low - dust <= balance <= expected.high + dust:
                            continue
                    opening = hot_wallet_opening_record(
                        network=network, address=address, currency=currency,
                        amount=balance, as_of=timezone.now(), actor=staff["treasury1"],
                        reason="Demo seed: the hot wallet's balance as funded by seed_demo")
                    work_order = WorkOrder.objects.get(type=WorkOrderType.HOT_WALLET_OPENING, object_id=opening.pk)
                    work_order_decide(work_order=work_order, actor=staff["treasury2"], decision="approve",
                                      comment="Demo seed: checked against the chain")
            except Exception as exc:  # noqa: BLE001 - a demo nicety, never a reason to fail the seed
                self.stderr.write(f"Opening balances on {network.code} skipped: {exc}")

    def _send_eth(self, w3, to: str, amount: Decimal) -> None:
        from eth_account import Account

        from chains.adapters.evm.adapter import to_wei

        sender = Account.from_key(ANVIL_DEV_KEY)
        tx = {"to": to, "value": to_wei(amount), "gas": 21000, "chainId": w3.eth.chain_id,
              "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
              "maxFeePerGas": w3.eth.gas_price * 2 + 10**9, "maxPriorityFeePerGas": 10**9}
        tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)

    def _fund_btc(self, network) -> None:
        try:
            from chains.adapters import adapter_for
            from chains.hot_wallets import hot_address

            backend = adapter_for(network).backend
            hot = hot_address(network)
            if not backend.utxos(hot) and hasattr(backend, "fund"):
                backend.fund(hot, 50_000_000)  # 0.5 BTC on the local test chain
            from withdrawals.pipeline.utxos import utxo_sync

            utxo_sync(network=network, address=hot, backend=backend)  # tracked in our database: spendable
        except Exception as exc:
            self.stderr.write(f"BTC test-chain funding skipped: {exc}")
