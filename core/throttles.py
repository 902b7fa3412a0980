"""Rate limits whose counters hold under parallel requests.

DRF's ``SimpleRateThrottle`` reads the request history from the cache, decides, then writes it
back: two requests that read at the same time both see room, so a burst of 40 against 30/min
lets far more than 30 through. Here the check and the count are one Lua script in Redis (a
sliding log per key: drop entries older than the window, count, add this request only if under
the limit), which Redis runs atomically: of any burst, at most the limit gets through.

Rates, scopes and ``THROTTLE_RATES`` are DRF's (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``);
keys go through the cache's ``make_key`` so they share its prefix (tests clear them per test).
"""

from __future__ import annotations

import secrets
import threading
import time

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from core.client_ip import client_ip

# KEYS[1] the counter; ARGV: now (ms), window (ms), limit, a unique member.
# Returns 0 when the request is let through, else the milliseconds until a slot frees up.
_SLIDING_LOG = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local wait = window
if oldest[2] then wait = tonumber(oldest[2]) + window - now end
if wait < 1 then wait = 1 end
return wait
"""

_client_lock = threading.Lock()
_client: redis.Redis | None = None
_script = None


def _sliding_log():
    """The registered script on a shared client (its connection pool is thread-safe)."""
    global _client, _script
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(settings.REDIS_URL)
            _script = _client.register_script(_SLIDING_LOG)
    return _script


class AtomicRateThrottle(SimpleRateThrottle):
    """``SimpleRateThrottle`` with the check-and-count done atomically in Redis."""

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now_ms = int(time.time() * 1000)
        wait_ms = _sliding_log()(keys=[cache.make_key(self.key)],
                                 args=[now_ms, int(self.duration * 1000), self.num_requests,
                                       f"{now_ms}-{secrets.token_hex(6)}"])
        self._wait = int(wait_ms) / 1000
        return self._wait == 0

    def wait(self):
        return self._wait or None


class AtomicAnonRateThrottle(AtomicRateThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AtomicScopedRateThrottle(AtomicRateThrottle):
    """DRF's ``ScopedRateThrottle`` (the view's ``throttle_scope``, per user or per IP), atomic."""

    scope_attr = "throttle_scope"

    def __init__(self):
        pass  # the rate depends on the view: read in allow_request

    def allow_request(self, request, view):
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
