"""Fixtures for sign-in and password tests: tenants of their own, new members with a
password, a real SMTP server the worker mails through, and browsers (cookie jars)
each at an IP of its own, so tests never share a throttle."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from account_helpers import PASSWORD, Member, add_member, fake_ip, set_password
from helpers import TenantHandle, make_tenant
from peers.smtp import SmtpServer
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.context import Services
from app.main import create_app
from app.settings import Settings
from workers.settings import build_worker


@pytest.fixture(scope="session")
async def home(owner: AsyncEngine, services: Services) -> TenantHandle:
    return await make_tenant(owner, services, "keys")


@pytest.fixture(scope="session")
async def away(owner: AsyncEngine, services: Services) -> TenantHandle:
    return await make_tenant(owner, services, "locks")


@pytest.fixture(scope="session")
async def elsewhere(owner: AsyncEngine, services: Services) -> TenantHandle:
    return await make_tenant(owner, services, "doors")


@pytest.fixture
async def member(services: Services, home: TenantHandle) -> Member:
    """A new member of `home` whose password is PASSWORD."""
    person = await add_member(services, home, f"m{uuid.uuid4().hex[:10]}@example.com")
    await set_password(services, person.account_id, PASSWORD)
    return person


@pytest.fixture(scope="session")
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """This run's settings, mailing through the test SMTP server (as they all do)."""
    assert (settings.smtp_host, settings.smtp_port) == (smtp.host, smtp.port)
    return settings


@pytest.fixture
def deliver_mail(mail_settings: Settings):
    """Run the real worker (burst mode) with the test SMTP server until the queue is
    empty: queued mail is sent."""

    async def run() -> None:
        worker = build_worker(mail_settings, burst=True, ticks=False)
        try:
            await worker.main()
        finally:
            await worker.close()

    return run


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookies) at an IP of its own."""
    transport = httpx.ASGITransport(
        app=create_app(services.settings, services), client=(fake_ip(), 50000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as client:
        yield client
