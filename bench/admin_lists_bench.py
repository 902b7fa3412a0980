"""The admin at scale: the order list (default, filtered, searched by tx hash, its last page), the
order page, the desk (admin index) and the journal list, at 1k and 1M orders (2M journal entries).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wdc python bench/admin_lists_bench.py \
        [--sizes 1000,1000000] [--entries 2000000] [--rounds 5] [--keep]

Creates a scratch database ``<name>_adminbench`` on the server of DATABASE_URL (dropped at the end
unless ``--keep``), migrates it, and per size fills it with SQL ``generate_series`` (triggers off
for the load: ``session_replication_role = replica``; the journal entries carry no legs, so the
list's size column reads empty but its subquery still runs): orders spread over a year, 99.8 %
completed and the rest open in every state with their history rows, one candidate transaction
per sent order. Then ``ANALYZE`` and, for each page, the median of ``--rounds`` requests through
Django's test client (a superuser past the second factor) and its query count. The goal
(docs/PERFORMANCE.md, "Admin lists"): time at 1M ≤ 2 × time at 1k, the same number of queries.

``main()`` is the entry point (``python -m bench`` calls it).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def scratch_database_url(url: str, suffix: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "withdrawals") + suffix
    return urlunsplit(parts._replace(path="/" + name)), name


def admin_connection(url: str):
    import psycopg

    return psycopg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True)


def reference_data():
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from chains.models import Coin, Currency, Network
    from customers.models import Customer, Tenant
    from withdrawals.models import CustomerAddress

    eth, _ = Currency.objects.get_or_create(code="ETH", defaults={"name": "Ether", "decimals": 18})
    network, _ = Network.objects.update_or_create(code="ETH", defaults={
        "name": "bench", "kind": "evm", "native_currency": eth, "chain_id": 1,
        "explorer_tx_url": "https://etherscan.io/tx/{tx}"})
    coin, _ = Coin.objects.update_or_create(currency=eth, network=network, defaults={
        "decimals": 8, "min_amount": Decimal("0.001"), "max_amount": Decimal("100"), "daily_limit": Decimal("1e6"),
        "customer_fee": Decimal(0), "fee_currency": eth, "confirmations": 12, "network_fee_estimate": Decimal("0.001"),
        "chain_decimals": 18})
    tenant, _ = Tenant.objects.get_or_create(venue_code="HAS", defaults={"name": "Bench", "quote_currencies": ["USD"]})
    customers = []
    for n in range(50):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-customer-{n}")
        customer, _ = Customer.objects.get_or_create(user=user, defaults={
            "tenant": tenant, "reference": f"BENCH{n:04d}", "kyc_level": 3, "kyc_status": "approved"})
        CustomerAddress.objects.get_or_create(customer=customer, network=network, address=f"0x{n:040x}",
                                              defaults={"label": "bench", "status": "verified",
                                                        "verification_method": "signature"})
        customers.append(customer)
    admin = get_user_model().objects.filter(username="bench-admin").first() or \
        get_user_model().objects.create_superuser("bench-admin", "b@example.com", "bench-pass-1234")
    return coin, tenant, admin


def fill(cursor, *, orders: int, entries: int, coin_id: int, tenant_id: int) -> None:
    """Grow the tables to ``orders`` orders and ``entries`` journal entries (idempotent per size)."""
    cursor.execute("SET session_replication_role = replica")
    cursor.execute("SELECT count(*) FROM withdrawals_withdrawalorder")
    have = cursor.fetchone()[0]
    if have < orders:
        # Open states for 1 in 500 orders (in rotation), the others completed; newest ids newest.
        cursor.execute("""
            INSERT INTO withdrawals_withdrawalorder (customer_id, coin_id, address_id, destination, amount,
                customer_fee, network_fee_estimate, status, split, fee_reserved, fee_wanted, fee_paid, tx_hash,
                confirmations, block_hash, last_error, created_at, updated_at, completed_at)
            SELECT c.id, %(coin)s, a.id, a.address, (g %% 1000 + 1) / 100.0, 0, 0.001,
                   CASE WHEN g %% 500 = 0 THEN (ARRAY['pending_approval','approved','awaiting_fee',
                        'broadcasting','confirming','review_required'])[1 + (g / 500) %% 6] ELSE 'completed' END,
                   '[]', 0, 0, 0.0004, '0x' || md5(g::text) || md5((g + 1)::text), 12, '', '',
                   now() - ((%(n)s - g) * interval '31 seconds'), now() - ((%(n)s - g) * interval '31 seconds'),
                   CASE WHEN g %% 500 = 0 THEN NULL ELSE now() - ((%(n)s - g) * interval '31 seconds') END
            FROM generate_series(%(have)s + 1, %(n)s) g
            JOIN customers_customer c ON c.reference = 'BENCH' || lpad((g %% 50)::text, 4, '0')
            JOIN withdrawals_customeraddress a ON a.customer_id = c.id
        """, {"coin": coin_id, "have": have, "n": orders})
        cursor.execute("""
            INSERT INTO withdrawals_withdrawalstatuschange (order_id, from_status, to_status, reason, at)
            SELECT id, 'pending_approval', status, 'bench', created_at FROM withdrawals_withdrawalorder
            WHERE id > (SELECT coalesce(max(order_id), 0) FROM withdrawals_withdrawalstatuschange)
              AND status <> 'completed'
        """)
        cursor.execute("""
            INSERT INTO withdrawals_withdrawaltransaction (order_id, tx_hash, raw, sender, nonce, max_fee, fee_bump,
                meta, state, send_attempts, ever_accepted, broadcast_uncertain, created_at)
            SELECT id, tx_hash, '0x00', '0xbench', id, 0.001, 0, '{}',
                   CASE WHEN status = 'completed' THEN 'confirmed' ELSE 'sent' END, 1, true, false, created_at
            FROM withdrawals_withdrawalorder o
            WHERE id > (SELECT coalesce(max(order_id), 0) FROM withdrawals_withdrawaltransaction)
              AND status IN ('completed', 'broadcasting', 'confirming')
        """)
    cursor.execute("SELECT count(*) FROM ledger_entry")
    have = cursor.fetchone()[0]
    if have < entries:
        cursor.execute("""
            INSERT INTO ledger_entry (reference, kind, tenant_id, currency, request, memo, created_at)
            SELECT 'withdrawal:' || (g / 2) || ':' || CASE WHEN g %% 2 = 0 THEN 'hold' ELSE 'settle' END,
                   CASE WHEN g %% 2 = 0 THEN 'hold' ELSE 'settle' END, %(tenant)s, 'ETH', '{}', '',
                   now() - ((%(n)s - g) * interval '15 seconds')
            FROM generate_series(%(have)s + 1, %(n)s) g
        """, {"tenant": tenant_id, "have": have, "n": entries})
    cursor.execute("SET session_replication_role = origin")
    cursor.execute("ANALYZE")


def measure(client, url: str, rounds: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm
    times = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times) * 1000, len(queries)


def pages(cursor, coin_id: int) -> dict[str, str]:
    from django.urls import reverse

    from core.admin_paging import max_rows

    cursor.execute("SELECT id, tx_hash FROM withdrawals_withdrawalorder ORDER BY id LIMIT 1 OFFSET 10")
    order_id, tx_hash = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM withdrawals_withdrawalorder")
    last_page = min(cursor.fetchone()[0], max_rows()) // 100 - 1  # the admin's p is 0-based
    orders = reverse("admin:withdrawals_withdrawalorder_changelist")
    return {
        "desk (admin index)": reverse("admin:index"),
        "order list": orders,
        "order list, status filter": orders + "?status__exact=completed",
        "order list, amount and coin": orders + f"?amount=1-5&coin__id__exact={coin_id}",
        "order list, search tx hash": orders + f"?q={tx_hash}",
        "order list, search tx prefix": orders + f"?q={tx_hash[:12]}",
        "order list, search customer": orders + "?q=BENCH0007",
        "order list, last page": orders + f"?p={last_page}",
        "order page": reverse("admin:withdrawals_withdrawalorder_change", args=[order_id]),
        "journal list": reverse("admin:ledger_journalentry_changelist"),
        "journal list, search reference": (reverse("admin:ledger_journalentry_changelist")
                                           + f"?q=withdrawal:{order_id}:"),
    }


def verified_client(admin):
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from core.field_crypto import field_encrypt
    from core.second_factor import VERIFIED_AT_SESSION_KEY
    from staff.models import StaffTotpDevice

    device = StaffTotpDevice.objects.filter(user=admin).first() or StaffTotpDevice.objects.create(
        user=admin, name="bench", confirmed=True, secret_encrypted=field_encrypt("JBSWY3DPEHPK3PXP"))
    client = Client()
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[VERIFIED_AT_SESSION_KEY] = time.time() + 10 ** 6  # stays fresh for the run
    session.save()
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--entries", type=int, default=2_000_000, help="journal entries at the largest size")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1k and 10k orders, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.entries, args.rounds = "1000,10000", 20_000, 1
    base = os.environ.get("DATABASE_URL", "")
    if not base:
        print("DATABASE_URL is required (a PostgreSQL server where a scratch database may be created).")
        return 2
    url, name = scratch_database_url(base, "_adminbench")
    with admin_connection(base) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ["DEBUG"] = "true"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]
    try:
        call_command("migrate", verbosity=0)
        coin, tenant, admin = reference_data()
        client = verified_client(admin)
        sizes = [int(s) for s in args.sizes.split(",")]
        results: dict[int, dict[str, tuple[float, int]]] = {}
        for size in sizes:
            entries = max(size * 2, 2000) if size != max(sizes) else args.entries
            started = time.perf_counter()
            with connection.cursor() as cursor:
                fill(cursor, orders=size, entries=entries, coin_id=coin.pk, tenant_id=tenant.pk)
                urls = pages(cursor, coin.pk)
            print(f"# {size:,} orders, {entries:,} journal entries (filled in {time.perf_counter() - started:.0f} s)")
            results[size] = {label: measure(client, page_url, args.rounds) for label, page_url in urls.items()}
        small, large = sizes[0], sizes[-1]
        print(f"\nMachine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, PostgreSQL {connection.pg_version // 10000}")
        print(f"\n| page | {small:,}: ms (queries) | {large:,}: ms (queries) | ratio |")
        print("|---|---:|---:|---:|")
        worst = 0.0
        for label in results[small]:
            (t1, q1), (t2, q2) = results[small][label], results[large][label]
            worst = max(worst, t2 / t1)
            print(f"| {label} | {t1:.1f} ({q1}) | {t2:.1f} ({q2}) | {t2 / t1:.2f}× |")
        same = all(results[small][k][1] == results[large][k][1] for k in results[small])
        print(f"\nworst ratio {worst:.2f}× (goal ≤ 2×); same queries at both sizes: {same}")
        return 0 if worst <= 2 and same else 1
    finally:
        connection.close()
        if not args.keep:
            with admin_connection(base) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
