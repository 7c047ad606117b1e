"""/account/security: the account's owner, proving who they are with their password,
sees the account's own security events (newest first, the last 90 days, at most 50),
escaped; no other account, and no tenant admin through the audit log, sees them."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import httpx
from account_helpers import PASSWORD, account_history, add_member, csrf_of, fake_ip, set_password
from sqlalchemy import insert

from app.accounts import history
from app.accounts.tables import account_events
from app.main import create_app

PAGE = "/account/security"
ROW = re.compile(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>")
HOSTILE = "<script>alert(1)</script>"


async def show_history(
    web: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    form = await web.get(PAGE)
    assert form.status_code == 200, form.text
    return await web.post(PAGE, data={"csrf": csrf_of(form), "email": email, "password": password})


def rows(page: httpx.Response) -> list[tuple[str, str, str]]:
    assert page.status_code == 200, page.text
    return ROW.findall(page.text)


async def add_events(owner, account_id: uuid.UUID, *events: tuple[int, str, dict]) -> None:
    """Events `days` ago, as the services would have recorded them then."""
    async with owner.begin() as conn:
        await conn.execute(
            insert(account_events),
            [
                {"account_id": account_id, "action": action, "details": details,
                 "at": dt.datetime.now(dt.UTC) - dt.timedelta(days=days)}
                for days, action, details in events
            ],
        )  # fmt: skip


async def test_the_owner_sees_failed_sign_ins_with_their_ip_newest_first(browser, owner, member):
    await add_events(
        owner, member.account_id,
        (100, "account.password_reset", {}),  # older than the page shows
        (30, "account.password_changed", {}),
        (2, "sign_in.failed", {"ip": "203.0.113.9", "reason": "wrong_password",
                               "lockedUntil": "2026-11-22T03:15:00+00:00"}),
    )  # fmt: skip
    guessing_ip = browser._transport.client[0]
    wrong = await show_history(browser, member.email, "someone guessing")
    assert wrong.status_code == 401
    assert "203.0.113.9" not in wrong.text

    shown = rows(await show_history(browser, member.email))
    assert [(ip, what) for _, ip, what in shown] == [
        (guessing_ip, "登录失败：密码错误 / Failed sign-in: wrong password"),
        ("203.0.113.9", "登录失败：密码错误 / Failed sign-in: wrong password; "
                        "账户锁定至 / account locked until 2026-11-22 03:15:00 UTC"),
        ("—", "修改了密码 / Password changed"),
    ]  # fmt: skip
    times = [dt.datetime.strptime(at, "%Y-%m-%d %H:%M:%S UTC") for at, _, _ in shown]
    assert times == sorted(times, reverse=True)
    assert abs(times[0] - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(minutes=5)


async def test_at_most_fifty_events_are_shown(browser, owner, member):
    await add_events(
        owner, member.account_id,
        *((1 + n / 100, "sign_in.failed", {"ip": f"198.51.100.{n}", "reason": "wrong_password"})
          for n in range(history.SHOWN_AT_MOST + 10)),
    )  # fmt: skip
    shown = rows(await show_history(browser, member.email))
    assert len(shown) == history.SHOWN_AT_MOST
    # The newest fifty: 198.51.100.0 is the newest of the inserted ones.
    assert [ip for _, ip, _ in shown] == [f"198.51.100.{n}" for n in range(history.SHOWN_AT_MOST)]


async def test_a_forwarded_address_is_shown_escaped(services, owner, member):
    # Behind the trusted proxy (127.0.0.1), X-Forwarded-For is the address recorded.
    app = create_app(services.settings, services)
    proxied = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(
        transport=proxied, base_url="http://kehu.test", headers={"x-forwarded-for": HOSTILE}
    ) as attacker:
        assert (await show_history(attacker, member.email, "wrong guess")).status_code == 401
    [failed] = await account_history(owner, member.account_id, "sign_in.failed")
    assert failed.details["ip"] == HOSTILE

    direct = httpx.ASGITransport(app=app, client=(fake_ip(), 40000))
    async with httpx.AsyncClient(transport=direct, base_url="http://kehu.test") as web:
        page = await show_history(web, member.email)
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_another_account_sees_only_its_own_events(browser, services, owner, home, member):
    other = await add_member(services, home, f"o{uuid.uuid4().hex[:10]}@example.com")
    await set_password(services, other.account_id, "another good passphrase")
    await add_events(owner, member.account_id, (1, "sign_in.failed",
                                                {"ip": "192.0.2.77", "reason": "wrong_password"}))  # fmt: skip
    await add_events(owner, other.account_id, (1, "account.password_changed", {}))

    theirs = await show_history(browser, other.email, "another good passphrase")
    assert [what for _, _, what in rows(theirs)] == ["修改了密码 / Password changed"]
    assert "192.0.2.77" not in theirs.text and member.email not in theirs.text
    # Their password with the owner's email is a failed sign-in, and shows nothing.
    mixed = await show_history(browser, member.email, "another good passphrase")
    assert mixed.status_code == 401
    assert "192.0.2.77" not in mixed.text and not ROW.search(mixed.text)


async def test_a_tenant_admin_cannot_read_them_in_the_audit_log(browser, api, owner, home, member):
    guessing_ip = browser._transport.client[0]
    assert (await show_history(browser, member.email, "not the password")).status_code == 401
    assert await account_history(owner, member.account_id, "sign_in.failed")
    data = await api.gql(
        "{ auditLog(first: 100) { edges { node { action actorId entityId changes } } } }",
        token=home.tokens["admin"],
    )
    nodes = [edge["node"] for edge in data["auditLog"]["edges"]]
    assert nodes
    assert "sign_in.failed" not in {node["action"] for node in nodes}
    assert guessing_ip not in json.dumps(nodes)


async def test_the_form_needs_its_csrf_cookie(browser, owner, member):
    await browser.get(PAGE)
    response = await browser.post(
        PAGE, data={"csrf": "x" * 43, "email": member.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert not ROW.search(response.text)
    # Refused before the password was looked at: not even a failure is counted.
    assert not await account_history(owner, member.account_id, "sign_in.failed")
