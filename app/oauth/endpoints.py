"""The authorization server over HTTP: /oauth/authorize (sign-in page and tenant
chooser), /oauth/token, /oauth/revoke and /oauth/introspect.

authlib does the protocol in a worker thread (app/oauth/server.py); this module reads
requests, renders pages and writes responses."""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

from anyio import to_thread
from authlib.oauth2 import OAuth2Error
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request as HttpRequest
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.accounts.membership import Membership, memberships_of
from app.accounts.service import SignInRefused, sign_in_with_password
from app.api.context import Services
from app.audit.service import Actor, diff, record
from app.auth.principal import load_tenant, load_user_access
from app.db import tenant_transaction
from app.oauth.clients import SPA, Client, load_client
from app.oauth.secrets import new_secret
from app.oauth.server import AuthorizationServer, Request
from app.oauth.store import GrantUser

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
REVOKE_PATH = "/oauth/revoke"
INTROSPECT_PATH = "/oauth/introspect"
FEDERATED_START_PATH = "/oauth/federated/start"
# The authorization request's own parameters, carried through the sign-in forms.
OAUTH_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
)
CSRF_COOKIE = "kehu_csrf"
TICKET_TTL_SECONDS = 300
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}

templates = Environment(
    loader=PackageLoader("app.oauth", "templates"), autoescape=select_autoescape(default=True)
)


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        templates.get_template(name).render(**context), status_code=status, headers=PAGE_HEADERS
    )


def error_page(message: str, status: int = 400) -> HTMLResponse:
    return render("error.html", status=status, message=message)


class Endpoints:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.server = AuthorizationServer(services)
        self.settings = services.settings

    def _uri(self, request: HttpRequest) -> str:
        # The configured issuer, not the Host header: authlib refuses plain http
        # for anything but loopback, and the issuer says what the deployment is.
        query = request.url.query
        return self.settings.issuer.rstrip("/") + request.url.path + ("?" + query if query else "")

    def _oauth_request(self, request: HttpRequest, params) -> Request:
        headers = {k.title(): v for k, v in request.headers.items()}
        return Request(request.method, self._uri(request), headers, params)

    async def _protocol(self, call, *args: Any) -> Response:
        status, body, headers = await to_thread.run_sync(call, *args)
        headers = dict(headers)
        headers.setdefault("Cache-Control", "no-store")
        headers.pop("Content-Type", None)
        return JSONResponse(body, status_code=status, headers=headers)

    # --- token, revocation, introspection ------------------------------------------

    async def token(self, request: HttpRequest) -> Response:
        form = await request.form()
        oauth_request = self._oauth_request(request, form.multi_items())
        return await self._protocol(self.server.create_token_response, oauth_request)

    async def revoke(self, request: HttpRequest) -> Response:
        form = await request.form()
        oauth_request = self._oauth_request(request, form.multi_items())
        return await self._protocol(
            self.server.create_endpoint_response, "revocation", oauth_request
        )

    async def introspect(self, request: HttpRequest) -> Response:
        form = await request.form()
        oauth_request = self._oauth_request(request, form.multi_items())
        return await self._protocol(
            self.server.create_endpoint_response, "introspection", oauth_request
        )

    # --- authorization endpoint -----------------------------------------------------

    async def prepare(
        self, request: HttpRequest, *, params: list | None = None, form: FormData | None = None
    ) -> tuple[AuthorizePage, Any, Request] | Response:
        """Validate an authorization request (from the query string, a sign-in form, or
        what the federated leg kept): the page to answer with, authlib's grant and
        the request, or the response that refuses it."""
        if params is None:
            source = form if form is not None else request.query_params
            params = [(k, v) for k, v in source.multi_items() if k in OAUTH_PARAMS]
        params = [(k, v) for k, v in params if k in OAUTH_PARAMS]
        client = await self._registered_client(dict(params))
        if isinstance(client, Response):
            return client
        oauth_request = self._oauth_request(request, params)
        try:
            grant = await to_thread.run_sync(self.server.get_consent_grant, oauth_request)
        except OAuth2Error as error:
            return self._refuse(oauth_request, error)
        return AuthorizePage(self, request, client, params), grant, oauth_request

    async def authorize(self, request: HttpRequest) -> Response:
        form = await request.form() if request.method == "POST" else None
        prepared = await self.prepare(request, form=form)
        if isinstance(prepared, Response):
            return prepared
        page, grant, oauth_request = prepared
        if form is None:
            return page.sign_in()
        if not page.csrf_ok(form):
            return error_page(
                "这个表单已过期，请重新登录。 This form expired; please sign in again.", 403
            )
        step = form.get("step")
        if step == "password":
            try:
                account = await sign_in_with_password(
                    self.services,
                    email=str(form.get("email", "")),
                    password=str(form.get("password", "")),
                    ip=request.client.host if request.client else "",
                )
            except SignInRefused as refused:
                status = 429 if refused.code == "THROTTLED" else 401
                return page.sign_in(error=str(refused), email=str(form.get("email", "")),
                                    status=status)  # fmt: skip
            return await self.continue_as(page, grant, oauth_request, account.id, account.email)
        if step == "tenant":
            ticket = await self._redeem_ticket(str(form.get("ticket", "")), page.csrf)
            if ticket is None:
                return page.sign_in(error="请重新登录。 Please sign in again.", status=401)
            return await self.continue_as(
                page, grant, oauth_request, uuid.UUID(ticket["account_id"]), ticket["email"],
                chosen=str(form.get("tenant", "")),
            )  # fmt: skip
        return error_page("Unknown step")

    async def _registered_client(self, params: dict[str, str]) -> Client | Response:
        """Until the client and its exact redirect URI are known, errors are shown
        here and never redirected (RFC 6749 section 4.1.2.1): an open redirector
        would hand the code, or the user, to whoever wrote the link."""
        async with self.services.engine.connect() as conn:
            client = await load_client(conn, params.get("client_id", ""))
        if client is None or client.kind != SPA:
            return error_page("未知的应用。 Unknown client.")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri or not client.check_redirect_uri(redirect_uri):
            return error_page(
                "回调地址未登记。 The redirect_uri is not registered for this client."
            )
        return client

    def _refuse(self, oauth_request: Request, error: OAuth2Error) -> Response:
        status, body, headers = self.server.handle_error_response(oauth_request, error)
        location = dict(headers).get("Location")
        if location:
            return RedirectResponse(
                location, status_code=303, headers={"Cache-Control": "no-store"}
            )
        return error_page(f"{error.error}: {error.description or ''}", status)

    async def continue_as(
        self,
        page: AuthorizePage,
        grant,
        oauth_request: Request,
        account_id: uuid.UUID,
        email: str,
        *,
        chosen: str | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> Response:
        """The account is signed in: pick the tenant (the client's own, the only one,
        or the one chosen) and send the browser back to the client with a code."""
        # Password sign-in offers only the memberships the account's owner accepted. A
        # federated sign-in is for the tenant whose provider vouched, and that one
        # only: its membership counts even while it is an invitation (the tenant's
        # provider cannot accept on the owner's behalf, so it stays one).
        async with self.services.engine.connect() as conn:
            memberships = await memberships_of(conn, account_id, pending_in=tenant_id)
        # A tenant's own client signs in to that tenant only; a federated sign-in to
        # the tenant whose provider vouched. Both, when both apply.
        for only in (page.client.tenant_id, tenant_id):
            if only is not None:
                memberships = [m for m in memberships if m.tenant_id == only]
        if chosen:
            memberships = [m for m in memberships if m.tenant_slug == chosen]
        if not memberships:
            return page.sign_in(error="这个账号无权访问。 This account has no access here.",
                                status=403)  # fmt: skip
        if len(memberships) > 1:
            ticket = await self._issue_ticket(account_id, email, page.csrf)
            return page.choose(memberships, ticket, email)
        return await self._issue_code(page, grant, oauth_request, account_id, memberships[0])

    async def _issue_code(
        self, page: AuthorizePage, grant, oauth_request: Request, account_id: uuid.UUID,
        membership: Membership,
    ) -> Response:  # fmt: skip
        tenant = await load_tenant(self.services.engine, membership.tenant_id)
        async with tenant_transaction(self.services.engine, tenant.schema_name) as conn:
            access = await load_user_access(conn, membership.user_id)
            if access is None or not access.active:
                return page.sign_in(error="这个账号已停用。 This user is deactivated.", status=403)
            await record(
                conn, actor=Actor("user", membership.user_id), action="sign_in.succeeded",
                entity_type="user", entity_id=membership.user_id,
                changes=diff(None, {"client_id": page.client.client_id}),
            )  # fmt: skip
        user = GrantUser(
            tenant_id=membership.tenant_id,
            user_id=membership.user_id,
            account_id=account_id,
            session_id=uuid.uuid4(),
            nonce=oauth_request.payload.data.get("nonce"),
        )
        status, _, headers = await to_thread.run_sync(
            self.server.create_authorization_response, oauth_request, user, grant
        )
        location = dict(headers)["Location"]
        response = RedirectResponse(location, status_code=303)
        response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        response.delete_cookie(CSRF_COOKIE, path="/oauth")
        return response

    async def _issue_ticket(self, account_id: uuid.UUID, email: str, csrf: str) -> str:
        """Remembers, for the tenant chooser, that this browser (its CSRF cookie) has
        signed in: the chooser must not ask for the password again."""
        ticket = new_secret()
        redis = await self.services.queue.pool()
        value = json.dumps({"account_id": str(account_id), "email": email, "csrf": csrf})
        await redis.set(f"kehu:sign-in:{ticket}", value, ex=TICKET_TTL_SECONDS)
        return ticket

    async def _redeem_ticket(self, ticket: str, csrf: str) -> dict | None:
        if not ticket:
            return None
        redis = await self.services.queue.pool()
        raw = await redis.getdel(f"kehu:sign-in:{ticket}")
        if raw is None:
            return None
        value = json.loads(raw)
        return value if hmac.compare_digest(value["csrf"], csrf) else None


class AuthorizePage:
    """The sign-in and tenant-chooser pages of one authorization request. Their forms
    carry a CSRF token that must match the browser's cookie (double submit), so a
    third-party page cannot sign a victim's browser in to the attacker's account."""

    def __init__(
        self, endpoints: Endpoints, request: HttpRequest, client: Client, params: list
    ) -> None:
        self.endpoints = endpoints
        self.client = client
        self.params = params
        self.csrf = request.cookies.get(CSRF_COOKIE) or new_secret(24)

    def csrf_ok(self, form: FormData) -> bool:
        sent = str(form.get("csrf", ""))
        return bool(sent) and hmac.compare_digest(sent, self.csrf)

    def _page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        issuer = self.endpoints.settings.issuer.rstrip("/")
        response = render(
            name, status=status, action=AUTHORIZE_PATH, oauth_params=self.params,
            csrf=self.csrf, client_name=self.client.name,
            federated_action=FEDERATED_START_PATH,
            reset_url=f"{issuer}/account/password-reset",
            security_url=f"{issuer}/account/security",
            invitations_url=f"{issuer}/account/invitations", **context,
        )  # fmt: skip
        return self.bind_cookie(response)

    def bind_cookie(self, response: Response) -> Response:
        """Lax, so it comes back on the identity provider's top-level redirect."""
        response.set_cookie(
            CSRF_COOKIE, self.csrf, max_age=1800, path="/oauth", httponly=True,
            samesite="lax", secure=self.endpoints.settings.issuer.startswith("https://"),
        )  # fmt: skip
        return response

    def sign_in(self, *, error: str | None = None, email: str = "", status: int = 200):
        return self._page("sign_in.html", status=status, error=error, email=email)

    def choose(self, memberships: list[Membership], ticket: str, email: str) -> HTMLResponse:
        return self._page("choose_tenant.html", memberships=memberships, ticket=ticket,
                          email=email)  # fmt: skip


def routes(services: Services, endpoints: Endpoints) -> list[Route]:
    return [
        Route(AUTHORIZE_PATH, endpoints.authorize, methods=["GET", "POST"]),
        Route(TOKEN_PATH, endpoints.token, methods=["POST"]),
        Route(REVOKE_PATH, endpoints.revoke, methods=["POST"]),
        Route(INTROSPECT_PATH, endpoints.introspect, methods=["POST"]),
    ]
