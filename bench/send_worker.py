"""The real Celery worker, started by ``bench/send_bench.py`` with a meter attached (bench only).

    python -m bench.send_worker -A withdrawals_site worker ...   (the arguments of ``celery``)

It is ``celery`` itself (``celery.__main__.main``), after connecting three signal handlers in
this process (the solo pool runs the tasks here):

* before each task, an execute wrapper on the default database connection counts the SQL
  statements the task sends through Django's cursor (savepoints included; the ledger's posting
  calls go through the wrapper whenever one is installed; BEGIN/COMMIT are not statements here);
* the same wrapper times the statements (seconds waiting for PostgreSQL: its work, lock waits
  such as the nonce allocator's row, and the round trip);
* web3's HTTP provider is timed: JSON-RPC calls to the node and the seconds spent in them;
* after each task, one JSON line goes to ``$SENDBENCH_LOG``: task, args, outcome, statements,
  RPC calls, seconds in the node, the task's wall time and this process's CPU during it
  (with ``SENDBENCH_SQL_SAMPLE=1`` also the statements of the worker's first send task).

Nothing of the project is changed: the same task code, settings and start path as ``celery
-A withdrawals_site worker``. Not used outside the benchmark.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class _Meter:
    def __init__(self):
        self.queries = 0
        self.rpc = 0
        self.rpc_seconds = 0.0
        self.sql_seconds = 0.0
        self.statements: list[str] | None = None  # the SQL of one send task, with SENDBENCH_SQL_SAMPLE=1
        self.sampled = False
        self.started = 0.0
        self.cpu = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        if self.statements is not None:
            self.statements.append(" ".join(str(sql).split())[:120])
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql_seconds += time.perf_counter() - started


METER = _Meter()


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def install(log_path: str) -> None:
    from celery.signals import task_postrun, task_prerun
    from web3.providers.rpc import HTTPProvider

    original = HTTPProvider.make_request

    def timed_request(self, method, params):
        started = time.perf_counter()
        try:
            return original(self, method, params)
        finally:
            METER.rpc += 1
            METER.rpc_seconds += time.perf_counter() - started

    HTTPProvider.make_request = timed_request
    if hasattr(HTTPProvider, "make_batch_request"):
        original_batch = HTTPProvider.make_batch_request

        def timed_batch(self, requests):
            started = time.perf_counter()
            try:
                return original_batch(self, requests)
            finally:
                METER.rpc += 1
                METER.rpc_seconds += time.perf_counter() - started

        HTTPProvider.make_batch_request = timed_batch

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - one line per task, for the life of the worker
    name = os.environ.get("SENDBENCH_WORKER", str(os.getpid()))

    @task_prerun.connect(weak=False)
    def _before(task_id=None, task=None, **kwargs):
        from django.db import connections

        connection = connections["default"]
        if METER not in connection.execute_wrappers:
            connection.execute_wrappers.append(METER)
        METER.queries, METER.rpc, METER.rpc_seconds, METER.sql_seconds = 0, 0, 0.0, 0.0
        METER.started, METER.cpu = time.perf_counter(), _cpu()
        sample = (os.environ.get("SENDBENCH_SQL_SAMPLE") == "1" and not METER.sampled and task is not None
                  and task.name == "chains.withdrawal_send")
        METER.statements = [] if sample else None

    @task_postrun.connect(weak=False)
    def _after(task_id=None, task=None, args=None, retval=None, state=None, **kwargs):
        outcome = retval.get("outcome") if isinstance(retval, dict) else None
        log.write(json.dumps({"worker": name, "task": task.name if task else None, "args": list(args or []),
                              "state": state, "outcome": outcome, "queries": METER.queries, "rpc": METER.rpc,
                              "rpc_s": round(METER.rpc_seconds, 6), "sql_s": round(METER.sql_seconds, 6),
                              "wall_s": round(time.perf_counter() - METER.started, 6),
                              "cpu_s": round(_cpu() - METER.cpu, 6), "t": time.time(),
                              **({"sql": METER.statements} if METER.statements is not None else {})}) + "\n")
        if METER.statements is not None:
            METER.sampled, METER.statements = True, None


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
    log_path = os.environ.get("SENDBENCH_LOG")
    if log_path:
        install(log_path)
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *sys.argv[1:]]
    celery_main()


if __name__ == "__main__":
    main()
