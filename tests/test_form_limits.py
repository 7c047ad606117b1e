"""The sign-in and account forms (/oauth/*, /account/*) take bodies from anyone before
any authentication: one larger than KEHU_MAX_FORM_BYTES is refused with 413, at once
by its Content-Length or, sent chunked, once the cap is passed, before the handler
does anything (no sign-in attempt counted or recorded). Forms of the usual size work
as before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

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

from app.accounts import throttle
from app.accounts.tables import account_events, accounts

CHUNK = 16 * 1024
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
async def target(owner, services):
    tenant = await make_tenant(owner, services, "capped")
    email = f"sales@{tenant.slug}.example.com"
    await set_password(owner, email)
    return tenant, await register_spa(owner, tenant.id), email


@pytest.fixture
async def web(client) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own at an address of its own, so its throttle is its own."""
    ip = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    transport = httpx.ASGITransport(app=client._transport.app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=client.base_url) as browser:
        yield browser


class Stream:
    """A body sent chunked (no Content-Length), counting what the server pulled."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):
            chunk = self.body[start : start + CHUNK]
            self.sent += len(chunk)
            yield chunk


def assert_refused(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["connection"] == "close"
    assert f"larger than {limit} bytes" in response.text


async def attempts_counted(owner, services, email: str, ip: str) -> tuple:
    """What a sign-in attempt leaves: the account's run of failures, its recorded
    failures, and the IP's throttle window."""
    async with owner.connect() as conn:
        account_id, failures = (
            await conn.execute(
                select(accounts.c.id, accounts.c.failed_sign_ins).where(
                    func.lower(accounts.c.email) == email.lower()
                )
            )
        ).one()
        recorded = await conn.scalar(
            select(func.count())
            .select_from(account_events)
            .where(account_events.c.account_id == account_id)
        )
    redis = await services.queue.pool()
    window = await redis.get(throttle._key(services, throttle.SIGN_IN_FAILURES_PER_IP, ip))
    return failures, recorded, window


async def test_an_oversized_sign_in_is_refused_before_it_counts(web, owner, services, target):
    _, spa, email = target
    limit = services.settings.max_form_bytes
    ip = web._transport.client[0]
    auth = authorization(spa)
    await open_sign_in(web, auth)
    fields = form_fields(auth.page.text)
    fields.pop("tenant", None)
    fields.update(email=email, password="a wrong guess", pad="x" * limit)
    before = await attempts_counted(owner, services, email, ip)

    declared = await web.post("/oauth/authorize", data=fields)
    assert "content-length" in declared.request.headers
    assert_refused(declared, limit)
    # Sent chunked, four times over: only the cap and a chunk are read.
    stream = Stream(urlencode({**fields, "pad": "x" * 4 * limit}).encode())
    streamed = await web.post("/oauth/authorize", content=stream, headers={"Content-Type": FORM})
    assert "content-length" not in streamed.request.headers
    assert_refused(streamed, limit)
    assert stream.sent <= limit + CHUNK < len(stream.body)
    assert await attempts_counted(owner, services, email, ip) == before
    assert before[2] is None

    # The same form within the cap: a sign-in as before.
    assert (await submit_password(web, auth, email, PASSWORD)).status_code == 303


async def test_a_form_just_within_the_cap_is_read(web, owner, services, target):
    _, spa, email = target
    limit = services.settings.max_form_bytes
    auth = authorization(spa)
    await open_sign_in(web, auth)
    fields = form_fields(auth.page.text)
    fields.pop("tenant", None)
    fields.update(email=email, password="a wrong guess", pad="")
    ip = web._transport.client[0]
    before = await attempts_counted(owner, services, email, ip)
    fields["pad"] = "x" * (limit - len(urlencode(fields)))
    assert len(urlencode(fields)) == limit
    response = await web.post("/oauth/authorize", data=fields)
    assert response.status_code == 401, response.text
    failures, recorded, window = await attempts_counted(owner, services, email, ip)
    assert (failures, recorded, window) == (before[0] + 1, before[1] + 1, b"1")


async def test_the_token_endpoint_refuses_oversized_bodies(web, services, target):
    _, spa, _ = target
    limit = services.settings.max_form_bytes
    grant = {"grant_type": "authorization_code", "code": "nope", "client_id": spa}
    small = await web.post("/oauth/token", data=grant)
    assert small.status_code == 400 and small.json()["error"] == "invalid_grant", small.text

    big = {**grant, "pad": "x" * limit}
    assert_refused(await web.post("/oauth/token", data=big), limit)
    # Multipart would be spooled to disk by the form parser: cut off just the same.
    boundary = "kehu-form-limit"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="pad"; filename="pad.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"x" * (4 * limit)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    stream = Stream(body)
    response = await web.post(
        "/oauth/token", content=stream,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    assert_refused(response, limit)
    assert stream.sent <= limit + CHUNK
    assert_refused(await web.post("/oauth/revoke", data={"token": "x" * limit}), limit)


async def test_the_account_pages_refuse_oversized_bodies(web, owner, services, target):
    _, _, email = target
    limit = services.settings.max_form_bytes
    ip = web._transport.client[0]
    before = await attempts_counted(owner, services, email, ip)
    for path in ("/account/password-reset", "/account/security"):
        page = await web.get(path)
        fields = {**form_fields(page.text), "email": email, "password": "a wrong guess"}
        assert_refused(await web.post(path, data={**fields, "pad": "x" * limit}), limit)
    assert await attempts_counted(owner, services, email, ip) == before
