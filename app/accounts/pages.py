"""The account pages, rendered on the server: asking for a password-reset link by
email (/account/password-reset), choosing the new password
(/account/password-reset/confirm), the account's own security history
(/account/security) and the tenants' invitations waiting for its answer
(/account/invitations).

There is no session here: the history and the invitations are shown in answer to the
account's email and password, checked as a sign-in is (counted, throttled, refused
while locked), and only that account's rows are read. Nothing is kept that a stolen
cookie could replay (the invitations' Accept and Decline carry a one-time ticket of
a few minutes, bound to the CSRF cookie), and no tenant or admin has a way in.

Nobody is signed in here, yet the POSTs are protected from cross-site forgery by a
double-submit cookie: a random value in an HttpOnly, SameSite=Lax cookie scoped to
/account, repeated in a hidden field; a POST whose two differ is refused (403).
Every page is uncacheable, unframeable, loads nothing from elsewhere and sends no
Referer (the confirm page's URL carries the reset token).
"""

from __future__ import annotations

import hmac
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from app.accounts import history, invitations, passwords, reset
from app.accounts.service import SignInRefused, sign_in_with_password
from app.accounts.tables import accounts
from app.errors import UserErrors
from app.oauth.secrets import new_secret
from app.validation import check_email

if TYPE_CHECKING:
    from app.api.context import Services

REQUEST_PATH = "/account/password-reset"
SECURITY_PATH = "/account/security"
CSRF_COOKIE = "kehu_csrf"
CSRF_FIELD = "csrf"
CSRF_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")
# The largest form here is two passwords of MAX_LENGTH characters, percent-encoded.
FORM_MAX_BYTES = 16 * 1024

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}

# What the confirm page says for each policy code of passwords.check_new_password.
POLICY_MESSAGES = {
    "TOO_SHORT": f"密码至少需要 {passwords.MIN_LENGTH} 个字符。"
    f"The password must be at least {passwords.MIN_LENGTH} characters.",
    "TOO_LONG": f"密码最多 {passwords.MAX_LENGTH} 个字符。"
    f"The password must be at most {passwords.MAX_LENGTH} characters.",
    "CONTAINS_EMAIL": "密码不能包含您的邮箱地址。The password must not contain your email address.",
    "TOO_COMMON": "这个密码太容易被猜到。This password is too easy to guess.",
}
SIGN_IN_REFUSALS = {
    "INVALID_CREDENTIALS": "邮箱或密码不正确。The email address or password is incorrect.",
    "LOCKED": "登录失败次数过多，账户已暂时锁定。可以通过邮件重设密码来解锁。"
    "Too many failed sign-ins: this account is locked for a while. Resetting the password"
    " by email unlocks it.",
    "THROTTLED": "来自您网络的登录失败次数过多，请稍后再试。"
    "Too many failed sign-ins from your network. Try again later.",
}
INVITATION_NOTICES = {
    "accept": "已接受邀请，登录时可以选择这家公司了。"
    "Invitation accepted: the company is now offered when you sign in.",
    "decline": "已拒绝邀请。Invitation declined.",
}
PASSWORDS_DIFFER = "两次输入的密码不一致。The two passwords differ."
INVALID_EMAIL = "请输入有效的邮箱地址。Enter a valid email address."

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)


def client_ip(request: Request) -> str:
    """The client's address. Behind a reverse proxy listed in KEHU_FORWARDED_ALLOW_IPS
    the app's proxy-headers middleware has replaced the proxy's address with the forwarded one; from
    anyone else X-Forwarded-For is ignored, so a client cannot choose the address it
    is throttled as."""
    return request.client.host if request.client else "unknown"


def _csrf_value(request: Request) -> str:
    existing = request.cookies.get(CSRF_COOKIE, "")
    return existing if CSRF_SHAPE.fullmatch(existing) else new_secret()


def _csrf_ok(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    submitted = form.get(CSRF_FIELD, "")
    return bool(CSRF_SHAPE.fullmatch(cookie)) and hmac.compare_digest(
        cookie.encode(), submitted.encode()
    )


async def _posted_form(request: Request, services: Services) -> dict[str, str] | HTMLResponse:
    """The POSTed form, or the page that refuses it: unreadable (400) or without the
    double-submitted CSRF value (403)."""
    form = await _read_form(request)
    if form is None:
        return _bad_request(request, services)
    if not _csrf_ok(request, form):
        return _forbidden(request, services)
    return form


def _page(
    request: Request, services: Services, template: str, *, status: int = 200, **values
) -> HTMLResponse:
    csrf = _csrf_value(request)
    body = _templates.get_template(template).render(csrf=csrf, **values)
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    response.set_cookie(
        CSRF_COOKIE, csrf, path="/account", httponly=True, samesite="lax",
        secure=services.settings.issuer.startswith("https://"),
    )  # fmt: skip
    return response


def _message(
    request: Request, services: Services, title: str, *lines: str, status: int = 200,
    link: str | None = None, link_text: str = "",
) -> HTMLResponse:  # fmt: skip
    return _page(
        request, services, "message.html", status=status, title=title, lines=lines,
        link=link, link_text=link_text,
    )  # fmt: skip


async def _read_form(request: Request) -> dict[str, str] | None:
    """The posted form's fields, or None if it is not a small urlencoded form."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            return None
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=10))
    except (UnicodeDecodeError, ValueError):
        return None


def _bad_request(request: Request, services: Services) -> HTMLResponse:
    return _message(request, services, "请求无效 / Bad request", status=400)


def _forbidden(request: Request, services: Services) -> HTMLResponse:
    return _message(
        request, services, "请求已过期 / Request expired",
        "请返回上一页，刷新后重新提交。Go back, reload the page and submit the form again.",
        status=403,
    )  # fmt: skip


def _invalid_link(request: Request, services: Services) -> HTMLResponse:
    return _message(
        request, services, "链接无效 / Link not valid",
        "这个链接无效、已过期或已被使用。This link is invalid, expired or already used.",
        status=400, link=REQUEST_PATH, link_text="重新获取链接 / Get a new link",
    )  # fmt: skip


def routes(services: Services) -> list[Route]:
    engine = services.engine

    def request_form(request: Request, *, email: str = "", error: str | None = None):
        return _page(
            request, services, "request.html", status=400 if error else 200,
            title="重设密码 / Reset your password", action=REQUEST_PATH, email=email,
            error=error,
        )  # fmt: skip

    async def ask_for_link(request: Request) -> HTMLResponse:
        if request.method != "POST":
            return request_form(request)
        form = await _posted_form(request, services)
        if isinstance(form, HTMLResponse):
            return form
        email = form.get("email", "").strip()
        if not email or check_email("email", email):
            return request_form(request, email=email, error=INVALID_EMAIL)
        try:
            await reset.request_password_reset(engine, services, email, client_ip(request))
        except reset.ResetThrottled:
            return _message(
                request, services, "请稍后再试 / Try again later",
                "重设密码的请求过多。Too many password reset requests from your network.",
                status=429,
            )  # fmt: skip
        return _message(
            request, services, "请查收邮件 / Check your email",
            f"如果有账户使用 {email}，我们已经把重设密码的链接发送到这个地址，"
            f"链接 {reset.LIFETIME_MINUTES} 分钟内有效。",
            f"If an account exists for {email}, we sent a link to reset its password to that"
            f" address. The link works for {reset.LIFETIME_MINUTES} minutes.",
        )  # fmt: skip

    def password_form(request: Request, *, token: str, email: str, error: str | None = None):
        return _page(
            request, services, "confirm.html", status=400 if error else 200,
            title="设置新密码 / Choose a new password", action=reset.CONFIRM_PATH,
            token=token, email=email, error=error,
            min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH,
        )  # fmt: skip

    async def choose_password(request: Request) -> HTMLResponse:
        if request.method != "POST":
            token = request.query_params.get("token", "")
            email = await reset.email_for_token(engine, token)
            if email is None:
                return _invalid_link(request, services)
            return password_form(request, token=token, email=email)
        form = await _posted_form(request, services)
        if isinstance(form, HTMLResponse):
            return form
        token = form.get("token", "")
        email = await reset.email_for_token(engine, token)
        if email is None:
            return _invalid_link(request, services)
        new_password = form.get("new_password", "")
        if new_password != form.get("repeat_password", ""):
            return password_form(request, token=token, email=email, error=PASSWORDS_DIFFER)
        try:
            await reset.complete_password_reset(engine, token, new_password)
        except UserErrors as refused:
            error = refused.errors[0]
            if error.field == "token":
                return _invalid_link(request, services)
            message = POLICY_MESSAGES.get(error.code, error.message)
            return password_form(request, token=token, email=email, error=message)
        return _message(
            request, services, "密码已更新 / Password changed",
            "现在可以用新密码登录了。其他设备上的登录已全部退出。",
            "You can now sign in with your new password. You were signed out everywhere else.",
        )  # fmt: skip

    async def _owner(request: Request, form: dict[str, str], form_page):
        """The account whose email and password were posted, checked as a sign-in is
        (counted, throttled, refused while locked); else `form_page` again, saying why."""
        email = form.get("email", "").strip()
        try:
            return await sign_in_with_password(
                services, email=email, password=form.get("password", ""), ip=client_ip(request)
            )
        except SignInRefused as refused:
            status = 429 if refused.code == "THROTTLED" else 401
            return form_page(
                request, email=email, error=SIGN_IN_REFUSALS[refused.code], status=status
            )

    def security_form(request: Request, *, email: str = "", error: str | None = None,
                      status: int = 200):  # fmt: skip
        return _page(
            request, services, "security.html", status=status,
            title="账户安全记录 / Your account's security history", action=SECURITY_PATH,
            email=email, error=error, days=history.SHOWN_DAYS, reset_link=REQUEST_PATH,
        )  # fmt: skip

    async def security_history(request: Request) -> HTMLResponse:
        if request.method != "POST":
            return security_form(request)
        form = await _posted_form(request, services)
        if isinstance(form, HTMLResponse):
            return form
        account = await _owner(request, form, security_form)
        if isinstance(account, HTMLResponse):
            return account
        async with engine.connect() as conn:
            events = await history.recent_events(conn, account.id)
        return _page(
            request, services, "history.html",
            title="账户安全记录 / Your account's security history", email=account.email,
            events=[history.describe(event) for event in events], days=history.SHOWN_DAYS,
            at_most=history.SHOWN_AT_MOST, reset_link=REQUEST_PATH,
        )  # fmt: skip

    def invitations_form(request: Request, *, email: str = "", error: str | None = None,
                         status: int = 200):  # fmt: skip
        return _page(
            request, services, "invitations.html", status=status,
            title="公司的邀请 / Invitations from companies",
            action=invitations.INVITATIONS_PATH, email=email, error=error,
            reset_link=REQUEST_PATH,
        )  # fmt: skip

    async def invitation_list(request: Request, account_id, email: str, notice: str = ""):
        async with engine.connect() as conn:
            waiting = await invitations.pending_invitations(conn, account_id)
        ticket = await invitations.issue_ticket(services, account_id, _csrf_value(request))
        shown = [
            {"tenant_id": i.tenant_id, "tenant_name": i.tenant_name,
             "invited_at": history.when(i.invited_at)}
            for i in waiting
        ]  # fmt: skip
        return _page(
            request, services, "invitation_list.html",
            title="公司的邀请 / Invitations from companies", email=email, invitations=shown,
            ticket=ticket, action=invitations.INVITATIONS_PATH, notice=notice,
        )  # fmt: skip

    async def answer_invitation(request: Request, form: dict[str, str]) -> HTMLResponse:
        account_id = await invitations.redeem_ticket(
            services, form.get("ticket", ""), request.cookies.get(CSRF_COOKIE, "")
        )
        if account_id is None:
            return invitations_form(
                request, error="请重新输入密码。Please enter your password again.", status=401
            )
        decision = form.get("decision", "")
        try:
            tenant_id = uuid.UUID(form.get("tenant", ""))
        except ValueError:
            tenant_id = None
        if decision not in INVITATION_NOTICES or tenant_id is None:
            return _bad_request(request, services)
        act = invitations.accept if decision == "accept" else invitations.decline
        async with engine.begin() as conn:
            done = await act(conn, account_id=account_id, tenant_id=tenant_id,
                             ip=client_ip(request))  # fmt: skip
            email = await conn.scalar(select(accounts.c.email).where(accounts.c.id == account_id))
        notice = INVITATION_NOTICES[decision] if done else (
            "这个邀请已不存在。This invitation no longer exists."
        )  # fmt: skip
        return await invitation_list(request, account_id, email or "", notice)

    async def pending_invitations(request: Request) -> HTMLResponse:
        if request.method != "POST":
            return invitations_form(request)
        form = await _posted_form(request, services)
        if isinstance(form, HTMLResponse):
            return form
        if "ticket" in form:
            return await answer_invitation(request, form)
        account = await _owner(request, form, invitations_form)
        if isinstance(account, HTMLResponse):
            return account
        return await invitation_list(request, account.id, account.email)

    return [
        Route(REQUEST_PATH, ask_for_link, methods=["GET", "POST"]),
        Route(reset.CONFIRM_PATH, choose_password, methods=["GET", "POST"]),
        Route(SECURITY_PATH, security_history, methods=["GET", "POST"]),
        Route(invitations.INVITATIONS_PATH, pending_invitations, methods=["GET", "POST"]),
    ]
