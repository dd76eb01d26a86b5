"""Who is asking: the client's address, as far as the configured proxies let us know it.

Used by everything that counts per client (checkout rate limits, share counting).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, unless settings.TRUSTED_PROXY_COUNT proxies sit in
    front of us, in which case the X-Forwarded-For entry that many hops from the right.

    Entries further left were written by whoever sent the request, so a client can put
    anything there; with no trusted proxy the header is never read. With fewer entries than
    trusted hops, the leftmost is used.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
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
