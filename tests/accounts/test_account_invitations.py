"""Invitations: a tenant that adds an account that already existed (createUser with
its email) is not offered at that person's password sign-in until they accept on
/account/invitations (their password, then Accept or Decline); a new email is linked
at once, as before. The inviting tenant cannot tell which of the two it was."""

from __future__ import annotations

import re
import uuid

import httpx
from account_helpers import (
    PASSWORD,
    account_history,
    account_row,
    add_member,
    csrf_of,
    set_password,
)
from flows import (
    authorization,
    choose_tenant,
    code_from,
    form_fields,
    open_sign_in,
    redeem,
    register_spa,
    submit_password,
)
from sqlalchemy import select

from app.accounts import throttle
from app.accounts.tables import accounts, memberships
from app.db import tenant_transaction
from app.main import create_app
from app.users.tables import users

PAGE = "/account/invitations"
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) {
    user { email name role active teamId distributorId version signInStatus }
    userErrors { field code message } } }"""
ME = "{ me { user { email } tenant { slug } } }"
FORM = re.compile(r"<form.*?</form>", re.S)


async def create_user(api, tenant, email: str) -> dict:
    data = await api.gql(
        CREATE_USER, {"input": {"email": email, "role": "viewer", "name": "Invited"}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    return data["createUser"]


async def show_invitations(
    web: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    form = await web.get(PAGE)
    assert form.status_code == 200, form.text
    return await web.post(PAGE, data={"csrf": csrf_of(form), "email": email, "password": password})


async def answer(
    web: httpx.AsyncClient, listed: httpx.Response, tenant_id: uuid.UUID, decision: str
) -> httpx.Response:
    """Press Accept or Decline on the tenant's row of the list."""
    assert listed.status_code == 200, listed.text
    [form] = [f for f in FORM.findall(listed.text) if str(tenant_id) in f]
    return await web.post(PAGE, data={**form_fields(form), "decision": decision})


async def membership(owner, account_id: uuid.UUID, tenant_id: uuid.UUID):
    async with owner.connect() as conn:
        return (
            await conn.execute(
                select(memberships).where(
                    memberships.c.account_id == account_id, memberships.c.tenant_id == tenant_id
                )
            )
        ).first()


async def password_sign_in(web: httpx.AsyncClient, spa: str, email: str):
    auth = authorization(spa)
    await open_sign_in(web, auth)
    return auth, await submit_password(web, auth, email, PASSWORD)


async def test_an_existing_account_is_invited_and_joins_only_once_it_accepts(
    api, browser, owner, services, home, away, elsewhere, member, smtp, deliver_mail
):
    # The person is in `home` and `elsewhere` (accepted); `away` adds them.
    await add_member(services, elsewhere, member.email)
    created = await create_user(api, away, member.email)
    assert created["userErrors"] == []
    pending = await membership(owner, member.account_id, away.id)
    assert pending is not None and pending.accepted_at is None
    spa = await register_spa(owner, None)

    auth, chooser = await password_sign_in(browser, spa, member.email)
    assert chooser.status_code == 200, chooser.text
    assert home.slug in chooser.text and elsewhere.slug in chooser.text
    assert away.slug not in chooser.text
    # Not even by posting its slug to the chooser.
    refused = await choose_tenant(browser, auth, away.slug)
    assert refused.status_code == 403 and "location" not in refused.headers

    await deliver_mail()
    [invitation] = [m for m in smtp.messages_to(member.email) if PAGE in m.text]
    tenant_name = away.slug.title()
    assert tenant_name in invitation.message["Subject"]
    assert (
        tenant_name in invitation.text and "您好" in invitation.text and "Hello" in invitation.text
    )
    assert f"{services.settings.issuer.rstrip('/')}{PAGE}" in invitation.text

    listed = await show_invitations(browser, member.email)
    assert tenant_name in listed.text
    assert home.slug.title() not in listed.text  # accepted ones are not invitations
    accepted = await answer(browser, listed, away.id, "accept")
    assert accepted.status_code == 200 and "Invitation accepted" in accepted.text
    assert str(away.id) not in accepted.text
    assert (await membership(owner, member.account_id, away.id)).accepted_at is not None
    events = await account_history(owner, member.account_id, "invitation.accepted")
    assert [e.details["tenantId"] for e in events] == [str(elsewhere.id), str(away.id)]

    auth, chooser = await password_sign_in(browser, spa, member.email)
    assert away.slug in chooser.text and home.slug in chooser.text
    code = code_from(await choose_tenant(browser, auth, away.slug), auth)
    tokens = (await redeem(browser, auth, code)).json()
    me = (await api.gql(ME, token=tokens["access_token"]))["me"]
    assert me == {"user": {"email": member.email}, "tenant": {"slug": away.slug}}


async def test_declining_removes_the_membership_and_keeps_the_user(
    api, browser, owner, services, away, member, smtp, deliver_mail
):
    await create_user(api, away, member.email)
    await deliver_mail()
    spa = await register_spa(owner, None)
    _, only_home = await password_sign_in(browser, spa, member.email)
    assert only_home.status_code == 303  # one tenant: no chooser

    declined = await answer(browser, await show_invitations(browser, member.email), away.id,
                            "decline")  # fmt: skip
    assert declined.status_code == 200 and "Invitation declined" in declined.text
    assert await membership(owner, member.account_id, away.id) is None
    async with tenant_transaction(owner, away.schema) as conn:
        assert await conn.scalar(select(users.c.id).where(users.c.email == member.email))
    [event] = await account_history(owner, member.account_id, "invitation.declined")
    assert event.details["tenantId"] == str(away.id)
    assert (await show_invitations(browser, member.email)).text.count("decision") == 0


async def test_a_new_email_is_linked_at_once_without_an_invitation(
    api, browser, owner, services, away, smtp, deliver_mail
):
    email = f"fresh{uuid.uuid4().hex[:8]}@example.com"
    created = await create_user(api, away, email)
    assert created["userErrors"] == []
    await deliver_mail()
    assert smtp.messages_to(email) == []
    async with owner.connect() as conn:
        row = (
            await conn.execute(
                select(memberships)
                .join(accounts, accounts.c.id == memberships.c.account_id)
                .where(accounts.c.email == email)
            )
        ).one()
    assert row.accepted_at is not None
    await set_password(services, row.account_id, PASSWORD)
    spa = await register_spa(owner, None)
    auth, response = await password_sign_in(browser, spa, email)
    tokens = (await redeem(browser, auth, code_from(response, auth))).json()
    assert (await api.gql(ME, token=tokens["access_token"]))["me"]["tenant"]["slug"] == away.slug


async def test_the_create_user_answer_is_the_same_whether_the_account_existed(
    api, away, member, deliver_mail
):
    fresh = await create_user(api, away, f"new{uuid.uuid4().hex[:8]}@example.com")
    existing = await create_user(api, away, member.email)
    await deliver_mail()
    for payload in (fresh, existing):
        payload["user"].pop("email")
    assert fresh == existing
    assert fresh["user"]["signInStatus"] == "INVITED"


async def test_wrong_passwords_on_the_page_count_and_lock_like_sign_ins(browser, owner, member):
    for _ in range(throttle.LOCKOUT_AFTER):
        wrong = await show_invitations(browser, member.email, "a wrong guess")
        assert wrong.status_code == 401 and "decision" not in wrong.text
    locked = await account_row(owner, member.account_id)
    assert locked.failed_sign_ins == throttle.LOCKOUT_AFTER and locked.locked_until is not None
    refused = await show_invitations(browser, member.email)
    assert refused.status_code == 401 and "锁定" in refused.text
    assert len(await account_history(owner, member.account_id, "sign_in.failed")) == (
        throttle.LOCKOUT_AFTER + 1
    )


async def test_answers_need_a_fresh_ticket_of_this_browser(
    api, browser, services, owner, away, member, deliver_mail
):
    await create_user(api, away, member.email)
    await deliver_mail()
    listed = await show_invitations(browser, member.email)
    [form] = [f for f in FORM.findall(listed.text) if str(away.id) in f]
    fields = form_fields(form)

    forged = await browser.post(PAGE, data={**fields, "ticket": "x" * 43, "decision": "accept"})
    assert forged.status_code == 401
    # The real ticket in another browser (its own CSRF cookie): refused, and used up.
    transport = httpx.ASGITransport(app=create_app(services.settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as other:
        csrf = csrf_of(await other.get(PAGE))
        stolen = await other.post(PAGE, data={**fields, "csrf": csrf, "decision": "accept"})
    assert stolen.status_code == 401
    assert (await membership(owner, member.account_id, away.id)).accepted_at is None
    # The owner enters the password again; a ticket answers once.
    listed = await show_invitations(browser, member.email)
    accepted = await answer(browser, listed, away.id, "accept")
    assert accepted.status_code == 200
    replay = await browser.post(PAGE, data={**form_fields(FORM.findall(listed.text)[0]),
                                            "decision": "decline"})  # fmt: skip
    assert replay.status_code == 401
    assert (await membership(owner, member.account_id, away.id)).accepted_at is not None


async def test_the_inviting_tenant_learns_nothing_of_the_account_elsewhere(
    api, browser, owner, home, away, member, deliver_mail
):
    await create_user(api, away, member.email)
    await deliver_mail()
    await answer(browser, await show_invitations(browser, member.email), away.id, "accept")
    data = await api.gql(
        "{ users(first: 100) { edges { node { email signInStatus } } } "
        "auditLog(first: 100) { edges { node { action actorId entityType changes } } } }",
        token=away.tokens["admin"],
    )
    emails = {e["node"]["email"]: e["node"]["signInStatus"] for e in data["users"]["edges"]}
    assert emails[member.email] == "ACTIVE"
    assert not any(home.slug in email for email in emails)
    seen = repr(data)
    for secret in (home.slug, str(home.id), str(member.account_id), "invitation."):
        assert secret not in seen
    # And the other way round: `home` sees nothing of `away`.
    theirs = await api.gql("{ users(first: 100) { edges { node { email } } } }",
                           token=home.tokens["admin"])  # fmt: skip
    assert away.slug not in repr(theirs)


async def test_the_sign_in_page_links_the_invitations_page(client, owner):
    auth = authorization(await register_spa(owner, None))
    page = await open_sign_in(client, auth)
    assert f'href="{client._transport.app.state.services.settings.issuer}{PAGE}"' in page.text
