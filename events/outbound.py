"""Outbound HTTP to webhook receivers, guarded against SSRF.

A subscription URL is staff input that makes the worker open connections, so a demanding
operator expects the worker to reach only the receivers it should:

- only ``https://`` (``http://`` only when WEBHOOK_ALLOW_HTTP is set, e.g. a test or a receiver
  on the same host), no user:password in the URL;
- the host name is resolved once per attempt and **every** address it resolves to must be a
  public unicast address (no loopback, private, link-local such as 169.254.169.254, carrier-grade
  NAT, multicast, reserved or unspecified, IPv4-mapped IPv6 judged as the IPv4 inside); private
  ranges only with WEBHOOK_ALLOW_PRIVATE_NETWORKS (tests, on-premises receivers), and never the
  link-local/metadata range;
- the connection goes to that vetted address (pinned: the name is not resolved a second time,
  so DNS rebinding between check and use cannot redirect it), TLS still checks the certificate
  against the host name;
- no redirects are followed (a 3xx is a failed attempt), no proxy from the environment is used,
  connect/read timeouts are short and at most a few KiB of the answer is read.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

RESPONSE_READ_BYTES = 4096


class UnsafeURL(Exception):
    """The URL may not be called (scheme, credentials, or an address the worker must not reach)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def _address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
        return f"{address} is a link-local, multicast, reserved or unspecified address"
    if address.is_global:
        return None
    if getattr(settings, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", False) and (address.is_private or address.is_loopback):
        return None
    return f"{address} is not a public address"


def url_check(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL the worker may call, or UnsafeURL. Does not resolve."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}")
    allowed = {"https", "http"} if getattr(settings, "WEBHOOK_ALLOW_HTTP", False) else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeURL(f"The URL must start with {' or '.join(sorted(s + '://' for s in allowed))}.")
    if parts.username or parts.password:
        raise UnsafeURL("The URL must not carry a user name or password (the signature authenticates).")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve_checked(host: str, port: int) -> str:
    """The one address to connect to: every address of ``host`` must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeURL(f"The host {host} does not resolve: {exc}")
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise UnsafeURL(f"The host {host} has no address.")
    for address in addresses:
        if refusal := _address_refusal(address):
            raise UnsafeURL(f"The host {host} resolves to {refusal}.")
    return str(addresses[0])


def post(url: str, *, body: bytes, headers: dict[str, str], connect_timeout: float, read_timeout: float) -> Answer:
    """POST ``body`` to ``url`` over a connection pinned to the vetted address."""
    scheme, host, port = url_check(url)
    address = resolve_checked(host, port)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED")
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    host_header = host if parts.port is None else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{port}"
    try:
        response = pool.urlopen("POST", path, body=body, headers={**headers, "Host": host_header},
                                redirect=False, retries=False, preload_content=False, assert_same_host=False)
        try:
            data = response.read(RESPONSE_READ_BYTES, decode_content=False)
        finally:
            response.release_conn()
        return Answer(status=response.status, body=data or b"")
    finally:
        pool.close()
