"""The proof command's scenarios (``scripts/proof``, docs/RELIABILITY.md): faults that take
minutes or a server of their own. Collected only when ``PROOF=1`` (the script sets it); the
normal suite deselects them (deselected, not skipped: nothing here is silently left out of a
run that asked for it)."""

import os


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PROOF") == "1":
        return
    here = os.path.dirname(__file__)
    proof = [item for item in items if str(item.path).startswith(here)]
    if proof:
        config.hook.pytest_deselected(items=proof)
        items[:] = [item for item in items if item not in proof]


from tests.withdrawals.conftest import otp_bypass  # noqa: E402, F401 - the scenarios request many orders
