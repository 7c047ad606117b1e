"""`User.signInStatus`: whether a tenant's user can sign in yet, for the tenant's
admin, the same for a new address as for an existing account until the person acts,
and one statement for a page of users."""

from __future__ import annotations

import uuid

from account_helpers import PASSWORD, set_password
from sqlalchemy import func, select

from app.accounts import invitations
from app.accounts.tables import accounts

STATUSES = "{ users(first: %d) { edges { node { email signInStatus } } } }"
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { signInStatus } userErrors { code } } }"""


async def statuses(api, tenant, first: int = 100) -> dict[str, str | None]:
    data = await api.gql(STATUSES % first, token=tenant.tokens["admin"])
    return {e["node"]["email"]: e["node"]["signInStatus"] for e in data["users"]["edges"]}


async def account_id(owner, email: str) -> uuid.UUID:
    async with owner.connect() as conn:
        return await conn.scalar(
            select(accounts.c.id).where(func.lower(accounts.c.email) == email.lower())
        )


async def test_the_status_follows_what_the_person_did(
    api, services, owner, away, member, deliver_mail
):
    fresh = f"st{uuid.uuid4().hex[:8]}@example.com"
    for email in (fresh, member.email):
        created = await api.gql(
            CREATE_USER, {"input": {"email": email, "role": "viewer"}}, token=away.tokens["admin"]
        )
        assert created["createUser"] == {"user": {"signInStatus": "INVITED"}, "userErrors": []}
    await deliver_mail()
    assert {k: v for k, v in (await statuses(api, away)).items() if k in (fresh, member.email)} == {
        fresh: "INVITED",
        member.email: "INVITED",
    }

    await set_password(services, await account_id(owner, fresh), PASSWORD)
    async with services.engine.begin() as conn:
        await invitations.accept(
            conn, account_id=member.account_id, tenant_id=away.id, ip="192.0.2.1"
        )
    now = await statuses(api, away)
    assert (now[fresh], now[member.email]) == ("ACTIVE", "ACTIVE")


async def test_a_declined_invitation_shows_as_no_account(api, services, away, member, deliver_mail):
    await api.gql(
        CREATE_USER, {"input": {"email": member.email, "role": "viewer"}},
        token=away.tokens["admin"],
    )  # fmt: skip
    await deliver_mail()
    async with services.engine.begin() as conn:
        await invitations.decline(
            conn, account_id=member.account_id, tenant_id=away.id, ip="192.0.2.1"
        )
    assert (await statuses(api, away))[member.email] == "NO_ACCOUNT"


async def test_only_those_who_manage_users_see_it(api, away):
    # Refused, not hidden, like every other field a permission guards.
    [error] = await api.errors("{ me { user { signInStatus } } }", token=away.tokens["viewer"])
    assert (error["extensions"]["code"], error["path"]) == (
        "FORBIDDEN",
        ["me", "user", "signInStatus"],
    )
    data = await api.gql("{ me { user { signInStatus } } }", token=away.tokens["admin"])
    assert data["me"]["user"]["signInStatus"] in ("ACTIVE", "INVITED")


async def test_a_page_of_users_costs_one_statement_whatever_its_length(api, away, sql_counter):
    await statuses(api, away, first=1)
    one = sql_counter.count
    sql_counter.statements.clear()
    many = await statuses(api, away, first=50)
    assert len(many) > 3
    assert sql_counter.count == one
