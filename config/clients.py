"""Who is asking: the client's address, as far as the configured proxies let us know it.

Used by everything that counts per client (checkout and password-reset limits, sign-in
throttling, share counting, the security log).

Two settings say which proxies are trusted, and they agree with each other:
FORWARDED_ALLOW_IPS lists the proxies' own addresses (gunicorn reads the same variable to
decide whose X-Forwarded-Proto makes a request HTTPS), and TRUSTED_PROXY_COUNT says how many
hops of X-Forwarded-For they wrote. A request that does not come from a listed proxy is
taken at its REMOTE_ADDR, whatever headers it carries.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def forwarded_networks(allowed: str) -> tuple[Network, ...] | None:
    """FORWARDED_ALLOW_IPS as networks; None for "*" (every address)."""
    entries = [entry.strip() for entry in allowed.split(",") if entry.strip()]
    if "*" in entries:
        return None
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def from_trusted_proxy(remote_addr: str) -> bool:
    """Whether the connection comes from a proxy listed in FORWARDED_ALLOW_IPS."""
    networks = forwarded_networks(settings.FORWARDED_ALLOW_IPS)
    if networks is None:
        return True
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, unless settings.TRUSTED_PROXY_COUNT proxies sit in
    front of us and the request comes from one of them (FORWARDED_ALLOW_IPS), in which case
    the X-Forwarded-For entry that many hops from the right.

    Entries further left were written by whoever sent the request, so a client can put
    anything there; with no trusted proxy the header is never read. With fewer entries than
    trusted hops, the leftmost is used.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0 or not from_trusted_proxy(remote_addr):
        return remote_addr
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote_addr
    candidate = hops[-trusted] if len(hops) >= trusted else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr


def client_key(ip: str) -> str:
    """An IPv6 client holds a whole /64 and can pick any address in it, so count the /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))
