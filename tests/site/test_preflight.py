"""Bad configuration stops the console with one clear line per problem, never a stack trace."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from withdrawals_site import preflight

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_an_unreachable_database_url_gets_a_clear_message():
    result = run_manage("runconsole", "--check", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere",
                        ETH_RPC_URL="http://127.0.0.1:1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Configuration error:")]
    assert any("PostgreSQL" in line and "127.0.0.1:1" in line and "DATABASE_URL" in line for line in lines), lines
    assert any("ETH node" in line and "ETH_RPC_URL" in line for line in lines), lines
    assert "The console did not start." in result.stderr


def test_a_non_postgresql_database_url_is_refused_without_a_traceback():
    result = run_manage("runconsole", "--check", DATABASE_URL="mysql://root@127.0.0.1/console")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr


def test_a_good_configuration_passes_the_check():
    from tests.fixtures.worker import database_url
    from tests.site.test_production_start import production_secrets

    result = run_manage("runconsole", "--check", DATABASE_URL=database_url(settings.DATABASES["default"]),
                        REDIS_URL=settings.REDIS_URL, **production_secrets())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration OK" in result.stdout


def test_a_database_that_does_not_exist_says_so():
    db = {**settings.DATABASES["default"], "NAME": "no_such_database_here"}
    problem = preflight.check_database(db)
    assert problem is not None and "does not exist" in problem.message


def test_an_unreachable_redis_url():
    problem = preflight.check_redis("redis://:secret@127.0.0.1:1/0")
    assert problem.service == "Redis" and "cannot reach" in problem.message
    assert "secret" not in str(problem)  # passwords never printed


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("127.0.0.1:8545", "is not an http(s) URL"),
        ("http://127.0.0.1:1", "cannot reach"),
    ],
)
def test_bad_eth_rpc_urls(url, expected):
    problem = preflight.check_evm_rpc(url)
    assert problem is not None and expected in problem.message
    assert "ETH_RPC_URL" in str(problem)


def test_a_server_that_is_not_an_ethereum_node(redis_client):
    # Redis answers HTTP with an error / closes the connection: not a JSON-RPC node.
    kwargs = redis_client.connection_pool.connection_kwargs
    host, port = kwargs["host"], kwargs["port"]
    problem = preflight.check_evm_rpc(f"http://{host}:{port}")
    assert problem is not None


@pytest.mark.chain
def test_a_real_node_passes_and_its_chain_id_is_checked(anvil):
    assert preflight.check_evm_rpc(anvil.url) is None
    assert "expected 1" in preflight.check_evm_rpc(anvil.url, expected_chain_id=1).message
