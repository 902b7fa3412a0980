"""Test-only fault injection: the worker fails at a named point of the pipeline.

Points: ``after_sign``, ``after_send``, ``during_sweep`` (each after a commit: for the sweep, the
first commit of a batch, an order's own move or else the batch's completions, all committed
together, before the next batch), and ``in_sign_transaction`` / ``in_settlement`` (inside the
transaction that stores the signed transaction, and inside the one that settles completions, the
sweep's batch of them or a single one, after all its writes and before it commits).

``WDC_FAULT=<point>`` makes the process SIGKILL itself every time it reaches that point;
``WDC_FAULT_FILE=<path>`` does it once, at the point named in that file, which is removed first
(a restarted worker then goes on). The file may say ``<point>:pg_terminate`` instead: the
database connection is then killed from outside (``pg_terminate_backend`` from a second
connection) and the process goes on, so its next query meets a dead connection mid-transaction.
Both unset in production: ``fault_point`` is then two dictionary lookups.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)


def fault_point(point: str) -> None:
    """Test hook: fail at ``point`` when asked to (see the module docstring)."""
    wanted, flag = os.environ.get("WDC_FAULT"), os.environ.get("WDC_FAULT_FILE")
    if not wanted and not flag:
        return  # production: nothing set
    mode = "kill"
    if wanted != point:
        if not flag:
            return
        try:
            with open(flag) as file:
                armed, _, mode = file.read().strip().partition(":")
            if armed != point:
                return
            os.remove(flag)  # once: a restarted worker goes on
        except FileNotFoundError:
            return
    if mode == "pg_terminate":
        _terminate_database_connection(point)
        return
    logger.warning("fault injection at %s: killing process %s", point, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


def _terminate_database_connection(point: str) -> None:
    """``pg_terminate_backend`` on this process's connection, sent over a second connection (as an
    operator or a failover would): the open transaction is lost, the server rolls it back."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()
    logger.warning("fault injection at %s: terminated database backend %s", point, backend)
