"""Guessing passwords through the sign-in page: the account locks, the network is
throttled, and neither lets a right password through while it lasts; nor does a
burst of simultaneous guesses get more tries than one guess after another."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from flows import (
    PASSWORD,
    authorization,
    form_fields,
    open_sign_in,
    register_spa,
    set_password,
    submit_password,
)
from helpers import make_tenant
from sqlalchemy import func, select

from app.accounts.service import REFUSALS
from app.accounts.tables import accounts
from app.accounts.throttle import LOCKOUT_AFTER, SIGN_IN_FAILURES_PER_IP


def browser_at(client: httpx.AsyncClient, ip: str) -> httpx.AsyncClient:
    """A browser on its own network address (the ASGI transport reports it as the
    client), so one test's failures never count against another's."""
    transport = httpx.ASGITransport(app=client._transport.app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=client.base_url)


@pytest.fixture(scope="module")
async def target(owner, services):
    tenant = await make_tenant(owner, services, "brute")
    return tenant, await register_spa(owner, tenant.id)


async def attempt(web: httpx.AsyncClient, spa: str, email: str, password: str) -> httpx.Response:
    auth = authorization(spa)
    await open_sign_in(web, auth)
    return await submit_password(web, auth, email, password)


def _ip() -> str:
    return f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def test_an_account_locks_after_five_wrong_passwords(client, owner, target):
    tenant, spa = target
    email = f"sales@{tenant.slug}.example.com"
    await set_password(owner, email)
    async with browser_at(client, _ip()) as web:
        for _ in range(5):
            assert (await attempt(web, spa, email, "wrong guess")).status_code == 401
        locked = await attempt(web, spa, email, PASSWORD)
    assert locked.status_code == 401
    assert "locked" in locked.text
    assert "location" not in locked.headers
    # From elsewhere too: the lock is the account's, not the address's.
    async with browser_at(client, _ip()) as other:
        assert (await attempt(other, spa, email, PASSWORD)).status_code == 401


async def test_an_address_is_throttled_beyond_the_limit(client, owner, target):
    tenant, spa = target
    email = f"viewer@{tenant.slug}.example.com"
    await set_password(owner, email)
    ip = _ip()
    async with browser_at(client, ip) as web:
        # Wrong guesses spread over many (unknown) accounts, so no single lock trips.
        for n in range(SIGN_IN_FAILURES_PER_IP.limit):
            response = await attempt(web, spa, f"nobody{n}@{tenant.slug}.example.com", "x" * 12)
            assert response.status_code == 401
        throttled = await attempt(web, spa, email, PASSWORD)
    assert throttled.status_code == 429
    assert "location" not in throttled.headers
    async with browser_at(client, _ip()) as elsewhere:  # another network is unaffected
        response = await attempt(elsewhere, spa, email, PASSWORD)
    assert response.status_code == 303


async def burst(
    web: httpx.AsyncClient, spa: str, guesses: list[tuple[str, str]]
) -> list[httpx.Response]:
    """The sign-in form, filled in once per (email, password) and all posted at once
    (the browser's one CSRF cookie is good for each)."""
    auth = authorization(spa)
    page = await open_sign_in(web, auth)
    fields = form_fields(page.text)
    fields.pop("tenant", None)
    posts = [
        web.post("/oauth/authorize", data={**fields, "email": email, "password": password})
        for email, password in guesses
    ]
    return await asyncio.gather(*posts)


def saying(responses: list[httpx.Response], refusal: str) -> list[httpx.Response]:
    return [r for r in responses if REFUSALS[refusal] in r.text]


async def test_simultaneous_guesses_get_no_more_tries_than_the_lockout_allows(
    client, owner, target
):
    tenant, spa = target
    email = f"manager@{tenant.slug}.example.com"
    await set_password(owner, email)
    async with browser_at(client, _ip()) as web:
        responses = await burst(web, spa, [(email, f"wrong guess {n}") for n in range(20)])
        assert {r.status_code for r in responses} == {401}
        assert len(saying(responses, "INVALID_CREDENTIALS")) == LOCKOUT_AFTER
        assert len(saying(responses, "LOCKED")) == 20 - LOCKOUT_AFTER
        async with owner.connect() as conn:
            locked = (
                await conn.execute(
                    select(accounts.c.failed_sign_ins, accounts.c.locked_until > func.now()).where(
                        func.lower(accounts.c.email) == email
                    )
                )
            ).one()
        assert tuple(locked) == (LOCKOUT_AFTER, True)
    # From another address (this one's window is used up): the lock is the account's.
    async with browser_at(client, _ip()) as other:
        right = await attempt(other, spa, email, PASSWORD)
    assert right.status_code == 401 and REFUSALS["LOCKED"] in right.text
    assert "location" not in right.headers


async def test_simultaneous_guesses_from_one_address_stay_within_its_window(client, target):
    tenant, spa = target
    limit = SIGN_IN_FAILURES_PER_IP.limit
    guesses = [(f"nobody{n}@{tenant.slug}.example.com", "x" * 12) for n in range(limit + 5)]
    async with browser_at(client, _ip()) as web:
        responses = await burst(web, spa, guesses)
    assert len(saying(responses, "INVALID_CREDENTIALS")) == limit
    throttled = saying(responses, "THROTTLED")
    assert len(throttled) == 5 and {r.status_code for r in throttled} == {429}
