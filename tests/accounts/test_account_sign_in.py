"""Signing in with a password: one refusal for unknown emails and wrong passwords,
the per-account lockout, the per-IP throttle, and failures recorded in the account's
own history, never in a tenant's audit log."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from account_helpers import (
    PASSWORD,
    account_history,
    account_row,
    add_member,
    audit_rows,
    fake_ip,
    set_password,
)
from argon2 import PasswordHasher
from sqlalchemy import func, update

from app.accounts import throttle
from app.accounts.passwords import needs_rehash
from app.accounts.service import SignedInAccount, SignInRefused, sign_in_with_password
from app.accounts.tables import accounts


async def refusal(services, **credentials) -> SignInRefused:
    with pytest.raises(SignInRefused) as refused:
        await sign_in_with_password(services, **credentials)
    return refused.value


async def test_the_right_password_signs_in_whatever_the_email_case(services, member):
    signed_in = await sign_in_with_password(
        services, email=f"  {member.email.upper()} ", password=PASSWORD, ip=fake_ip()
    )
    assert signed_in == SignedInAccount(id=member.account_id, email=member.email)


async def test_unknown_email_wrong_password_and_no_password_look_the_same(services, home, member):
    ip = fake_ip()
    passwordless = await add_member(services, home, f"np{uuid.uuid4().hex[:8]}@example.com")
    refusals = [
        await refusal(services, email=member.email, password="not the password", ip=ip),
        await refusal(services, email="nobody@nowhere.example", password=PASSWORD, ip=ip),
        await refusal(services, email=passwordless.email, password="anything at all", ip=ip),
        await refusal(services, email=member.email, password="", ip=ip),
    ]
    assert {(r.code, r.message) for r in refusals} == {
        ("INVALID_CREDENTIALS", "The email address or password is incorrect.")
    }


async def test_five_failures_lock_the_account_even_against_the_right_password(
    services, owner, member
):
    ip = fake_ip()
    for _ in range(throttle.LOCKOUT_AFTER):
        refused = await refusal(services, email=member.email, password="guess guess", ip=ip)
        assert refused.code == "INVALID_CREDENTIALS"
    locked = await account_row(owner, member.account_id)
    assert locked.failed_sign_ins == throttle.LOCKOUT_AFTER and locked.locked_until is not None

    refused = await refusal(services, email=member.email, password=PASSWORD, ip=ip)
    assert refused.code == "LOCKED"

    # The lock ran out (moved into the past rather than waited for).
    async with owner.begin() as conn:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == member.account_id)
            .values(locked_until=func.now() - dt.timedelta(seconds=1))
        )
    signed_in = await sign_in_with_password(services, email=member.email, password=PASSWORD, ip=ip)
    assert signed_in.id == member.account_id
    cleared = await account_row(owner, member.account_id)
    assert (cleared.failed_sign_ins, cleared.locked_until) == (0, None)


async def test_a_failure_after_the_lock_ran_out_locks_again_at_once(services, owner, member):
    ip = fake_ip()
    for _ in range(throttle.LOCKOUT_AFTER):
        await refusal(services, email=member.email, password="guess guess", ip=ip)
    async with owner.begin() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == member.account_id).values(locked_until=None)
        )
    assert (await refusal(services, email=member.email, password="guess", ip=ip)).code == (
        "INVALID_CREDENTIALS"
    )
    assert (await refusal(services, email=member.email, password=PASSWORD, ip=ip)).code == "LOCKED"


async def test_a_success_resets_the_run_of_failures(services, owner, member):
    ip = fake_ip()
    for _ in range(throttle.LOCKOUT_AFTER - 1):
        await refusal(services, email=member.email, password="guess guess", ip=ip)
    await sign_in_with_password(services, email=member.email, password=PASSWORD, ip=ip)
    assert (await account_row(owner, member.account_id)).failed_sign_ins == 0
    await refusal(services, email=member.email, password="guess guess", ip=ip)
    await sign_in_with_password(services, email=member.email, password=PASSWORD, ip=ip)


async def test_too_many_failures_from_one_ip_refuse_it_whoever_signs_in(services, member):
    ip = fake_ip()
    for n in range(throttle.SIGN_IN_FAILURES_PER_IP.limit):
        refused = await refusal(
            services, email=f"guess{n}@nowhere.example", password="guess guess", ip=ip
        )
        assert refused.code == "INVALID_CREDENTIALS"
    refused = await refusal(services, email=member.email, password=PASSWORD, ip=ip)
    assert refused.code == "THROTTLED"
    # Only that IP: the account itself is fine.
    await sign_in_with_password(services, email=member.email, password=PASSWORD, ip=fake_ip())


async def test_successes_do_not_use_up_the_ips_window(services, member):
    ip = fake_ip()
    for _ in range(throttle.SIGN_IN_FAILURES_PER_IP.limit):
        await sign_in_with_password(services, email=member.email, password=PASSWORD, ip=ip)
    refused = await refusal(services, email=member.email, password="guess guess", ip=ip)
    assert refused.code == "INVALID_CREDENTIALS"


async def test_failures_are_the_accounts_own_and_in_no_tenants_audit_log(
    services, owner, home, away, elsewhere
):
    email = f"both{uuid.uuid4().hex[:8]}@example.com"
    at_home = await add_member(services, home, email)
    at_away = await add_member(services, away, email, role="viewer")
    assert at_home.account_id == at_away.account_id
    await set_password(services, at_home.account_id, PASSWORD)
    ip = fake_ip()

    await refusal(services, email=email, password="not the password", ip=ip)

    [event] = await account_history(owner, at_home.account_id, "sign_in.failed")
    assert event.details == {"ip": ip, "reason": "wrong_password"}
    for tenant in (home, away, elsewhere):
        assert await audit_rows(owner, tenant, "sign_in.failed", at_home.account_id) == []


async def test_the_failure_that_locks_says_until_when(services, owner, member):
    ip = fake_ip()
    for _ in range(throttle.LOCKOUT_AFTER):
        await refusal(services, email=member.email, password="guess guess", ip=ip)
    await refusal(services, email=member.email, password=PASSWORD, ip=ip)
    events = await account_history(owner, member.account_id, "sign_in.failed")
    assert ["lockedUntil" in e.details for e in events] == [False] * 4 + [True, False]
    locked_until = (await account_row(owner, member.account_id)).locked_until
    assert dt.datetime.fromisoformat(events[4].details["lockedUntil"]) == locked_until
    assert events[-1].details == {"ip": ip, "reason": "locked"}


async def test_a_hash_made_with_older_parameters_is_rehashed_on_sign_in(services, owner, member):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with owner.begin() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == member.account_id).values(password_hash=weak)
        )
    await sign_in_with_password(services, email=member.email, password=PASSWORD, ip=fake_ip())
    rehashed = (await account_row(owner, member.account_id)).password_hash
    assert rehashed != weak and not needs_rehash(rehashed)
    await sign_in_with_password(services, email=member.email, password=PASSWORD, ip=fake_ip())
