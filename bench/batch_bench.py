"""Batched postings against pgbench TPC-B, on the same PostgreSQL, in one run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wdc python -m bench batch \
        [--customers 1000] [--orders 5000] [--batch 1000] [--rounds 2] [--quick]

A scratch database ``<name>_batchbench`` (dropped at the end), migrated, one tenant:

* **bulk deposits**: CUSTOMERS customers funded on two ETH instruments by
  ``ledger_deposit_batch`` (BATCH deposits per call and per commit): deposits/s.
* **settlement of completions**: ORDERS holds (one ``ledger_hold`` each, not timed), then their
  settlement by ``ledger_settle_batch``, BATCH per call and per commit, as a sweep settles the
  orders it completes: settlements/s. One client, as the sweep is one process per network.

The baseline is pgbench TPC-B at 1 and at 8 clients, run before and after; the ratio is taken
against the best TPC-B figure of the run (the stricter one). Target: settlements/s >= 3x TPC-B tps.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DEBUG", "0")

from bench.common import Baseline, drop_database, machine_line, ratio, recreate_database, write_result  # noqa: E402


def seed_customers(count: int):
    from django.contrib.auth import get_user_model

    from chains.models import Currency
    from customers.models import Customer, Tenant

    Currency.objects.get_or_create(code="ETH", defaults={"name": "Ether", "decimals": 18})
    tenant, _ = Tenant.objects.get_or_create(venue_code="HAS", defaults={"name": "Bench Broker",
                                                                         "quote_currencies": ["USD", "HKD"]})
    users = get_user_model().objects.bulk_create([get_user_model()(username=f"bench{i}") for i in range(count)])
    return Customer.objects.bulk_create(
        [Customer(user=u, tenant=tenant, reference=f"B{i:07d}", kyc_status="approved") for i, u in enumerate(users)])


def timed_deposits(customers, batch: int, tag: str) -> float:
    from ledger.services import Deposit, ledger_deposit_batch

    items = [Deposit(customer=c, currency="ETH", quote=quote, amount=Decimal(amount),
                     reference=f"dep-{tag}-{c.pk}-{quote}")
             for c in customers for quote, amount in (("USD", "1000"), ("HKD", "800"))]
    started = time.perf_counter()
    for at in range(0, len(items), batch):
        ledger_deposit_batch(deposits=items[at:at + batch])
    elapsed = time.perf_counter() - started
    rate = len(items) / elapsed
    print(f"  bulk deposits  {len(items):>6} in batches of {batch}: {rate:9.1f}/s", flush=True)
    return rate


def timed_settlements(customers, orders: int, batch: int, tag: str) -> tuple[float, float]:
    """(settlements/s through ledger_settle_batch, settlements/s one by one through ledger_settle
    on a tenth of them, for comparison)."""
    from ledger.services import Settlement, ledger_hold, ledger_settle, ledger_settle_batch

    rng = random.Random(tag)
    held = []
    for i in range(orders):
        customer = rng.choice(customers)
        split = ledger_hold(customer=customer, currency="ETH", amount=Decimal("0.0011"), reference=f"h-{tag}-{i}")
        held.append(Settlement(customer=customer, currency="ETH", split=split, customer_fee=Decimal("0.0001"),
                               reference=f"s-{tag}-{i}"))
    single = held[: max(1, orders // 10)]
    started = time.perf_counter()
    for s in single:
        ledger_settle(customer=s.customer, currency=s.currency, split=s.split, customer_fee=s.customer_fee,
                      reference=s.reference)
    one_by_one = len(single) / (time.perf_counter() - started)
    rest = held[len(single):]
    started = time.perf_counter()
    for at in range(0, len(rest), batch):
        ledger_settle_batch(settlements=rest[at:at + batch])
    elapsed = time.perf_counter() - started
    rate = len(rest) / elapsed
    print(f"  settlements    {len(rest):>6} in batches of {batch}: {rate:9.1f}/s   (one by one: {one_by_one:7.1f}/s)",
          flush=True)
    return rate, one_by_one


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8, help="length of each pgbench run")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 customers, 200 orders, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.orders, args.batch, args.rounds, args.seconds = 50, 200, 50, 1, 1

    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    db["NAME"] = f"{db['NAME']}_batchbench"
    recreate_database(db, db["NAME"])
    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    try:
        call_command("migrate", verbosity=0, skip_checks=True)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        customers = seed_customers(args.customers)
        rounds = []
        with Baseline(db, "batch", scale=1 if args.quick else 10) as baseline:
            for number in range(args.rounds):
                base = [baseline.measure(1, args.seconds), baseline.measure(8, args.seconds)]
                deposits = timed_deposits(customers, args.batch, f"r{number}")
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE ledger_account")
                settled, one_by_one = timed_settlements(customers, args.orders, args.batch, f"r{number}")
                best = max(b["tps"] for b in base)
                rounds.append({"round": number + 1, "pgbench": base, "best_tps": best,
                               "deposits_per_s": deposits, "deposits_ratio": ratio(deposits, best),
                               "settlements_per_s": settled, "settlements_ratio": ratio(settled, best),
                               "settlements_one_by_one_per_s": one_by_one})
                print(f"  round {number + 1}: settlements/s {settled:.0f} = {ratio(settled, best):.2f}x TPC-B "
                      f"{best:.0f} tps; deposits/s {deposits:.0f} = {ratio(deposits, best):.2f}x", flush=True)
        from ledger.selectors import ledger_check

        problems = ledger_check()
        print(f"ledger_check after the run: {'healthy' if not problems else problems[:5]}")
        write_result("batch", {"postgres": version, "quick": args.quick, "customers": args.customers,
                               "orders": args.orders, "batch": args.batch, "rounds": rounds,
                               "ledger_check": "healthy" if not problems else [str(p) for p in problems[:5]],
                               "target": "settlements/s >= 3x pgbench TPC-B tps"})
        if problems:
            raise SystemExit("ledger_check found problems after the run")
    finally:
        connections.close_all()
        drop_database(db, db["NAME"])


def render(result: dict) -> str:
    lines = [f"Measured {machine_line(result)}. {result['customers']:,} customers, {result['orders']:,} orders per "
             f"round, batches of {result['batch']}; one client.", "",
             "| round | TPC-B tps 1 / 8 clients | settlements/s (batch) | ratio to best TPC-B | one by one/s "
             "| bulk deposits/s | ratio |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rounds"]:
        tps = " / ".join(f"{b['tps']:,.0f}" for b in r["pgbench"])
        lines.append(f"| {r['round']} | {tps} | {r['settlements_per_s']:,.0f} | **{r['settlements_ratio']:.2f}×** | "
                     f"{r['settlements_one_by_one_per_s']:,.0f} | {r['deposits_per_s']:,.0f} | "
                     f"{r['deposits_ratio']:.2f}× |")
    lines += ["", f"`ledger_check()` after the run: {result.get('ledger_check')}. Target: {result.get('target')}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
