"""Where the server may send requests on a tenant admin's say-so (SSRF).

The sign-in flow fetches URLs that a tenant admin typed (the issuer) or that the
provider's discovery document names (jwks_uri, token_endpoint), and anyone can start
it without signing in. So every such request goes through `client()`, whose transport
refuses anything but https to hosts whose every address is public, resolved at
request time, and connects to the very address it checked: a name that resolved to a
public address for the check cannot re-resolve to 169.254.169.254 for the connection
(DNS rebinding). Redirects are not followed.

Local development and the tests run their provider over http on 127.0.0.1: the operator
names such hosts in KEHU_FEDERATION_ALLOW_PRIVATE_HOSTS. It is a list of host[:port]
entries rather than an on/off switch, so that turning it on for one local provider
does not also open cloud metadata, the database or every other internal service.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import httpx

HTTPS_ONLY = "must be an https:// URL"
RESOLVE_TIMEOUT_SECONDS = 10.0
# Saving settings must not wait on a slow resolver: sign-in checks again anyway.
CONFIGURE_RESOLVE_TIMEOUT_SECONDS = 3.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedURL(Exception):
    """A URL the server will not contact; the message says why, fit for users."""


def address_problem(address: IPAddress) -> str | None:
    """Why the server must not connect to `address`, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        # Addresses that carry an IPv4 address reach wherever that one does.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    kinds = [
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ]
    for attribute, kind in kinds:
        if getattr(address, attribute):
            article = "an" if kind[0] in "aeiou" else "a"
            return f"{address} is {article} {kind} address"
    if address in CGNAT:
        return f"{address} is a shared (carrier-grade NAT) address"
    # Whatever else IANA does not route globally (documentation, benchmarking, ...).
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def _entry(text: str) -> tuple[str, int | None]:
    """One allow-list entry: host, host:port, [v6] or [v6]:port."""
    parts = urlsplit(f"//{text}")
    host, port = parts.hostname, parts.port  # a bad port raises ValueError
    if not host or parts.username is not None or parts.path:
        raise ValueError(f"not a host or host:port: {text!r}")
    return host, port


@dataclass(frozen=True)
class OutboundPolicy:
    """https to public addresses only, but for the operator's allowed hosts."""

    allowed: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def parse(cls, setting: str) -> OutboundPolicy:
        """From KEHU_FEDERATION_ALLOW_PRIVATE_HOSTS; ValueError names a bad entry."""
        return _parse(setting)

    def allows_private(self, host: str, port: int) -> bool:
        host = host.lower()
        return (host, port) in self.allowed or (host, None) in self.allowed

    def scheme_problem(self, url: str) -> str | None:
        """Without any lookup: https, or http to an allowed host."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "is not a valid URL"
        if not parts.hostname or parts.scheme not in ("https", "http"):
            return HTTPS_ONLY
        default = 443 if parts.scheme == "https" else 80
        if parts.scheme == "http" and not self.allows_private(parts.hostname, port or default):
            return HTTPS_ONLY
        return None

    async def resolve(
        self, url: str, *, lookup_seconds: float = RESOLVE_TIMEOUT_SECONDS
    ) -> list[IPAddress]:
        """Every address the URL's host has now, all of them checked (an allowed host's
        are not); RefusedURL says why not. Empty means "do not pin": the host is allowed
        and could not be resolved here, so the connection resolves it as usual."""
        if problem := self.scheme_problem(url):
            raise RefusedURL(problem)
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        allowed = self.allows_private(host, port)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await _lookup(host, port, allowed=allowed, lookup_seconds=lookup_seconds)
        if not allowed:
            for address in addresses:
                if problem := address_problem(address):
                    raise RefusedURL(f"{host} is not a public host: {problem}")
        return addresses

    async def configuration_problem(self, url: str) -> str | None:
        """Why an admin may not save `url`, or None. A host that does not resolve (yet)
        is accepted: the provider may not be set up, and sign-in checks again anyway."""
        try:
            await self.resolve(url, lookup_seconds=CONFIGURE_RESOLVE_TIMEOUT_SECONDS)
        except RefusedURL as refused:
            if isinstance(refused.__cause__, OSError | TimeoutError):
                return None
            return str(refused)
        return None


@lru_cache(maxsize=8)
def _parse(setting: str) -> OutboundPolicy:
    entries = [e.strip() for e in setting.split(",") if e.strip()]
    return OutboundPolicy(frozenset(_entry(e) for e in entries))


async def _lookup(host: str, port: int, *, allowed: bool, lookup_seconds: float) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), lookup_seconds
        )
    except (OSError, TimeoutError) as error:
        if allowed:
            return []
        raise RefusedURL(f"{host} could not be resolved") from error
    # Scope ids (fe80::1%eth0) are dropped: link-local is refused whatever the scope.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


class PinnedTransport(httpx.AsyncBaseTransport):
    """Checks each request's URL by the policy, then sends it to the address it checked:
    the URL's host is replaced by that address, while the Host header and the TLS server
    name (so certificate verification) stay the host's name."""

    def __init__(self, policy: OutboundPolicy, *, verify: ssl.SSLContext | bool = True) -> None:
        self.policy = policy
        self.verify = verify
        # A pool per host name: connections are keyed by address, and one made (and
        # verified) for one name must not carry requests for another on the same address.
        self._pools: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        addresses = await self.policy.resolve(str(request.url))
        host = request.url.host
        if addresses and str(addresses[0]) != host:
            request.url = request.url.copy_with(host=str(addresses[0]))
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        pool = self._pools.get(host)
        if pool is None:
            pool = self._pools[host] = httpx.AsyncHTTPTransport(verify=self.verify)
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.aclose()


def client(policy: OutboundPolicy, *, timeout: httpx.Timeout, verify: ssl.SSLContext | bool = True
           ) -> httpx.AsyncClient:  # fmt: skip
    """An HTTP client for URLs from tenant admins and their providers."""
    return httpx.AsyncClient(
        transport=PinnedTransport(policy, verify=verify),
        timeout=timeout,
        # A redirect could lead anywhere; providers have no need of them here.
        follow_redirects=False,
        # A proxy from the environment would resolve and connect on its own, unchecked.
        trust_env=False,
    )
