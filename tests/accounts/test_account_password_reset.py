"""Resetting a password by email, end to end: the pages over HTTP, the outbox, the
real worker mailing through a real SMTP server, the link read back from the mail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from account_helpers import (
    PASSWORD,
    Member,
    account_history,
    account_row,
    add_member,
    audit_rows,
    csrf_of,
    fake_ip,
    reset_path,
    set_password,
)
from arq import Retry
from flows import authorization, open_sign_in, register_spa, submit_password
from peers.smtp import free_port
from sqlalchemy import func, select, update

from app.accounts import throttle
from app.accounts.pages import CSRF_COOKIE
from app.accounts.reset import CONFIRM_PATH, SEND_RESET_MAIL
from app.accounts.service import SignInRefused, sign_in_with_password
from app.accounts.tables import password_resets
from app.oauth.secrets import hash_secret
from tenants.catalog import outbox
from workers.tasks import MAIL_MAX_TRIES, send_password_reset_mail

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
REQUEST = "/account/password-reset"
NEW_PASSWORD = "a freshly reset passphrase"
CREATE_USER = (OPERATIONS / "createUser.graphql").read_text()
AUDIT_LOG = """query($filter: AuditLogFilter) {
  auditLog(first: 100, filter: $filter) {
    edges { node { actorId actorKind action entityType entityId changes } }
  }
}"""


async def ask_for_link(browser, email: str):
    form = await browser.get(REQUEST)
    assert form.status_code == 200
    return await browser.post(REQUEST, data={"csrf": csrf_of(form), "email": email})


async def choose(browser, path: str, new_password: str, repeat: str | None = None):
    form = await browser.get(path)
    assert form.status_code == 200, form.text
    token = path.split("token=", 1)[1]
    return await browser.post(
        CONFIRM_PATH,
        data={
            "csrf": csrf_of(form), "token": token, "new_password": new_password,
            "repeat_password": new_password if repeat is None else repeat,
        },
    )  # fmt: skip


async def mailed_link(smtp, deliver_mail, member: Member, *, count: int = 1) -> str:
    await deliver_mail()
    mails = smtp.messages_to(member.email)
    assert len(mails) == count, [m.text for m in mails]
    return reset_path(mails[-1].text)


async def signs_in(services, member: Member, password: str) -> bool:
    try:
        await sign_in_with_password(services, email=member.email, password=password, ip=fake_ip())
    except SignInRefused:
        return False
    return True


async def test_a_mailed_link_resets_the_password_once(
    browser, services, owner, home, member, smtp, deliver_mail
):
    sent = await ask_for_link(browser, member.email.upper())
    assert sent.status_code == 200
    assert "If an account exists for" in sent.text

    await deliver_mail()
    [mail] = smtp.messages_to(member.email)
    assert mail.message["Subject"] == "重设 kehu 密码 / Reset your kehu password"
    assert mail.message["From"] == services.settings.mail_from
    assert "您好" in mail.text and "Hello" in mail.text
    assert f"{services.settings.issuer}{CONFIRM_PATH}?token=" in mail.text
    path = reset_path(mail.text)

    page = await browser.get(path)
    assert page.status_code == 200 and member.email in page.text
    # A password against the policy leaves the link usable.
    refused = await choose(browser, path, "too short")
    assert refused.status_code == 400 and "at least 10 characters" in refused.text
    differ = await choose(browser, path, NEW_PASSWORD, repeat=NEW_PASSWORD + "!")
    assert differ.status_code == 400 and "The two passwords differ" in differ.text

    done = await choose(browser, path, NEW_PASSWORD)
    assert done.status_code == 200 and "Password changed" in done.text

    assert await signs_in(services, member, NEW_PASSWORD)
    assert not await signs_in(services, member, PASSWORD)
    assert (await browser.get(path)).status_code == 400
    again = await browser.post(
        CONFIRM_PATH,
        data={
            "csrf": browser.cookies[CSRF_COOKIE], "token": path.split("token=", 1)[1],
            "new_password": "yet another passphrase", "repeat_password": "yet another passphrase",
        },
    )  # fmt: skip
    assert again.status_code == 400 and "already used" in again.text
    assert await signs_in(services, member, NEW_PASSWORD)
    assert len(await account_history(owner, member.account_id, "account.password_reset")) == 1
    assert await audit_rows(owner, home, "account.password_reset", member.account_id) == []


async def test_a_reset_clears_the_lockout(browser, services, owner, member, smtp, deliver_mail):
    for _ in range(throttle.LOCKOUT_AFTER):
        with pytest.raises(SignInRefused):
            await sign_in_with_password(
                services, email=member.email, password="guess guess", ip=fake_ip()
            )
    await ask_for_link(browser, member.email)
    path = await mailed_link(smtp, deliver_mail, member)
    assert (await choose(browser, path, NEW_PASSWORD)).status_code == 200
    row = await account_row(owner, member.account_id)
    assert (row.failed_sign_ins, row.locked_until) == (0, None)
    assert await signs_in(services, member, NEW_PASSWORD)


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    browser, member, smtp, deliver_mail
):
    unknown = f"nobody{uuid.uuid4().hex[:8]}@example.com"
    before = len(smtp.messages_to(member.email))
    known_answer = await ask_for_link(browser, member.email)
    unknown_answer = await ask_for_link(browser, unknown)
    assert unknown_answer.status_code == known_answer.status_code == 200
    assert unknown_answer.text.replace(unknown, "X") == known_answer.text.replace(member.email, "X")
    await deliver_mail()
    assert smtp.messages_to(unknown) == []
    assert len(smtp.messages_to(member.email)) == before + 1


async def test_a_new_link_invalidates_the_ones_mailed_before(
    browser, services, member, smtp, deliver_mail
):
    await ask_for_link(browser, member.email)
    first = await mailed_link(smtp, deliver_mail, member)
    await ask_for_link(browser, member.email)
    second = await mailed_link(smtp, deliver_mail, member, count=2)
    assert (await browser.get(first)).status_code == 400
    assert (await choose(browser, second, NEW_PASSWORD)).status_code == 200
    assert await signs_in(services, member, NEW_PASSWORD)


async def test_an_expired_link_resets_nothing(browser, services, owner, member, smtp, deliver_mail):
    await ask_for_link(browser, member.email)
    path = await mailed_link(smtp, deliver_mail, member)
    form = await browser.get(path)
    async with owner.begin() as conn:
        await conn.execute(
            update(password_resets)
            .where(password_resets.c.account_id == member.account_id)
            .values(expires_at=func.now() - dt.timedelta(seconds=1))
        )
    assert (await browser.get(path)).status_code == 400
    posted = await browser.post(
        CONFIRM_PATH,
        data={
            "csrf": csrf_of(form), "token": path.split("token=", 1)[1],
            "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD,
        },
    )  # fmt: skip
    assert posted.status_code == 400 and "expired" in posted.text
    assert await signs_in(services, member, PASSWORD)


async def test_a_post_without_the_matching_csrf_value_is_refused(
    browser, services, member, smtp, deliver_mail
):
    form = await browser.get(REQUEST)
    forged = await browser.post(REQUEST, data={"csrf": "x" * 43, "email": member.email})
    assert forged.status_code == 403
    browser.cookies.clear()
    no_cookie = await browser.post(REQUEST, data={"csrf": csrf_of(form), "email": member.email})
    assert no_cookie.status_code == 403
    await deliver_mail()
    assert smtp.messages_to(member.email) == []

    await ask_for_link(browser, member.email)
    path = await mailed_link(smtp, deliver_mail, member)
    await browser.get(path)
    forged = await browser.post(
        CONFIRM_PATH,
        data={
            "csrf": "y" * 43, "token": path.split("token=", 1)[1],
            "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD,
        },
    )  # fmt: skip
    assert forged.status_code == 403
    assert await signs_in(services, member, PASSWORD)


async def test_pages_are_uncacheable_unframeable_and_send_no_referrer(browser):
    page = await browser.get(REQUEST)
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    )
    cookie = page.headers["set-cookie"]
    assert f"{CSRF_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/account" in cookie


async def test_what_is_posted_is_escaped(browser):
    answer = await ask_for_link(browser, "<script>x</script>@example.com")
    assert "<script>" not in answer.text and "&lt;script&gt;" in answer.text


async def test_reset_requests_are_limited_per_address_and_per_ip(
    browser, services, member, smtp, deliver_mail
):
    for _ in range(throttle.RESET_REQUESTS_PER_ADDRESS.limit + 1):
        assert (await ask_for_link(browser, member.email)).status_code == 200
    await deliver_mail()
    assert len(smtp.messages_to(member.email)) == throttle.RESET_REQUESTS_PER_ADDRESS.limit

    used = throttle.RESET_REQUESTS_PER_ADDRESS.limit + 1
    for n in range(throttle.RESET_REQUESTS_PER_IP.limit - used):
        answer = await ask_for_link(browser, f"nobody{n}.{uuid.uuid4().hex[:6]}@example.com")
        assert answer.status_code == 200
    refused = await ask_for_link(browser, f"nobody.{uuid.uuid4().hex[:6]}@example.com")
    assert refused.status_code == 429


async def test_the_worker_retries_while_the_mail_server_is_down_then_gives_up(
    services, home, member
):
    unreachable = dataclasses.replace(services, settings=dataclasses.replace(
        services.settings, smtp_port=free_port()))  # fmt: skip
    job = {"tenant_id": str(uuid.UUID(int=0)), "account_id": str(member.account_id)}
    with pytest.raises(Retry):
        await send_password_reset_mail({"services": unreachable, "job_try": 1}, **job)
    gave_up = await send_password_reset_mail(
        {"services": unreachable, "job_try": MAIL_MAX_TRIES}, **job
    )
    assert gave_up == "gave up"


async def test_a_passwordless_account_can_set_its_first_password(
    browser, services, home, smtp, deliver_mail
):
    newcomer = await add_member(services, home, f"new{uuid.uuid4().hex[:8]}@example.com")
    await ask_for_link(browser, newcomer.email)
    path = await mailed_link(smtp, deliver_mail, newcomer)
    assert (await choose(browser, path, NEW_PASSWORD)).status_code == 200
    assert await signs_in(services, newcomer, NEW_PASSWORD)


async def test_the_token_is_kept_only_as_a_hash_and_never_queued(
    owner, member, browser, smtp, deliver_mail
):
    await ask_for_link(browser, member.email)
    path = await mailed_link(smtp, deliver_mail, member)
    token = path.split("token=", 1)[1]
    async with owner.connect() as conn:
        stored = (
            (
                await conn.execute(
                    select(password_resets.c.token_hash).where(
                        password_resets.c.account_id == member.account_id
                    )
                )
            )
            .scalars()
            .all()
        )
        queued = (
            (
                await conn.execute(
                    select(outbox.c.payload).where(
                        outbox.c.task == SEND_RESET_MAIL,
                        outbox.c.payload["account_id"].astext == str(member.account_id),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert stored == [hash_secret(token)]
    assert queued == [{"account_id": str(member.account_id)}]


async def test_a_tenant_that_adds_an_existing_account_sees_nothing_of_its_sign_in_history(
    api, browser, services, owner, home, away, smtp, deliver_mail
):
    """The person works in `away`; `home`'s admin makes their account a member of
    `home` too (createUser with their email). Their failed sign-in and password reset
    stay theirs: `home`'s audit log shows neither, nor the IP they came from."""
    email = f"shared{uuid.uuid4().hex[:8]}@example.com"
    person = await add_member(services, away, email)
    await set_password(services, person.account_id, PASSWORD)
    created = await api.gql(
        CREATE_USER, {"input": {"email": email, "role": "viewer", "name": "Shared"}},
        token=home.tokens["admin"],
    )  # fmt: skip
    assert created["createUser"]["userErrors"] == []
    home_user_id = created["createUser"]["user"]["id"]
    ip = browser._transport.client[0]

    auth = authorization(await register_spa(owner, None))
    await open_sign_in(browser, auth)
    assert (await submit_password(browser, auth, email, "not the password")).status_code == 401
    await ask_for_link(browser, email)
    await deliver_mail()
    # `home`'s invitation was mailed too: the reset mail is the one with the link.
    resets = [m for m in smtp.messages_to(email) if "/account/password-reset/confirm" in m.text]
    path = reset_path(resets[-1].text)
    assert (await choose(browser, path, NEW_PASSWORD)).status_code == 200

    async def home_log(filter_: dict | None) -> list[dict]:
        data = await api.gql(AUDIT_LOG, {"filter": filter_}, token=home.tokens["admin"])
        return [edge["node"] for edge in data["auditLog"]["edges"]]

    assert await home_log({"actorId": {"eq": str(person.account_id)}}) == []
    assert await home_log({"entityType": "account", "entityId": {"eq": home_user_id}}) == []
    newest = json.dumps(await home_log(None))
    assert ip not in newest and str(person.account_id) not in newest

    # They happened: the person's own history has them, with the IP.
    [failed] = await account_history(owner, person.account_id, "sign_in.failed")
    assert failed.details["ip"] == ip
    assert len(await account_history(owner, person.account_id, "account.password_reset")) == 1
