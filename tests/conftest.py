"""Shared test setup. Fixture modules live in tests/fixtures/ and are registered here."""

import os

import pytest

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.factories",
    "tests.fixtures.anvil",
    "tests.fixtures.worker",
    "tests.fixtures.pipeline",
    "tests.fixtures.staff",
    "tests.fixtures.csp",
]


def require_service(name: str, reason: str) -> None:
    """Skip a test whose service is missing, except under CI, where it must fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required under CI and is not available: {reason}")
    pytest.skip(f"{name} not available: {reason}")


@pytest.fixture(autouse=True)
def otp_clock(monkeypatch):
    """One-time codes are checked against a clock pinned mid-step for the whole test: a code a
    test computes stays valid however slow the machine is (the step never turns under it)."""
    import time

    from withdrawals.services import otp

    pinned = float(int(time.time()) // 30 * 30 + 15)
    monkeypatch.setattr(otp, "otp_now", lambda: pinned)
    return pinned


def pytest_configure(config):
    """Each test run gets its own cache namespace, so throttle counters never leak between runs."""
    import uuid

    from django.conf import settings

    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
    # The offline BTC chain mines only when a test says so (workers inherit this too).
    os.environ.setdefault("BTC_TEST_BLOCK_SECONDS", "0")


@pytest.fixture(autouse=True, scope="session")
def _flush_retries_a_deadlock():
    """A transactional test ends with a TRUNCATE of every table while the real Celery worker of
    the pipeline tests may still be finishing a task on the same database: PostgreSQL then aborts
    one side as a deadlock. The flush is retried (the worker's transaction has ended by then), so
    no leftover rows leak into the next test."""
    import time as _time

    from django.db import OperationalError
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        for attempt in range(5):
            try:
                return original(self, sql_list)
            except OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                _time.sleep(0.2 * (attempt + 1))

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original
