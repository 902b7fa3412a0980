"""A safe production start: DEBUG off unless the embedded demo runs, every start path (runconsole,
gunicorn's wsgi, the Celery worker and beat) refuses the development secrets in one line, demo
data never lands in a database holding anything else, only the worker sees hot keys, and
``check --deploy`` is clean with a production environment."""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from withdrawals_site import preflight
from withdrawals_site import settings as site_settings
from withdrawals_site.management.commands import runconsole

ROOT = Path(__file__).resolve().parents[2]


def production_secrets() -> dict[str, str]:
    return {"SECRET_KEY": secrets.token_urlsafe(50)[:50] + "Aa1!",
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode()}


def base_env(**values: str) -> dict[str, str]:
    """Our environment without the variables a test decides itself."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "HEALTH_TOKEN", "ALLOWED_HOSTS"}
           and not k.startswith(("SECURE_", "SESSION_COOKIE_", "CSRF_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "withdrawals_site.settings", "PYTHONUNBUFFERED": "1"})
    env.update(values)
    return env


def run(command: list[str], env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Configuration error:")]


def test_debug_is_on_for_the_embedded_demo_only_and_an_explicit_debug_wins():
    assert site_settings.debug_from({}) is True
    assert site_settings.debug_from({"DATABASE_URL": "postgresql://db/console"}) is False
    assert site_settings.debug_from({"DATABASE_URL": "postgresql://db/console", "DEBUG": "1"}) is True
    assert site_settings.debug_from({"DEBUG": "false"}) is False


def test_the_secrets_check(settings):
    settings.DEBUG = False
    settings.SECRET_KEY, settings.FIELD_ENCRYPTION_KEY = settings.DEFAULT_SECRET_KEY, ""
    problem = preflight.check_production_secrets()
    assert "SECRET_KEY is the development default" in str(problem) and "FIELD_ENCRYPTION_KEY is unset" in str(problem)
    settings.SECRET_KEY = "django-insecure-" + "x" * 50
    assert "SECRET_KEY" in str(preflight.check_production_secrets())
    settings.SECRET_KEY, settings.FIELD_ENCRYPTION_KEY = "s" * 60, "not-a-fernet-key"
    assert "not a Fernet key" in str(preflight.check_production_secrets())
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    assert preflight.check_production_secrets() is None
    settings.DEBUG, settings.SECRET_KEY, settings.FIELD_ENCRYPTION_KEY = True, settings.DEFAULT_SECRET_KEY, ""
    assert preflight.check_production_secrets() is None  # a development machine


@pytest.fixture
def db_url(django_db_setup):
    from tests.fixtures.worker import database_url

    return database_url(settings.DATABASES["default"])


@pytest.mark.parametrize("start", [
    pytest.param([sys.executable, "manage.py", "runconsole", "--check"], id="runconsole"),
    pytest.param([sys.executable, "-m", "gunicorn", "withdrawals_site.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
                 id="gunicorn"),
    pytest.param([sys.executable, "-m", "celery", "-A", "withdrawals_site", "worker", "--pool", "solo", "-Q",
                  f"never-{uuid.uuid4().hex}", "-l", "warning"], id="celery-worker"),
    pytest.param([sys.executable, "-m", "celery", "-A", "withdrawals_site", "beat", "-l", "warning"], id="celery-beat"),
])
def test_every_start_path_refuses_the_development_secrets_in_one_line(start, db_url):
    result = run(start, base_env(DATABASE_URL=db_url, REDIS_URL=settings.REDIS_URL))
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stdout + result.stderr
    assert "SECRET_KEY" in lines[0] and "FIELD_ENCRYPTION_KEY" in lines[0]


def test_importing_the_settings_with_debug_off_checks_nothing(db_url):
    """The test suite and management commands other than the start paths still run."""
    result = run([sys.executable, "manage.py", "check"], base_env(DATABASE_URL=db_url, REDIS_URL=settings.REDIS_URL))
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_is_clean_with_a_production_environment(db_url):
    env = base_env(DATABASE_URL=db_url, REDIS_URL=settings.REDIS_URL, DEBUG="0", ALLOWED_HOSTS="console.example",
                   CSRF_TRUSTED_ORIGINS="https://console.example", SECURE_PROXY_SSL_HEADER="1",
                   SECURE_SSL_REDIRECT="1", SECURE_HSTS_PRELOAD="1", HEALTH_TOKEN=secrets.token_urlsafe(32),
                   **production_secrets())
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr and "System check identified no issues" in result.stdout


def test_secure_cookies_are_on_unless_debug(db_url):
    code = ("from django.conf import settings as s; "
            "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
            "s.SECURE_HSTS_SECONDS)")
    command = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    production = run(command, base_env(DATABASE_URL=db_url))
    assert production.stdout.split() == ["False", "True", "True", "True", "31536000"], production.stderr
    opted_out = run(command, base_env(DATABASE_URL=db_url, SESSION_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="60"))
    assert opted_out.stdout.split() == ["False", "False", "True", "True", "60"], opted_out.stderr


# --- demo data only where it belongs -----------------------------------------------------------

@pytest.fixture
def foreign_database(django_db_setup):
    """A database of its own on the same server, holding something the console did not create."""
    db = settings.DATABASES["default"]
    params = {k: v for k, v in (("host", db.get("HOST")), ("port", db.get("PORT")), ("user", db.get("USER")),
                                ("password", db.get("PASSWORD"))) if v}
    name = f"wdc_foreign_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def connect():
        return psycopg.connect(dbname=name, autocommit=True, **params)

    from tests.fixtures.worker import database_url

    try:
        yield {"url": database_url({**db, "NAME": name}), "connect": connect}
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tables(connect) -> dict[str, int]:
    with connect() as conn:
        names = [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def test_runconsole_refuses_a_database_with_a_foreign_table_and_writes_nothing(foreign_database):
    with foreign_database["connect"]() as conn:
        conn.execute("CREATE TABLE payroll (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO payroll VALUES (1, 'someone')")
    before = tables(foreign_database["connect"])
    env = base_env(DATABASE_URL=foreign_database["url"], REDIS_URL=settings.REDIS_URL, **production_secrets())
    result = run([sys.executable, "manage.py", "runconsole", "--demo"], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result)
    assert len(lines) == 1 and "payroll" in lines[0] and "not a demo database" in lines[0], lines
    assert tables(foreign_database["connect"]) == before == {"payroll": 1}  # no django_migrations, nothing


def test_runconsole_refuses_a_database_with_a_user_the_demo_did_not_create(foreign_database):
    with foreign_database["connect"]() as conn:
        conn.execute("CREATE TABLE auth_user (id int PRIMARY KEY, username text)")
        conn.execute("INSERT INTO auth_user VALUES (1, 'ops1'), (2, 'cfo')")
    env = base_env(DATABASE_URL=foreign_database["url"], REDIS_URL=settings.REDIS_URL, **production_secrets())
    result = run([sys.executable, "manage.py", "runconsole", "--demo"], env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = error_lines(result)
    assert len(lines) == 1 and "'cfo'" in lines[0], lines
    assert tables(foreign_database["connect"]) == {"auth_user": 2}


def test_runconsole_without_debug_or_secrets_refuses_in_one_line_and_writes_nothing(foreign_database):
    with foreign_database["connect"]() as conn:
        conn.execute("CREATE TABLE payroll (id int PRIMARY KEY)")
    result = run([sys.executable, "manage.py", "runconsole"],
                 base_env(DATABASE_URL=foreign_database["url"], REDIS_URL=settings.REDIS_URL))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(error_lines(result)) == 1, result.stdout + result.stderr
    assert tables(foreign_database["connect"]) == {"payroll": 0}


def test_seed_demo_needs_demo_when_database_url_is_set(foreign_database):
    env = base_env(DATABASE_URL=foreign_database["url"], REDIS_URL=settings.REDIS_URL, DEBUG="1")
    result = run([sys.executable, "manage.py", "seed_demo"], env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = error_lines(result)
    assert len(lines) == 1 and "--demo" in lines[0], lines
    assert tables(foreign_database["connect"]) == {}


@pytest.mark.django_db
def test_the_console_schema_and_demo_users_pass_the_demo_check(django_user_model):
    from django.db import connection

    from withdrawals_site.demo import demo_database_problem

    django_user_model.objects.create_user("alice")
    assert demo_database_problem(connection) is None
    django_user_model.objects.create_user("carol")
    assert "'carol'" in demo_database_problem(connection)


# --- what each child of runconsole sees ----------------------------------------------------------

def test_only_the_worker_sees_hot_keys(tmp_path):
    key_file = tmp_path / "hot_keys.json"
    key_file.write_text('{"ETH": "11"}')
    environ = {"HOT_KEY_ETH": "ab" * 32, "HOT_KEY_BTC": "cd" * 32, "HOT_KEYS_FILE": str(key_file),
               "DATABASE_URL": "postgresql://db/console", "PATH": "/usr/bin"}
    worker = runconsole.child_environment("worker", environ)
    assert worker["HOT_KEY_ETH"] == "ab" * 32 and worker["HOT_KEYS_FILE"] == str(key_file)
    for name in ("web", "beat"):
        env = runconsole.child_environment(name, environ)
        assert not [v for v in env if v.startswith("HOT_KEY_")]
        assert not Path(env["HOT_KEYS_FILE"]).exists()  # not the demo's default key file either
        assert env["DATABASE_URL"] == environ["DATABASE_URL"] and env["PATH"] == "/usr/bin"
    assert runconsole.child_environment("web", {})["HOT_KEYS_FILE"] == runconsole.NO_HOT_KEYS_FILE
    assert environ["HOT_KEY_ETH"]  # the parent's environment is not changed


def test_a_web_process_with_the_filtered_environment_reads_no_key(tmp_path, db_url):
    key_file = tmp_path / "hot_keys.json"
    key_file.write_text('{"ETH": "' + "11" * 32 + '"}')
    env = runconsole.child_environment("web", base_env(DATABASE_URL=db_url, HOT_KEYS_FILE=str(key_file),
                                                       HOT_KEY_ETH="22" * 32))
    code = ("import django; django.setup()\n"
            "from chains.hot_wallets import HotKeyMissing, hot_key\n"
            "try:\n    hot_key('ETH')\nexcept HotKeyMissing:\n    print('no key')\n")
    result = run([sys.executable, "-c", code], env)
    assert result.stdout.strip() == "no key", result.stderr


def test_web_workers_default_to_the_cores_and_follow_web_concurrency():
    assert runconsole.web_workers({}) == (os.cpu_count() or 1)
    assert runconsole.web_workers({"WEB_CONCURRENCY": "3"}) == 3
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        runconsole.web_workers({"WEB_CONCURRENCY": "many"})


# --- gunicorn + whitenoise, as production runs them -----------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_the_app_and_whitenoise_the_static_files(db_url, tmp_path):
    token = secrets.token_urlsafe(24)
    env = base_env(DATABASE_URL=db_url, REDIS_URL=settings.REDIS_URL, STATIC_ROOT=str(tmp_path / "static"),
                   HEALTH_TOKEN=token, **production_secrets())
    collected = run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    assert collected.returncode == 0, collected.stderr
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "withdrawals_site.wsgi", "--bind", f"127.0.0.1:{port}",
                             "--workers", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        # gunicorn listens before its worker has loaded Django: on a loaded machine the first
        # request waits in the backlog for seconds. Patience here, not a speed test.
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health/", timeout=10) as response:
                    assert response.read() == b'{"status": "up"}'
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
                time.sleep(0.3)
        with urllib.request.urlopen(f"{base}/static/admin/css/base.css", timeout=30) as response:
            assert response.status == 200 and b"body" in response.read()
        with urllib.request.urlopen(f"{base}/admin/login/", timeout=30) as response:
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_runconsole_probes_its_web_child_with_an_allowed_host(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    assert runconsole._probe_host(8000) == "127.0.0.1:8000"
    settings.ALLOWED_HOSTS = [".example", "console.example"]
    assert runconsole._probe_host(8000) == "console.example"


# --- no superuser outside the demo ---------------------------------------------------------------

@pytest.mark.parametrize("start", [
    pytest.param([sys.executable, "manage.py", "runconsole"], id="runconsole"),
    pytest.param([sys.executable, "-m", "gunicorn", "withdrawals_site.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
                 id="gunicorn"),
    pytest.param([sys.executable, "-m", "celery", "-A", "withdrawals_site", "worker", "--pool", "solo", "-Q",
                  f"never-{uuid.uuid4().hex}", "-l", "warning"], id="celery-worker"),
])
def test_every_start_path_refuses_an_active_superuser_in_one_line_and_writes_nothing(start, foreign_database):
    """A console database (here just its user table) holding an active superuser, real secrets,
    DEBUG unset: each start path names the account and the demote command, and writes nothing."""
    with foreign_database["connect"]() as conn:
        conn.execute("CREATE TABLE auth_user (id int PRIMARY KEY, username text, is_superuser bool, is_active bool)")
        conn.execute("INSERT INTO auth_user VALUES (1, 'root', true, true), (2, 'gone', true, false), "
                     "(3, 'ops1', false, true)")
    before = tables(foreign_database["connect"])
    env = base_env(DATABASE_URL=foreign_database["url"], REDIS_URL=settings.REDIS_URL, **production_secrets())
    result = run(start, env)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stdout + result.stderr
    assert "1 active superuser(s) exist (root)" in lines[0] and "staff_demote_superusers root" in lines[0], lines
    assert tables(foreign_database["connect"]) == before == {"auth_user": 3}
