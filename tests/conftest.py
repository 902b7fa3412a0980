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
