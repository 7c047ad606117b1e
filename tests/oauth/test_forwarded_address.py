"""The sign-in throttle counts per client address: behind a proxy listed in
KEHU_FORWARDED_ALLOW_IPS (default 127.0.0.1) that is the forwarded address; from
anyone else X-Forwarded-For is ignored, so a client cannot pick its address."""

from __future__ import annotations

import uuid

import httpx
import pytest
from flows import PASSWORD, authorization, open_sign_in, register_spa, set_password, submit_password
from helpers import make_tenant

from app.accounts.throttle import SIGN_IN_FAILURES_PER_IP


def peer(client: httpx.AsyncClient, ip: str, forwarded_for: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=client._transport.app, client=(ip, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url=client.base_url,
        headers={"x-forwarded-for": forwarded_for},
    )  # fmt: skip


def _ip() -> str:
    return f"198.19.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.fixture(scope="module")
async def target(owner, services):
    tenant = await make_tenant(owner, services, "proxied")
    email = f"viewer@{tenant.slug}.example.com"
    await set_password(owner, email)
    return tenant, await register_spa(owner, tenant.id), email


async def attempt(web: httpx.AsyncClient, spa: str, email: str, password: str) -> httpx.Response:
    auth = authorization(spa)
    await open_sign_in(web, auth)
    return await submit_password(web, auth, email, password)


async def exhaust(web: httpx.AsyncClient, spa: str, tenant) -> None:
    for n in range(SIGN_IN_FAILURES_PER_IP.limit):
        wrong = await attempt(web, spa, f"nobody{n}@{tenant.slug}.example.com", "x" * 12)
        assert wrong.status_code == 401


async def test_behind_a_trusted_proxy_each_forwarded_address_counts_on_its_own(client, target):
    tenant, spa, email = target
    attacker, bystander = _ip(), _ip()
    async with peer(client, "127.0.0.1", attacker) as web:
        await exhaust(web, spa, tenant)
        assert (await attempt(web, spa, email, PASSWORD)).status_code == 429
    # Same proxy, another client behind it: not throttled.
    async with peer(client, "127.0.0.1", bystander) as web:
        assert (await attempt(web, spa, email, PASSWORD)).status_code == 303


async def test_an_untrusted_peer_cannot_choose_its_address(client, target):
    tenant, spa, email = target
    direct = _ip()
    async with peer(client, direct, _ip()) as web:
        await exhaust(web, spa, tenant)
    # A fresh X-Forwarded-For does not help: the socket's address is what counts.
    async with peer(client, direct, _ip()) as web:
        assert (await attempt(web, spa, email, PASSWORD)).status_code == 429
