"""The client's IP address, trusting only the configured number of proxies (``NUM_PROXIES``).

One rule for DRF's throttles (``REST_FRAMEWORK["NUM_PROXIES"]``, same arithmetic) and for the
login lockout (``AXES_CLIENT_IP_CALLABLE``): with no trusted proxy the address is
``REMOTE_ADDR`` and ``X-Forwarded-For`` is ignored (a client writes what it likes there); with
N trusted proxies it is the N-th address from the right of ``X-Forwarded-For``, the one the
outermost trusted proxy saw.
"""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    meta = request.META
    remote_addr = meta.get("REMOTE_ADDR", "")
    num_proxies = getattr(settings, "NUM_PROXIES", 0) or 0
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if num_proxies <= 0 or not forwarded:
        return remote_addr
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote_addr
    return addresses[-min(num_proxies, len(addresses))]
