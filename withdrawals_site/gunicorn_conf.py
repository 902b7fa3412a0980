"""gunicorn settings of ``manage.py runconsole`` (``--config python:withdrawals_site.gunicorn_conf``),
for production too: prometheus-client's multiprocess mode needs a dead worker's files marked, so
its live gauges stop counting (its counters and histograms are kept, summed into /metrics)."""

import os


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
