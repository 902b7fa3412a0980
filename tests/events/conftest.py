"""A real HTTP receiver in a thread (it records what it gets and answers what it is told), a
subscription pointed at it, and the settings that let the worker call 127.0.0.1 over http."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from events.models import WebhookSubscription
from events.services import webhook_subscription_save
from tests.approvals.conftest import eth_prices, fast_password_hashing, wallet  # noqa: F401 - fixtures used here too

SECRET = "test-webhook-secret-0123456789abcdef"
# What the worker process needs to call the local receiver, with retries a few tenths of a second apart.
LOCAL_RECEIVER_ENV = {
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
    "WEBHOOK_RETRY_DELAYS": "0.3,0.3,0.3",
    "WEBHOOK_RETRY_EVERY": "0.5",
    "WEBHOOK_RETRY_FOR": "300",
}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """``answers``: status codes for the next requests, in order (then 200)."""

    port: int = 0
    answers: list[int] = field(default_factory=list)
    received: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/console"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(Request(self.path, dict(self.headers.items()), body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver error")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def requests(self) -> list[Request]:
        with self._lock:
            return list(self.received)

    def wait_for(self, predicate, timeout: float = 30) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.requests()
            if predicate(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"The receiver did not get what was expected within {timeout}s: {self.requests()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local_receiver_settings(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_RETRY_DELAYS = [0.0, 0.0, 0.0]
    settings.WEBHOOK_RETRY_EVERY = 0.0
    return settings


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def subscribe(url: str, kinds=("*",), name: str = "receiver") -> WebhookSubscription:
    return webhook_subscription_save(subscription=WebhookSubscription(name=name, url=url, kinds=list(kinds)),
                                     secret=SECRET)
