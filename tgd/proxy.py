"""Proxy headers believed only from the configured reverse proxies (``server.trusted_proxies``).

Behind nginx every request comes from the proxy's address: without the
``X-Forwarded-For`` header the login throttle would count every operator as one,
and the audit log would name the proxy. With it believed from anyone, a client
could choose the address the throttle and the audit log see. So werkzeug's
``ProxyFix`` is applied only to requests whose socket address is a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse addresses and networks ("10.0.0.5", "10.0.0.0/24", "::1"); raise ValueError."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def address_in(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Tell whether an address belongs to one of the networks."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for requests from a trusted proxy, nothing for others."""

    def __init__(self, app: Any, networks: tuple[Network, ...], *, hops: int = 1) -> None:
        self.app = app
        self.networks = networks
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.networks and address_in(environ.get("REMOTE_ADDR"), self.networks):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
