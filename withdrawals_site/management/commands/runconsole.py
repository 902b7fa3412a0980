"""``manage.py runconsole``: the whole console in one terminal.

Preflight (each configured service answers; with DEBUG off, real secrets), the refusal of a
non-demo database when demo data is to be loaded, the local chain when no ETH_RPC_URL is set,
migrations, the demo data (embedded database, or ``--demo``), collectstatic, then three child
processes: the web server (gunicorn), a Celery worker and Celery beat. Each child gets the
environment it needs (``child_environment``: only the worker sees hot keys). Ctrl-C (or SIGTERM)
stops them all; if one of them dies, the others are stopped and the command exits non-zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from core import embedded
from withdrawals_site import preflight

STOP_GRACE_SECONDS = 30  # a worker's warm shutdown lets the running tasks finish
# A path no file can ever have (/dev/null is not a directory): "no key file" for web and beat.
NO_HOT_KEYS_FILE = os.path.join(os.devnull, "no-hot-keys-in-this-process")
KEY_CHILDREN = {"worker"}  # the only child that signs, so the only one that sees hot keys


def child_environment(name: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of child ``name``: ours, but outside the worker without any ``HOT_KEY_*``
    variable and with HOT_KEYS_FILE pointing at no file (the settings' default is the demo's key
    file), so a web or beat process cannot read a key even if asked to."""
    env = dict(os.environ if environ is None else environ)
    env.update({"DJANGO_SETTINGS_MODULE": "withdrawals_site.settings", "PYTHONUNBUFFERED": "1"})
    if name not in KEY_CHILDREN:
        for variable in [v for v in env if v.startswith("HOT_KEY_")]:
            del env[variable]
        env["HOT_KEYS_FILE"] = NO_HOT_KEYS_FILE
    return env


def prometheus_multiproc_dir(environ: dict[str, str] | None = None):
    """PROMETHEUS_MULTIPROC_DIR (default var/prometheus), emptied: prometheus-client's
    multiprocess mode wants a clean directory at each start (old files would add old counts)."""
    from pathlib import Path

    value = (os.environ if environ is None else environ).get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    path = Path(value) if value else embedded.VAR_DIR / "prometheus"
    if path.exists():
        for child in path.glob("*.db"):  # its own files only, whatever else the directory holds
            child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _probe_host(port: int) -> str:
    """A Host header ALLOWED_HOSTS accepts, for runconsole's own probe of the web child."""
    for host in settings.ALLOWED_HOSTS:
        if host in {"127.0.0.1", "localhost"}:
            return f"{host}:{port}"
    named = [h for h in settings.ALLOWED_HOSTS if h not in {"*"} and not h.startswith(".")]
    return named[0] if named else f"127.0.0.1:{port}"


def web_workers(environ: dict[str, str] | None = None) -> int:
    """gunicorn workers: WEB_CONCURRENCY, else one per core."""
    value = (os.environ if environ is None else environ).get("WEB_CONCURRENCY", "").strip()
    if value:
        try:
            workers = int(value)
        except ValueError:
            raise CommandError(f"WEB_CONCURRENCY must be a whole number, got {value!r}.") from None
        if workers < 1:
            raise CommandError(f"WEB_CONCURRENCY must be at least 1, got {workers}.")
        return workers
    return os.cpu_count() or 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM if runconsole itself is killed (no orphans)."""
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    threads: list[threading.Thread] = field(default_factory=list)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int, *, group: bool = False) -> None:
        """Signal the child, or its whole process group (its own children: the prefork pool,
        the anvil binary behind its node launcher)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:  # also after the leader died: what is left of its group
                os.killpg(self.proc.pid, signum)
            elif self.alive():
                os.kill(self.proc.pid, signum)


class Command(BaseCommand):
    help = "Run the console: web server, Celery worker and beat, and the local chain, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="Only check the configuration (database, Redis, chain nodes) and exit.")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                            help="Web server port on 127.0.0.1 (default: $PORT or 8000).")
        parser.add_argument("--skip-seed", action="store_true", help="Do not run seed_demo.")
        parser.add_argument("--demo", action="store_true",
                            help="DATABASE_URL is a demo database: load the demo data there too (refused, before "
                                 "anything is written, when it holds other data).")

    # --- the steps ---------------------------------------------------------------------------
    def handle(self, *args, check: bool, port: int, skip_seed: bool, demo: bool = False, **options):
        self.children: list[Child] = []
        self._stop_requested: int | None = None
        # The web child's health token: the configured one, else one for this run only.
        self.health_token = settings.HEALTH_TOKEN or secrets.token_urlsafe(32)

        self.say("checking configuration")
        preflight.preflight_or_exit(chains=True, stream=self.stderr._out)
        seed = not skip_seed and "seed_demo" in get_commands() and (settings.EMBEDDED_DEMO or demo)
        if seed:  # before migrate, the chain or anything else writes: a refusal leaves the database as it was
            from withdrawals_site.management.commands.seed_demo import refuse_or_return

            refuse_or_return(demo=demo, stream=self.stderr._out)
        if check:
            self.say("configuration OK")
            return
        bind = os.environ.get("WEB_BIND", "").strip() or f"127.0.0.1:{port}"
        probe_port = int(bind.rsplit(":", 1)[1]) if ":" in bind else port
        if embedded._port_open("127.0.0.1", probe_port):
            raise CommandError(f"Port {probe_port} on 127.0.0.1 is already in use; set PORT to another port.")
        workers = web_workers()

        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._start_chain()
            self.say("applying migrations")
            call_command("migrate", interactive=False, verbosity=0)
            if seed:
                self.say("loading demo data (seed_demo)")
                call_command("seed_demo", demo=demo)
            elif not settings.EMBEDDED_DEMO:
                self.say("DATABASE_URL is set: no demo data (--demo loads it into a database meant for the demo)")
            self.say(f"collecting static files into {settings.STATIC_ROOT}")
            call_command("collectstatic", interactive=False, verbosity=0)
            wrong_chain = preflight.check_network_chain_ids(include_embedded=True)
            if wrong_chain:
                raise CommandError("; ".join(str(p) for p in wrong_chain))
            self._start_processes(bind=bind, workers=workers)
            port = probe_port
            self._wait_for_web(port)
            self._print_banner(port)
            exit_code = self._supervise()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if exit_code:
            sys.exit(exit_code)

    def _start_chain(self) -> None:
        if not settings.ETH_RPC_EMBEDDED:
            return
        port, url = embedded.ANVIL_PORT, embedded.anvil_url()
        if embedded._port_open("127.0.0.1", port):
            problem = preflight.check_evm_rpc(url, setting="WDC_ANVIL_PORT")
            if problem:
                raise CommandError(f"Port {port} is in use by something that is not an Ethereum node: {problem}")
            self.say(f"local chain: using the node already running at {url}")
            return
        state = embedded.VAR_DIR / "anvil" / "state.json"
        self.say(f"local chain: starting anvil at {url} (state in {state.relative_to(settings.BASE_DIR)})")
        try:
            proc = embedded.start_anvil(port=port, state_file=state, block_time=2,
                                        log=embedded.VAR_DIR / "anvil" / "anvil.log")
        except embedded.EmbeddedServiceError as exc:
            raise CommandError(str(exc))
        self.children.append(Child("anvil", proc))

    def _start_processes(self, *, bind: str, workers: int) -> None:
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        python = sys.executable
        # gunicorn serves the app (whitenoise its static files); WEB_BIND / WEB_CONCURRENCY tune it.
        web = [python, "-m", "gunicorn", "withdrawals_site.wsgi", "--bind", bind, "--workers", str(workers),
               "--access-logfile", "-", "--graceful-timeout", "20", "--config", "python:withdrawals_site.gunicorn_conf"]
        metrics_dir = prometheus_multiproc_dir()
        commands = {
            "web": web,
            "worker": [python, "-m", "celery", "-A", "withdrawals_site", "worker", "-l", "info", "-Q", queue,
                       "--concurrency", "2", "-n", f"console-{queue}@%h"],
            "beat": [python, "-m", "celery", "-A", "withdrawals_site", "beat", "-l", "info",
                     "--scheduler", settings.CELERY_BEAT_SCHEDULER],
        }
        for name, command in commands.items():
            self.say(f"starting {name}")
            env = child_environment(name)
            if name in ("web", "worker"):  # both write their samples there; /metrics reads them all
                env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            if name == "web":
                env["HEALTH_TOKEN"] = self.health_token  # so _wait_for_web can read the worker's status
            proc = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    preexec_fn=_die_with_parent)  # noqa: PLW1509
            self.children.append(Child(name, proc))
        # Output readers start after the last fork: preexec_fn and running threads do not mix.
        for child in self.children:
            if child.proc.stdout is not None:
                reader = threading.Thread(target=self._relay, args=(child.name, child.proc.stdout), daemon=True)
                reader.start()
                child.threads.append(reader)

    def _relay(self, name: str, stream) -> None:
        """Copy a child's output to ours, each line prefixed with the child's name."""
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            self.stdout.write(f"{name:>6} | {line}")
        stream.close()

    def _wait_for_web(self, port: int) -> None:
        """Until /health/ answers and reports the worker up (60 s at most; the banner follows)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self._stop_requested is None:
            if not all(child.alive() for child in self.children):
                return  # _supervise reports which one
            request = urllib.request.Request(f"http://127.0.0.1:{port}/health/",
                                             headers={"Authorization": f"Bearer {self.health_token}",
                                                      "Host": _probe_host(port)})
            try:
                with urllib.request.urlopen(request, timeout=3) as response:
                    body = json.loads(response.read())
            except urllib.error.HTTPError as exc:  # 503: the database or Redis is down
                body = json.loads(exc.read() or b"{}")
            except (OSError, ValueError):
                body = {}
            if body.get("worker", {}).get("status") == "up":
                return
            time.sleep(0.5)

    def _print_banner(self, port: int) -> None:
        from withdrawals_site.demo import DEMO_LOGINS

        base = f"http://localhost:{port}"  # a host name: passkeys (WebAuthn) refuse a bare IP
        lines = [
            "",
            "The withdrawals console is running.",
            f"  Admin (staff):   {base}/admin/",
            f"  App API docs:    {base}/api/docs/",
            f"  Health:          {base}/health/",
            f"  Chain (ETH RPC): {settings.CHAIN_RPC_URLS['ETH']}",
            "",
            "Demo logins (created by seed_demo):",
            *[f"  {username:<12} {password:<16} {role}" for role, username, password in DEMO_LOGINS],
            "",
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def _supervise(self) -> int:
        while self._stop_requested is None:
            for child in self.children:
                code = child.proc.poll()
                if code is not None:
                    self.stderr.write(f"[console] {child.name} exited with status {code}; stopping the others.")
                    return 1
            time.sleep(0.5)
        self.say(f"received {signal.Signals(self._stop_requested).name}; stopping")
        return 0

    def _on_signal(self, signum, frame) -> None:
        if self._stop_requested is not None:  # a second Ctrl-C: stop now
            for child in self.children:
                child.signal(signal.SIGKILL, group=True)
            raise SystemExit(130)
        self._stop_requested = signum

    def _stop_all(self) -> None:
        """SIGTERM everyone (web first, the chain last), then SIGKILL what is still running.

        The worker gets SIGTERM in its main process only: a warm shutdown, its pool finishes the
        running tasks. anvil's launcher does not forward signals, so its whole group gets them."""
        order = ["web", "beat", "worker", "anvil"]
        children = sorted(self.children, key=lambda c: order.index(c.name) if c.name in order else 0)
        for child in children:
            child.signal(signal.SIGTERM, group=child.name == "anvil")
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"[console] {child.name} did not stop in {STOP_GRACE_SECONDS}s; killing it")
                child.signal(signal.SIGKILL, group=True)
                child.proc.wait()
            child.signal(signal.SIGKILL, group=True)  # leftovers of its group, if any
        for child in children:
            for thread in child.threads:
                thread.join(timeout=2)
        if children:
            self.say("stopped " + ", ".join(child.name for child in children))
        self.children = []

    def say(self, message: str) -> None:
        self.stdout.write(f"[console] {message}")
