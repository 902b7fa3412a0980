"""The confirmation sweep over 100, 1,000 and 10,000 confirming orders against a real anvil node.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wdc python bench/sweep_bench.py \
        [--sizes 100,1000,10000] [--hashes 500] [--batch 500] [--rounds 3] [--keep]

Creates a scratch database ``<name>_sweepbench`` on the server of DATABASE_URL (dropped at the
end unless ``--keep``), migrates it, and starts its own anvil node (or uses ``--rpc URL``). It
sends HASHES real ETH transfers, then for each size creates that many confirming orders directly
in the database (bulk insert), each pointing at one of the real transactions, round robin, with a
required depth they never reach. Per size it times ``withdrawals.pipeline.sweep.pipeline_sweep`` and counts
its SQL queries in three situations:

* ``first``: every order's confirmations change (0 → n): the bulk progress update writes them all;
* ``next block``: one block mined, every order moves on by one: the same;
* ``idle``: nothing changed on chain: reads only.

It also times a sweep that COMPLETES orders (``--complete`` sizes, default 100,1000): each order
settles the ledger, the completions of one batch together (``withdrawal_complete_batch``: one
transaction, one ``ledger_settle_batch`` and one ``ledger_fee_book_batch`` call per batch).

Figures belong in docs/PERFORMANCE.md ("Sweep").
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from decimal import Decimal
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

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


# --- building the orders --------------------------------------------------------------------------

def make_reference_data(rpc_url: str, *, depth: int):
    """Network, ETH coin (required depth ``depth``), a customer with a verified address."""
    from django.contrib.auth import get_user_model

    from chains.models import Coin, Currency, Network
    from customers.models import Customer, Tenant
    from withdrawals.models import CustomerAddress

    eth, _ = Currency.objects.get_or_create(code="ETH", defaults={"name": "Ether", "decimals": 18})
    network, _ = Network.objects.update_or_create(
        code="ETH", defaults={"name": "bench anvil", "kind": "evm", "native_currency": eth, "rpc_url": rpc_url,
                              "chain_id": 31337, "confirmations": depth})
    coin, _ = Coin.objects.update_or_create(
        currency=eth, network=network,
        defaults={"enabled": True, "decimals": 8, "chain_decimals": 18, "fee_cap": Decimal("0.01"),
                  "min_amount": Decimal("0.001"), "max_amount": Decimal("100"),
                  "daily_limit": Decimal("100000"), "customer_fee": Decimal("0"), "fee_currency": eth,
                  "confirmations": depth})
    tenant, _ = Tenant.objects.get_or_create(venue_code="HAS", defaults={"name": "Bench", "quote_currencies": ["USD"]})
    user, _ = get_user_model().objects.get_or_create(username="bench-customer")
    customer, _ = Customer.objects.get_or_create(
        user=user, defaults={"tenant": tenant, "reference": "BENCH1", "kyc_level": 3, "kyc_status": "approved"})
    address, _ = CustomerAddress.objects.get_or_create(
        customer=customer, network=network, address="0x" + "ab" * 20,
        defaults={"label": "bench", "status": "verified", "verification_method": "signature"})
    return coin, customer, address


def bulk_confirming_orders(*, coin, customer, address, tx_hashes: list[str], count: int,
                           split: list[dict] | None = None, amount: Decimal = Decimal("0.001"),
                           fee_reserved: Decimal = Decimal("0")) -> list[int]:
    """``count`` confirming orders created directly in the database (no services, no ledger),
    pointing at ``tx_hashes`` round robin. Returns their ids. For benchmarks and query-count tests."""
    from withdrawals.models import WithdrawalOrder

    rows = [WithdrawalOrder(customer=customer, coin=coin, address=address, destination=address.address,
                            amount=amount, customer_fee=Decimal("0"), network_fee_estimate=Decimal("0.0001"),
                            status=WithdrawalOrder.Status.CONFIRMING, tx_hash=tx_hashes[i % len(tx_hashes)],
                            split=split or [], fee_reserved=fee_reserved)
            for i in range(count)]
    return [o.pk for o in WithdrawalOrder.objects.bulk_create(rows, batch_size=2000)]


def send_real_transactions(w3, count: int) -> list[str]:
    """``count`` plain ETH transfers from anvil's first (unlocked) account, mined."""
    sender = w3.eth.accounts[0]
    w3.provider.make_request("evm_setAutomine", [False])
    hashes, first_nonce = [], w3.eth.get_transaction_count(sender, "pending")
    try:
        for start in range(0, count, 100):
            calls = [("eth_sendTransaction", [{"from": sender, "to": "0x" + f"{i + 0x10000:040x}", "value": hex(1),
                                             "nonce": hex(first_nonce + i)}])
                     for i in range(start, min(count, start + 100))]
            answers = w3.provider.make_batch_request(calls)
            if any("result" not in a for a in answers):
                raise RuntimeError(f"anvil refused a transfer: {[a for a in answers if 'result' not in a][0]}")
            hashes += [a["result"] for a in answers]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    w3.provider.make_request("anvil_mine", [hex(1)])
    while w3.eth.get_transaction_receipt(hashes[-1]) is None:  # pragma: no cover - anvil mines at once
        w3.provider.make_request("anvil_mine", [hex(1)])
    return hashes


# --- measuring ----------------------------------------------------------------------------------

class _Counter:
    """Counts SQL statements (no cap, unlike CaptureQueriesContext) and time spent in the node."""

    def __init__(self):
        self.queries = 0
        self.node_seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)


def timed_sweep(batch_size: int) -> tuple[float, int, float, dict]:
    """(seconds, SQL statements, seconds waiting for the node's tx_statuses, report)."""
    from django.db import connection

    from chains.adapters.evm.adapter import EvmAdapter
    from withdrawals.pipeline.sweep import pipeline_sweep

    counter = _Counter()
    original = EvmAdapter.tx_statuses

    def timed_statuses(self, hashes):
        started = time.perf_counter()
        try:
            return original(self, hashes)
        finally:
            counter.node_seconds += time.perf_counter() - started

    EvmAdapter.tx_statuses = timed_statuses
    try:
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            report = pipeline_sweep(batch_size=batch_size)
            elapsed = time.perf_counter() - started
    finally:
        EvmAdapter.tx_statuses = original
    return elapsed, counter.queries, counter.node_seconds, report.as_dict()


def machine() -> str:
    import multiprocessing

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg,) = cursor.fetchone()
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.system()} {platform.release()}, {multiprocessing.cpu_count()} CPUs ({cpu}), "
            f"Python {platform.python_version()}, PostgreSQL {pg}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--complete", default="100,1000", help="sizes of the completing sweep ('' to skip)")
    parser.add_argument("--hashes", type=int, default=500, help="real transactions the orders point at")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="timed repetitions of each situation (median)")
    parser.add_argument("--rpc", default="", help="an anvil node to use instead of starting one")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 and 200 orders, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.complete, args.hashes, args.rounds = "50,200", "20", 50, 1

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url:
        sys.exit("Set DATABASE_URL (the scratch database is created on that server).")
    url, name = scratch_database_url(base_url, "_sweepbench")
    with admin_connection(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url

    anvil = None
    rpc_url = args.rpc
    if not rpc_url:
        from core.embedded import free_port, start_anvil

        port = free_port()
        anvil = start_anvil(port=port, log=Path("/tmp") / f"sweepbench-anvil-{port}.log")
        rpc_url = f"http://127.0.0.1:{port}"
    try:
        run(args, rpc_url)
    finally:
        if anvil is not None:
            import signal

            os.killpg(anvil.pid, signal.SIGTERM)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with admin_connection(base_url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args, rpc_url: str) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from bench.common import Baseline, ratio, write_result

    call_command("migrate", verbosity=0)
    db = settings.DATABASES["default"]
    with Baseline(db, "sweep", scale=1 if args.quick else 10) as baseline:
        results = _run(args, rpc_url, baseline)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    tps = max(b["tps"] for b in results["baseline"])
    for row in results["sweeps"]:
        row["orders_per_s_vs_tps"] = ratio(row["size"] / row["seconds"], tps)
    for row in results["completions"]:
        row["completions_per_s_vs_tps"] = ratio(row["size"] / row["seconds"], tps)
    write_result("sweep", {"postgres": version, "quick": args.quick, "batch": args.batch, "rounds": args.rounds,
                           "hashes": args.hashes, **results})


def render(result: dict) -> str:
    """The docs/PERFORMANCE.md section of this benchmark, from its JSON."""
    from bench.common import machine_line

    base = ", ".join(f"{b['tps']:,.0f}" for b in result["baseline"])
    lines = [f"Measured {machine_line(result)}. Batch {result['batch']}, median of {result['rounds']} rounds; "
             f"baseline pgbench TPC-B at 1 client in the same run: {base} tps (the ratio is orders swept per "
             "second over the best of these).", "",
             "| orders | situation | sweep | per order | of which node | queries | batches | orders/s ÷ TPC-B tps |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["sweeps"]:
        lines.append(f"| {r['size']:,} | {r['situation']} | {r['seconds'] * 1000:,.0f} ms | "
                     f"{r['seconds'] / r['size'] * 1e6:,.0f} µs | {r['node_seconds'] * 1000:,.0f} ms | "
                     f"{r['queries']} | "
                     f"{r['batches']} | {r['orders_per_s_vs_tps']:.2f}× |")
    if result.get("completions"):
        lines += ["", "Sweeps that complete orders (each settles the ledger):", "",
                  "| orders completed | sweep | per order | queries | queries per order | completions/s ÷ TPC-B tps |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for r in result["completions"]:
            lines.append(f"| {r['size']:,} | {r['seconds'] * 1000:,.0f} ms | {r['seconds'] / r['size'] * 1e3:.1f} ms | "
                         f"{r['queries']:,} | {r['queries'] / r['size']:.1f} | {r['completions_per_s_vs_tps']:.2f}× |")
    return "\n".join(lines)


def _run(args, rpc_url: str, baseline) -> dict:
    from chains.adapters.evm.adapter import web3_for
    from ledger.services import ledger_deposit, ledger_hold, ledger_transfer
    from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange

    w3 = web3_for(rpc_url)
    print(f"machine: {machine()}")
    started = time.perf_counter()
    hashes = send_real_transactions(w3, args.hashes)
    print(f"{len(hashes)} real transactions sent and mined in {time.perf_counter() - started:.1f}s; "
          f"batch size {args.batch}; median of {args.rounds} rounds")
    coin, customer, address = make_reference_data(rpc_url, depth=10**9)

    results = {"baseline": [baseline.measure(1, 3 if args.quick else 8)], "sweeps": [], "completions": []}
    print("\n| orders | situation | sweep time | per order | of which node (tx_statuses) | queries | batches |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in [int(s) for s in args.sizes.split(",") if s]:
        WithdrawalOrder.objects.all().delete()
        bulk_confirming_orders(coin=coin, customer=customer, address=address, tx_hashes=hashes, count=size)
        for situation in ("first", "next block", "idle"):
            times, counts, node, report = [], [], [], {}
            for _ in range(1 if situation == "first" else args.rounds):
                if situation == "next block":
                    w3.provider.make_request("anvil_mine", [hex(1)])  # every order moves on by one
                elapsed, count, node_seconds, report = timed_sweep(args.batch)
                times.append(elapsed)
                counts.append(count)
                node.append(node_seconds)
            median = statistics.median(times)
            print(f"| {size:,} | {situation} | {median * 1000:.0f} ms | {median / size * 1e6:.0f} µs | "
                  f"{statistics.median(node) * 1000:.0f} ms | {max(counts)} | {report['batches']} |", flush=True)
            results["sweeps"].append({"size": size, "situation": situation, "seconds": median,
                                      "node_seconds": statistics.median(node), "queries": max(counts),
                                      "batches": report["batches"]})
            if situation != "idle":
                assert report["progressed"] == size, report

    sizes = [int(s) for s in args.complete.split(",") if s]
    if sizes:
        print("\n| orders completed | sweep time | per order | queries | queries per order |")
        print("|---:|---:|---:|---:|---:|")
        from chains.models import Coin

        Coin.objects.filter(pk=coin.pk).update(confirmations=1)
        coin.refresh_from_db()
        tenant = customer.tenant
        ledger_transfer(tenant=tenant, currency="ETH", amount=Decimal("1000"), kind="main_topup",
                        reference="bench-main")
        for size in sizes:
            WithdrawalStatusChange.objects.all().delete()
            WithdrawalOrder.objects.all().delete()
            ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("0.001") * size,
                           reference=f"bench-dep-{size}")
            ids = bulk_confirming_orders(coin=coin, customer=customer, address=address, tx_hashes=hashes,
                                         count=size)
            for order_id in ids:  # a real hold per order, so settling posts real ledger entries
                split = ledger_hold(customer=customer, currency="ETH", amount=Decimal("0.001"),
                                    reference=f"withdrawal:{order_id}:hold")
                WithdrawalOrder.objects.filter(pk=order_id).update(split=[line.as_dict() for line in split])
            elapsed, count, _node, report = timed_sweep(args.batch)
            assert report["completed"] == size, report
            print(f"| {size:,} | {elapsed * 1000:.0f} ms | {elapsed / size * 1e6:.0f} µs | {count} | "
                  f"{count / size:.1f} |", flush=True)
            results["completions"].append({"size": size, "seconds": elapsed, "queries": count})
    results["baseline"].append(baseline.measure(1, 3 if args.quick else 8))
    return results


if __name__ == "__main__":
    main()
