"""changePassword over GraphQL: the signed-in user's own account."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from account_helpers import (
    PASSWORD,
    Member,
    account_history,
    account_row,
    add_member,
    audit_rows,
    fake_ip,
    set_password,
)
from sqlalchemy import func, insert, select, update

from app.accounts import throttle
from app.accounts.service import SignInRefused, sign_in_with_password
from app.accounts.tables import accounts
from app.oauth.secrets import hash_secret, new_secret
from app.oauth.tables import oauth_clients, refresh_tokens

CHANGE = """
mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { ok userErrors { field code message } }
}"""
NEW_PASSWORD = "a brand new passphrase"


async def change(api, member: Member, current: str, new: str) -> dict:
    data = await api.gql(
        CHANGE, {"input": {"currentPassword": current, "newPassword": new}}, token=member.token
    )
    return data["changePassword"]


async def signs_in(services, member: Member, password: str) -> bool:
    try:
        await sign_in_with_password(services, email=member.email, password=password, ip=fake_ip())
    except SignInRefused:
        return False
    return True


async def issue_refresh_token(owner, tenant, member: Member) -> bytes:
    """A refresh token of the member's, as the authorization server would store it."""
    client_id = f"spa-{uuid.uuid4().hex[:8]}"
    token_hash = hash_secret(new_secret())
    async with owner.begin() as conn:
        await conn.execute(
            insert(oauth_clients).values(
                client_id=client_id, kind="spa", name="Test SPA",
                redirect_uris=["http://127.0.0.1/cb"],
            )
        )  # fmt: skip
        await conn.execute(
            insert(refresh_tokens).values(
                token_hash=token_hash, family_id=uuid.uuid4(), client_id=client_id,
                tenant_id=tenant.id, user_id=member.user_id, account_id=member.account_id,
                expires_at=func.now() + dt.timedelta(days=30),
            )
        )  # fmt: skip
    return token_hash


async def revoked(owner, token_hash: bytes) -> bool:
    async with owner.connect() as conn:
        return (
            await conn.scalar(
                select(refresh_tokens.c.revoked_at).where(refresh_tokens.c.token_hash == token_hash)
            )
        ) is not None


async def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failure(
    api, services, owner, member
):
    payload = await change(api, member, "not my password", NEW_PASSWORD)
    assert payload["ok"] is False
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("currentPassword", "INVALID")
    ]
    assert (await account_row(owner, member.account_id)).failed_sign_ins == 1
    assert await signs_in(services, member, PASSWORD)
    assert not await signs_in(services, member, NEW_PASSWORD)


async def test_simultaneous_wrong_current_passwords_lock_like_one_after_another(api, owner, member):
    """A stolen access token firing guesses at once gets no more than the lockout."""
    payloads = await asyncio.gather(
        *(change(api, member, f"guess number {n}", NEW_PASSWORD) for n in range(12))
    )
    codes = sorted(e["code"] for p in payloads for e in p["userErrors"])
    assert codes == ["INVALID"] * throttle.LOCKOUT_AFTER + ["LOCKED"] * (
        12 - throttle.LOCKOUT_AFTER
    )
    row = await account_row(owner, member.account_id)
    assert row.failed_sign_ins == throttle.LOCKOUT_AFTER and row.locked_until is not None


async def test_a_new_password_against_the_policy_names_new_password(api, services, member):
    payload = await change(api, member, PASSWORD, "too short")
    assert payload["ok"] is False
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("newPassword", "TOO_SHORT")
    ]
    payload = await change(api, member, PASSWORD, f"mine is {member.email}")
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("newPassword", "CONTAINS_EMAIL")
    ]
    assert await signs_in(services, member, PASSWORD)


async def test_both_mistakes_are_reported_together(api, member):
    payload = await change(api, member, "not my password", "short")
    assert sorted(e["field"] for e in payload["userErrors"]) == ["currentPassword", "newPassword"]


async def test_changing_the_password_ends_the_accounts_sessions_and_is_audited(
    api, services, owner, home, away, member
):
    bystander = await add_member(services, home, f"by{uuid.uuid4().hex[:8]}@example.com")
    mine = await issue_refresh_token(owner, home, member)
    theirs = await issue_refresh_token(owner, home, bystander)

    payload = await change(api, member, PASSWORD, NEW_PASSWORD)
    assert payload == {"ok": True, "userErrors": []}

    assert await signs_in(services, member, NEW_PASSWORD)
    assert not await signs_in(services, member, PASSWORD)
    assert await revoked(owner, mine)
    assert not await revoked(owner, theirs)
    assert (await account_row(owner, member.account_id)).password_changed_at is not None
    [row] = await audit_rows(owner, home, "account.password_changed", member.account_id)
    assert (row.actor_kind, row.entity_type, row.entity_id) == (
        "account",
        "account",
        member.user_id,
    )
    assert len(await account_history(owner, member.account_id, "account.password_changed")) == 1


async def test_a_password_change_is_audited_only_in_the_tenant_it_was_made_in(
    api, services, owner, home, away
):
    email = f"two{uuid.uuid4().hex[:8]}@example.com"
    at_home = await add_member(services, home, email)
    await add_member(services, away, email)
    await set_password(services, at_home.account_id, PASSWORD)

    assert (await change(api, at_home, PASSWORD, NEW_PASSWORD))["ok"] is True

    assert len(await audit_rows(owner, home, "account.password_changed", at_home.account_id)) == 1
    assert await audit_rows(owner, away, "account.password_changed", at_home.account_id) == []


async def test_a_locked_account_cannot_change_its_password(api, owner, member):
    async with owner.begin() as conn:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == member.account_id)
            .values(locked_until=func.now() + dt.timedelta(seconds=throttle.LOCKOUT_SECONDS))
        )
    payload = await change(api, member, PASSWORD, NEW_PASSWORD)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("currentPassword", "LOCKED")
    ]


async def test_an_account_without_a_password_is_told_to_use_the_reset_mail(api, services, home):
    passwordless = await add_member(services, home, f"np{uuid.uuid4().hex[:8]}@example.com")
    payload = await change(api, passwordless, "", NEW_PASSWORD)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("currentPassword", "NO_PASSWORD")
    ]


async def test_changing_a_password_needs_a_signed_in_user(api):
    variables = {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}}
    response = await api.post(CHANGE, variables, token=None)
    assert response.status_code == 401
