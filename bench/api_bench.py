"""POST /api/v1/withdrawals/ through gunicorn against pgbench TPC-B at the same client counts.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wdc python -m bench api \
        [--clients 8,32] [--seconds 15] [--customers 6000] [--rounds 2] [--workers NPROC] [--quick]

A scratch database ``<name>_apibench`` (dropped at the end), migrated, with one ETH coin and
CUSTOMERS customers, each with KYC approved, an API token, a TOTP device of its own (its own
secret, encrypted as the App's enrolment stores it), a verified address past its cool-down and
funds on two instruments (bulk deposits). gunicorn serves ``withdrawals_site.wsgi`` with WORKERS
sync workers (default: one per core, as ``runconsole``), DEBUG off, on the Redis of REDIS_URL.

The client is one asyncio process (aiohttp) with CLIENTS concurrent connections. Each request
takes the customer that has waited longest and sends the code of the current 30 s step, computed
from that customer's secret: the OTP check stays real, and a code is good once per customer and
step, so a customer is used at most once per step (the pool must hold rate × 30 s customers; if
it runs dry the client waits for the next step and says so). Every request has its own
Idempotency-Key. A request counts as done when it is answered 201.

Reported per run: requests/s (201s), p50/p90/p99 latency, non-201 answers; the baseline is
pgbench TPC-B at the same client count, run just before. Targets: >= 0.25x TPC-B, p99 < 100 ms at
8 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DEBUG"] = "0"

from bench.common import (  # noqa: E402
    Baseline,
    drop_database,
    machine_line,
    ratio,
    ready_customers,
    recreate_database,
    write_result,
)


def seed(count: int) -> list[dict]:
    """The coin and COUNT ready customers; returns [{"token", "secret", "address_id"}]."""
    from rest_framework.authtoken.models import Token

    from chains.models import Coin, Currency, Network
    from customers.models import Tenant
    from ledger.services import Deposit, ledger_deposit_batch

    eth, _ = Currency.objects.get_or_create(code="ETH", defaults={"name": "Ether", "decimals": 18})
    network, _ = Network.objects.update_or_create(
        code="ETH", defaults={"name": "bench", "kind": "evm", "native_currency": eth,
                              "rpc_url": "http://127.0.0.1:9", "chain_id": 31337, "confirmations": 12})
    Coin.objects.update_or_create(
        currency=eth, network=network,
        defaults={"enabled": True, "decimals": 8, "chain_decimals": 18, "fee_cap": Decimal("0.01"),
                  "min_amount": Decimal("0.0001"), "max_amount": Decimal("100"), "daily_limit": Decimal("1000000"),
                  "customer_fee": Decimal("0.0001"), "fee_currency": eth, "confirmations": 12})
    tenant, _ = Tenant.objects.get_or_create(venue_code="HAS", defaults={"name": "Bench Broker",
                                                                         "quote_currencies": ["USD", "HKD"]})
    ready = ready_customers(tenant=tenant, network=network, count=count, prefix="app")
    tokens = Token.objects.bulk_create([Token(user=r["user"], key=Token.generate_key()) for r in ready])
    deposits = [Deposit(customer=c, currency="ETH", quote=q, amount=Decimal(a), reference=f"seed-{c.pk}-{q}")
                for c in (r["customer"] for r in ready) for q, a in (("USD", "50"), ("HKD", "40"))]
    for at in range(0, len(deposits), 1000):
        ledger_deposit_batch(deposits=deposits[at:at + 1000])
    return [{"token": t.key, "secret": r["secret"], "address_id": r["address_id"]}
            for t, r in zip(tokens, ready, strict=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(database_url: str, workers: int, port: int, log: Path, conn_max_age: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, DEBUG="0", LOG_LEVEL="WARNING",
               DB_CONN_MAX_AGE=str(conn_max_age))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "withdrawals_site.wsgi", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--backlog", "512", "--timeout", "60"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


async def _load(url: str, pool: collections.deque, clients: int, seconds: float) -> dict:
    import aiohttp
    import pyotp

    latencies: list[float] = []
    failures: collections.Counter = collections.Counter()
    samples: list[str] = []
    waited = 0.0
    deadline = time.monotonic() + seconds
    counter = 0

    async def one_client(session):
        nonlocal waited, counter
        while time.monotonic() < deadline:
            step = int(time.time()) // 30
            customer = pool[0]
            if customer["last_step"] >= step:  # the oldest was used in this step: so were all
                pause = (step + 1) * 30 - time.time() + 0.05
                waited += pause
                await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                continue
            pool.popleft()
            customer["last_step"] = step
            pool.append(customer)
            code = pyotp.TOTP(customer["secret"]).at(step * 30)
            counter += 1
            body = {"currency": "ETH", "network": "ETH", "address_id": customer["address_id"], "amount": "0.001",
                    "otp": code}
            headers = {"Authorization": f"Token {customer['token']}", "Idempotency-Key": f"k{time.time_ns()}-{counter}"}
            started = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as answer:
                text = await answer.read()
                elapsed = time.perf_counter() - started
            if answer.status == 201:
                latencies.append(elapsed)
            else:
                failures[answer.status] += 1
                if len(samples) < 5:
                    samples.append(f"{answer.status} {text[:200]!r}")

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(one_client(session) for _ in range(clients)))
        elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else None

    return {"requests_per_s": len(latencies) / elapsed, "ok": len(latencies), "failed": dict(failures),
            "failure_samples": samples, "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": round(latencies[-1] * 1000, 1) if latencies else None, "waited_for_a_step_s": round(waited, 1),
            "seconds": round(elapsed, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="8,32")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn workers (default: cores)")
    parser.add_argument("--conn-max-age", type=int, default=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
                        help="DB_CONN_MAX_AGE of the web workers (0: a new PostgreSQL connection per request)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 8 clients, 2 s, 100 customers, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.seconds, args.customers, args.rounds = "8", 2, 100, 1
    clients = [int(c) for c in args.clients.split(",")]
    # Scratch keys for this run only: the production start refuses the development ones.
    from cryptography.fernet import Fernet
    from django.utils.crypto import get_random_string

    os.environ["SECRET_KEY"] = get_random_string(50)
    os.environ["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()

    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    base_url = os.environ["DATABASE_URL"]
    db["NAME"] = f"{db['NAME']}_apibench"
    scratch_url = base_url.rsplit("/", 1)[0] + "/" + db["NAME"]
    recreate_database(db, db["NAME"])
    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    server = None
    try:
        call_command("migrate", verbosity=0, skip_checks=True)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        started = time.perf_counter()
        pool = collections.deque(dict(c, last_step=0) for c in seed(args.customers))
        print(f"{args.customers} customers seeded in {time.perf_counter() - started:.0f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        connections.close_all()
        port = free_port()
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"apibench-gunicorn-{port}.log"
        server = start_gunicorn(scratch_url, args.workers, port, log, args.conn_max_age)
        url = f"http://127.0.0.1:{port}/api/v1/withdrawals/"
        asyncio.run(_load(url, pool, 2, 1.0))  # warm the workers (imports, connections)
        runs = []
        with Baseline(db, "api", scale=1 if args.quick else 10) as baseline:
            for number in range(args.rounds):
                for count in clients:
                    base = baseline.measure(count, args.seconds)
                    result = asyncio.run(_load(url, pool, count, args.seconds))
                    run = {"round": number + 1, "clients": count, "pgbench_tps": base["tps"],
                           "ratio": ratio(result["requests_per_s"], base["tps"]), **result}
                    runs.append(run)
                    print(f"  POST withdrawals clients={count:<2} req/s={result['requests_per_s']:8.1f} "
                          f"ratio={run['ratio']:.2f}x p50={result['p50_ms']} ms p99={result['p99_ms']} ms "
                          f"failed={result['failed']} waited={result['waited_for_a_step_s']} s", flush=True)
                    for sample in result["failure_samples"]:
                        print(f"    {sample}")
        write_result("api", {"postgres": version, "quick": args.quick, "workers": args.workers,
                             "conn_max_age": args.conn_max_age,
                             "customers": args.customers, "seconds": args.seconds, "runs": runs,
                             "target": ">= 0.25x pgbench TPC-B tps at the same clients; p99 < 100 ms at 8 clients"})
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        connections.close_all()
        drop_database(db, db["NAME"])


def render(result: dict) -> str:
    lines = [f"Measured {machine_line(result)}. gunicorn with {result['workers']} sync workers "
             f"(DB_CONN_MAX_AGE={result.get('conn_max_age')}), "
             f"{result['customers']:,} customers (own TOTP secret each), {result['seconds']} s per run.", "",
             "| round | clients | pgbench TPC-B tps | POST withdrawals/s | ratio | p50 | p90 | p99 | non-201 |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["runs"]:
        lines.append(f"| {r['round']} | {r['clients']} | {r['pgbench_tps']:,.0f} | {r['requests_per_s']:,.1f} | "
                     f"**{r['ratio']:.2f}×** | {r['p50_ms']} ms | {r['p90_ms']} ms | **{r['p99_ms']} ms** | "
                     f"{r['failed'] or 'none'} |")
    lines += ["", f"Target: {result['target']}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
