"""Checks run before the console starts: each service it needs answers, or one clear line says
what is wrong and how to fix it (never a stack trace).

``preflight_problems()`` returns the problems; ``preflight_or_exit()`` prints them and exits
with status 2. ``manage.py runconsole`` calls it first; ``manage.py runconsole --check`` runs it
alone.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT = 3.0  # seconds per service
# DATABASES OPTIONS that are libpq connection parameters (the others are Django's own).
_LIBPQ_OPTIONS = {"host", "sslmode", "sslrootcert", "sslcert", "sslkey", "options", "application_name",
                  "target_session_attrs", "passfile", "service"}


@dataclass(frozen=True)
class Problem:
    service: str  # database, redis, ETH node, ...
    setting: str  # the environment variable to look at
    message: str

    def __str__(self) -> str:
        return f"{self.service}: {self.message} (check {self.setting})"


def _redact(url: str) -> str:
    """The URL without its password, fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def check_database(db: dict) -> Problem | None:
    """Connect to the configured PostgreSQL database with a short timeout."""
    import psycopg

    from core import embedded

    setting = "DATABASE_URL" if _env("DATABASE_URL") else f"the embedded PostgreSQL under {embedded.VAR_DIR}"
    params = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k in _LIBPQ_OPTIONS}
    params.update({k: v for k, v in (("host", db.get("HOST")), ("port", db.get("PORT")), ("user", db.get("USER")),
                                     ("password", db.get("PASSWORD"))) if v})
    host = params.get("host") or "localhost"
    where = f"{db.get('NAME')} at {host}:{params.get('port') or 5432}"
    try:
        conn = psycopg.connect(dbname=db.get("NAME") or "postgres", connect_timeout=int(TIMEOUT), **params)
    except psycopg.OperationalError as exc:
        text = " ".join(str(exc).split())
        if "does not exist" in text:
            reason = f"database {db.get('NAME')!r} does not exist on the server; create it (createdb) or fix the name"
        elif "password authentication failed" in text or "no password supplied" in text:
            reason = f"the server refused user {db.get('USER')!r}: wrong user or password"
        elif "Connection refused" in text or "No such file or directory" in text:
            reason = "nothing accepts connections there (connection refused); is PostgreSQL running?"
        elif "timeout" in text.lower():
            reason = f"no answer within {TIMEOUT:.0f}s"
        elif "could not translate host name" in text or "Name or service not known" in text:
            reason = f"unknown host {host!r}"
        else:
            reason = text[:200]
        return Problem("PostgreSQL", setting, f"cannot connect to {where}: {reason}")
    except Exception as exc:  # noqa: BLE001 - any failure becomes one line
        return Problem("PostgreSQL", setting, f"cannot connect to {where}: {exc}")
    with conn:
        version = conn.info.server_version
    if version < 140000:
        return Problem("PostgreSQL", setting, f"server version {version // 10000} is too old; 14 or newer is needed")
    return None


def check_redis(url: str) -> Problem | None:
    import redis

    setting = "REDIS_URL" if _env("REDIS_URL") else "the embedded Redis (WDC_REDIS_PORT)"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    except ValueError as exc:
        return Problem("Redis", setting, f"{_redact(url)} is not a Redis URL: {exc}")
    try:
        client.ping()
    except redis.AuthenticationError:
        return Problem("Redis", setting, f"{_redact(url)} refused the credentials")
    except redis.RedisError as exc:
        return Problem("Redis", setting, f"cannot reach {_redact(url)}: {' '.join(str(exc).split())[:200]}")
    finally:
        client.close()
    return None


def check_evm_rpc(url: str, *, setting: str = "ETH_RPC_URL", expected_chain_id: int | None = None) -> Problem | None:
    """Ask an EVM JSON-RPC endpoint for its chain id."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return Problem("ETH node", setting, f"{_redact(url)!r} is not an http(s) URL, e.g. http://127.0.0.1:8545")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) checked above
            answer = json.loads(response.read())
        chain_id = int(answer["result"], 16)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Problem("ETH node", setting, f"cannot reach {_redact(url)}: {reason}")
    except (ValueError, KeyError, TypeError):
        return Problem("ETH node", setting, f"{_redact(url)} answered, but not as an Ethereum JSON-RPC node")
    if expected_chain_id is not None and chain_id != expected_chain_id:
        return Problem("ETH node", setting, f"{_redact(url)} is chain {chain_id}, expected {expected_chain_id}")
    return None


def check_url_reachable(url: str, *, service: str, setting: str) -> Problem | None:
    """For nodes without a cheap protocol probe here: a well-formed URL whose port accepts TCP."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return Problem(service, setting, f"{_redact(url)!r} is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=TIMEOUT):
            return None
    except OSError as exc:
        return Problem(service, setting, f"cannot reach {_redact(url)}: {exc}")


def check_production_secrets() -> Problem | None:
    """With DEBUG off, the development SECRET_KEY and a missing (or malformed) FIELD_ENCRYPTION_KEY
    stop every start path: one problem naming everything to set. With DEBUG on, nothing."""
    from django.conf import settings

    if settings.DEBUG:
        return None
    missing = []
    if settings.SECRET_KEY == settings.DEFAULT_SECRET_KEY or settings.SECRET_KEY.startswith("django-insecure"):
        missing.append("SECRET_KEY is the development default (set 50+ random characters)")
    if not settings.FIELD_ENCRYPTION_KEY:
        missing.append("FIELD_ENCRYPTION_KEY is unset (a Fernet key: "
                       "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')")
    else:
        from cryptography.fernet import Fernet

        try:
            Fernet(settings.FIELD_ENCRYPTION_KEY)
        except (ValueError, TypeError):
            missing.append("FIELD_ENCRYPTION_KEY is not a Fernet key (urlsafe base64 of 32 bytes)")
    if not missing:
        return None
    why = "DATABASE_URL is set" if not settings.EMBEDDED_DEMO else "DEBUG is set off"
    return Problem("Production", "SECRET_KEY, FIELD_ENCRYPTION_KEY; or DEBUG=1 on a development machine",
                   f"DEBUG is off ({why}) and " + "; ".join(missing))


DEMOTE_COMMAND = "manage.py staff_demote_superusers"


def active_superusers() -> list[str]:
    """Usernames of the active superusers (none before the first migration)."""
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError

    try:
        return list(get_user_model().objects.filter(is_superuser=True, is_active=True)
                    .order_by("username").values_list("username", flat=True))
    except DatabaseError:  # not migrated yet (or no database): no account to refuse
        return []


def check_superusers() -> Problem | None:
    """With DEBUG off (outside the demo) an active superuser stops every start path: it holds every
    permission at once and could change groups, flows and settings without the four-eyes flows.
    The fix is a tightening change, so it applies at once: ``manage.py staff_demote_superusers``."""
    from django.conf import settings

    if settings.DEBUG:
        return None
    names = active_superusers()
    if not names:
        return None
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return Problem("Production", f"{DEMOTE_COMMAND} {' '.join(names[:10])}; or DEBUG=1 on a development machine",
                   f"DEBUG is off and {len(names)} active superuser(s) exist ({shown}): a superuser bypasses "
                   "the roles and the four-eyes flows; demote them (staff roles instead, docs/ROLES.md)")


def production_problems() -> list[Problem]:
    """What stops every start path in production: development secrets, an active superuser."""
    return [p for p in (check_production_secrets(), check_superusers()) if p is not None]


def production_or_exit(*, stream=None) -> None:
    """The check every start path makes (runconsole, wsgi, Celery worker and beat): one
    ``Configuration error:`` line and exit status 2 when DEBUG is off and a secret is missing,
    then (secrets in order) when an active superuser exists."""
    problem = check_production_secrets() or check_superusers()
    if problem is None:
        return
    print(f"Configuration error: {problem}", file=stream or sys.stderr)
    raise SystemExit(2)


def check_network_chain_ids(*, include_embedded: bool = False) -> list[Problem]:
    """Each EVM Network row's ``chain_id`` against its node's ``eth_chainId``: a console pointed at
    another chain than its rows say must not start (the pipeline also refuses to sign then).

    Networks on the embedded anvil are skipped unless ``include_embedded`` (runconsole checks them
    again once it has started anvil). Before the first migration there are no rows to check."""
    from django.conf import settings
    from django.db import DatabaseError

    from chains.models import Network

    try:
        networks = list(Network.objects.filter(kind=Network.Kind.EVM).order_by("code"))
    except DatabaseError:  # not migrated yet: nothing configured to compare with
        return []
    problems = []
    for network in networks:
        url = network.rpc_url or settings.CHAIN_RPC_URLS.get(network.code, "")
        embedded_node = not network.rpc_url and settings.ETH_RPC_EMBEDDED
        if not url or (embedded_node and not include_embedded):
            continue
        setting = (f"the chain id of network {network.code} in the admin, or "
                   + ("its RPC URL" if network.rpc_url else "ETH_RPC_URL"))
        problem = check_evm_rpc(url, setting=setting, expected_chain_id=network.chain_id)
        if problem:
            problems.append(Problem(f"{network.code} node", problem.setting, problem.message))
    return problems


def preflight_problems(*, chains: bool = True) -> list[Problem]:
    """Everything that stops the console from starting, as a list of one-line problems."""
    from django.conf import settings

    problems: list[Problem] = []
    problem = check_production_secrets()
    if problem:
        problems.append(problem)
    problem = check_database(settings.DATABASES["default"])
    if problem:
        problems.append(problem)
    else:  # the database answers: an active superuser outside the demo stops the start
        problem = check_superusers()
        if problem:
            problems.append(problem)
    problem = check_redis(settings.REDIS_URL)
    if problem:
        problems.append(problem)
    if chains:
        eth = _env("ETH_RPC_URL")
        if eth:  # unset: runconsole starts the embedded anvil
            problem = check_evm_rpc(eth)
            if problem:
                problems.append(problem)
        for code, setting in (("BTC", "BTC_RPC_URL"), ("TRON", "TRON_RPC_URL")):
            url = _env(setting)
            if url:  # unset: the adapter's offline backend
                problem = check_url_reachable(url, service=f"{code} node", setting=setting)
                if problem:
                    problems.append(problem)
        if not problems:  # the database answers: its networks' chain ids against their nodes
            problems.extend(check_network_chain_ids())
    return problems


def superuser_warnings(*, debug: bool | None = None) -> list[str]:
    """Outside DEBUG (i.e. not the demo), an active superuser: every start path refuses to start
    (``check_superusers``); ``manage.py check`` only warns, so that migrate and the demote command
    still run. It holds every permission of every role at once (the approvals engine still refuses
    it any decision outside its groups, but it may edit groups, flows and settings alone)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError

    if settings.DEBUG if debug is None else debug:
        return []
    try:
        names = list(get_user_model().objects.filter(is_superuser=True, is_active=True)
                     .order_by("username").values_list("username", flat=True)[:10])
    except DatabaseError:  # not migrated yet: nothing to warn about
        return []
    if not names:
        return []
    return [f"DEBUG is off and {len(names)} active superuser(s) exist ({', '.join(names)}): the console refuses "
            f"to start; give staff roles instead (docs/ROLES.md) and run {DEMOTE_COMMAND} (the demo's 'admin' "
            "is for the demo only)."]


def superuser_check(app_configs=None, **kwargs):
    """``manage.py check --deploy``: the superuser warning as a system check."""
    from django.core.checks import Warning as CheckWarning

    return [CheckWarning(text, id="withdrawals_site.W001") for text in superuser_warnings()]


def preflight_or_exit(*, chains: bool = True, stream=None) -> None:
    """Print each problem on one line to stderr and exit with status 2; return when all is well."""
    problems = preflight_problems(chains=chains)
    stream = stream or sys.stderr
    if not problems:
        return
    for problem in problems:
        print(f"Configuration error: {problem}", file=stream)
    print("The console did not start. See README.md, 'Configuration'.", file=stream)
    raise SystemExit(2)


def _env(name: str) -> str:
    import os

    return os.environ.get(name, "").strip()
