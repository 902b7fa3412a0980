"""Ledger holds/s against pgbench TPC-B tps, on the same PostgreSQL, in one run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wdc python bench/ledger_bench.py \
        [--seconds 10] [--clients 1,8] [--scale 10] [--customers 1000] [--rounds 1]

Uses the server of DATABASE_URL (or the embedded PostgreSQL of the Django settings) and creates
two scratch databases on it, dropped at the end (``--keep`` keeps them):

* ``<name>_pgbench``: ``pgbench -i -s SCALE`` then the built-in TPC-B-like script for each
  client count (``-j`` = min(clients, nproc), ``-T SECONDS``, no reconnects).
* ``<name>_ledgerbench``: migrated, one tenant, CUSTOMERS customers each funded on two ETH
  instruments; then each client (a separate process with its own connection, so the GIL does not
  serialise them) calls ``ledger.services.ledger_hold`` in a loop for SECONDS on random customers,
  with a unique reference each time. A hold is one statement in autocommit (one function call)
  that writes 1 entry, 2 legs and 2 balances (securities records are a view over the legs).

The same hold is also run by pgbench itself (a script calling ``ledger_post_hold``), which
separates the database side's cost from the Python client's. pgbench and ledger runs alternate
per client count (and per round with ``--rounds``), so a
change of load on a shared machine hits both alike. Prints holds/s, tps and the ratio per client
count, and the CPU per transaction of the server backends and of the clients (steadier than the
rates on a shared host). The figures belong in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    CPU,
    CpuMeter,
    drop_database,
    init_pgbench,
    libpq_env,
    machine,
    machine_line,
    pgbench_path,
    ratio,
    record_cpu,
    recreate_database,
    run_pgbench,
    write_result,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DEBUG", "0")  # as in production: no query log kept per connection


# --- ledger ------------------------------------------------------------------------------------

def seed(customers: int) -> list[int]:
    from django.contrib.auth import get_user_model

    from chains.models import Currency
    from customers.models import Customer, Tenant
    from ledger.services import ledger_deposit

    Currency.objects.get_or_create(code="ETH", defaults={"name": "Ether", "decimals": 18})
    tenant, _ = Tenant.objects.get_or_create(venue_code="HAS", defaults={"name": "Bench Broker",
                                                                         "quote_currencies": ["USD", "HKD"]})
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench{i}") for i in range(customers)])
    rows = Customer.objects.bulk_create(
        [Customer(user=u, tenant=tenant, reference=f"B{i:07d}", kyc_status="approved") for i, u in enumerate(users)])
    for customer in rows:
        for quote, amount in (("USD", "1000000"), ("HKD", "800000")):
            ledger_deposit(customer=customer, currency="ETH", quote=quote, amount=Decimal(amount),
                           reference=f"bench-seed-{customer.pk}-{quote}")
    return [c.pk for c in rows]


def hold_worker(worker: int, customer_ids: list[int], seconds: float, start_at: float, queue) -> None:
    from django.db import connection

    from customers.models import Customer
    from ledger.services import ledger_hold

    connection.close()  # a connection of its own, never the parent's
    customers = list(Customer.objects.filter(pk__in=customer_ids))
    rng = random.Random(worker)
    amount = Decimal("0.0001")
    prefix = f"bench-{os.getpid()}-{time.time_ns()}"
    while time.time() < start_at:
        time.sleep(0.001)
    done = 0
    deadline = start_at + seconds
    while time.time() < deadline:
        ledger_hold(customer=rng.choice(customers), currency="ETH", amount=amount, reference=f"{prefix}-{done}")
        done += 1
    connection.close()
    queue.put(done)


def run_ledger(db: dict, count: int, customer_ids: list[int], seconds: int) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 1.0 + 0.1 * count  # every process connected before the clock starts
    procs = [context.Process(target=hold_worker, args=(i, customer_ids, seconds, start_at, queue))
             for i in range(count)]
    with CpuMeter(db, db["NAME"]) as meter:
        for proc in procs:
            proc.start()
        total = sum(queue.get() for _ in procs)
        for proc in procs:
            proc.join()
    rate = total / seconds
    cpu = record_cpu("ledger", count, meter, total)  # client: the workers, set-up included
    print(f"  ledger holds   clients={count:<2} holds/s={rate:9.1f}{cpu}", flush=True)
    return rate


def run_hold_sql(db: dict, name: str, *, count: int, seconds: int, customer_ids: list[int], tenant_id: int) -> float:
    """The same hold, called by pgbench itself (no Python): the database side's own rate."""
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"ledger_hold_{os.getpid()}.sql"
    script.write_text(
        f"\\set c random({min(customer_ids)}, {max(customer_ids)})\n"
        f"SELECT * FROM ledger_post_hold(:c, {tenant_id}, 'ETH', 0.0001, "
        f"'sql-' || :client_id || '-' || clock_timestamp()::text, "
        f"jsonb_build_object('op', 'hold', 'customer', :c, 'currency', 'ETH', 'amount', '0.0001'));\n")
    jobs = max(1, min(count, os.cpu_count() or 1))
    try:
        with CpuMeter(db, name) as meter:
            out = subprocess.run([pgbench_path(), "-n", "-c", str(count), "-j", str(jobs), "-T", str(seconds),
                                  "-f", str(script), name], env=libpq_env(db), check=True, capture_output=True,
                                 text=True).stdout
    finally:
        script.unlink(missing_ok=True)
    match = re.search(r"tps = ([\d.]+)", out)
    rate = float(match.group(1)) if match else 0.0
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    cpu = record_cpu("sql", count, meter, int(done.group(1)) if done else 0)
    print(f"  hold in SQL    clients={count:<2} holds/s={rate:9.1f}{cpu}  (pgbench calling ledger_post_hold)",
          flush=True)
    return rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (branches)")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="repeat the measurements (each round is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 s, 8 clients, 50 customers, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.clients, args.customers, args.rounds, args.scale = 1, "8", 50, 1, 1
    clients = [int(c) for c in args.clients.split(",")]

    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    base = db["NAME"]
    pg_db, ledger_db = f"{base}_pgbench", f"{base}_ledgerbench"
    db["NAME"] = ledger_db  # before Django opens any connection
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    recreate_database(db, pg_db)
    recreate_database(db, ledger_db)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        print(f"machine: {machine()}\npostgres: {version}\npgbench: {pgbench_path()}")
        print(f"seconds={args.seconds} rounds={args.rounds} clients={clients} pgbench scale={args.scale} "
              f"ledger customers={args.customers}", flush=True)
        call_command("migrate", verbosity=0, skip_checks=True)
        customer_ids = seed(args.customers)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        init_pgbench(db, pg_db, scale=args.scale)
        # Interleaved (pgbench, ledger, SQL) per client count and per round, so that a change in the
        # load of a shared machine hits all alike; every round is reported, the ratio per round.
        from customers.models import Tenant

        tenant_id = Tenant.objects.get(venue_code="HAS").pk
        rounds = []
        for number in range(args.rounds):
            for count in clients:
                CPU.clear()
                tps = run_pgbench(db, pg_db, count=count, seconds=args.seconds)
                holds = run_ledger(db, count, customer_ids, args.seconds)
                in_sql = run_hold_sql(db, ledger_db, count=count, seconds=args.seconds,
                                      customer_ids=customer_ids, tenant_id=tenant_id)
                cpu = {run: {"server_us": round(CPU[(run, count)][0]), "client_us": round(CPU[(run, count)][1])}
                       for run in ("pgbench", "ledger", "sql") if (run, count) in CPU}
                rounds.append({"round": number + 1, "clients": count, "pgbench_tps": tps, "holds_per_s": holds,
                               "ratio": ratio(holds, tps), "sql_holds_per_s": in_sql,
                               "sql_ratio": ratio(in_sql, tps), "cpu": cpu})
        print("\nround clients  pgbench tps  ledger holds/s  ratio   | hold in SQL/s  ratio")
        for r in rounds:
            print(f"{r['round']:>5} {r['clients']:>7}  {r['pgbench_tps']:>11.1f}  {r['holds_per_s']:>14.1f}  "
                  f"{r['ratio']:5.2f}x  | {r['sql_holds_per_s']:>13.1f}  {r['sql_ratio']:5.2f}x")
        from ledger.selectors import ledger_check

        problems = ledger_check()
        print(f"ledger_check after the run: {'healthy' if not problems else problems[:5]}")
        write_result("ledger", {"postgres": version, "seconds": args.seconds, "quick": args.quick,
                                "customers": args.customers, "pgbench_scale": args.scale, "rounds": rounds,
                                "ledger_check": "healthy" if not problems else [str(p) for p in problems[:5]],
                                "target": "holds/s >= 1.0x pgbench TPC-B tps at 8 clients"})
        if problems:
            raise SystemExit("ledger_check found problems after the run")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(db, pg_db)
            drop_database(db, ledger_db)


def render(result: dict) -> str:
    """The docs/PERFORMANCE.md section of this benchmark, from its JSON."""
    lines = [f"Measured {machine_line(result)}. {result['seconds']} s per run, {result['customers']:,} funded "
             "customers."
             if not result.get("quick") else f"Quick smoke run, {machine_line(result)}.",
             "",
             "| round | clients | pgbench TPC-B tps | ledger holds/s (Python) | ratio | hold in SQL/s (pgbench) "
             "| ratio "
             "| CPU µs/txn TPC-B (server+client) | hold Python | hold SQL |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rounds"]:
        cpu = r.get("cpu", {})

        def both(run, cpu=cpu):
            c = cpu.get(run)
            return f"{c['server_us']} + {c['client_us']}" if c else "–"

        lines.append(f"| {r['round']} | {r['clients']} | {r['pgbench_tps']:,.0f} | {r['holds_per_s']:,.0f} | "
                     f"**{r['ratio']:.2f}×** | {r['sql_holds_per_s']:,.0f} | {r['sql_ratio']:.2f}× | "
                     f"{both('pgbench')} | {both('ledger')} | {both('sql')} |")
    lines += ["", f"`ledger_check()` after the run: {result.get('ledger_check')}. Target: {result.get('target')}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
