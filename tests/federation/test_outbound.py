"""The server fetches URLs that a tenant admin typed, and URLs that the admin's provider
names, for anyone who starts a sign-in (SSRF): https to public addresses only, checked
when the admin saves the issuer and again before every request of the sign-in flow.

The tests' settings allow 127.0.0.1 (KEHU_FEDERATION_ALLOW_PRIVATE_HOSTS), where the
test providers listen; the "strict" app here runs with the production default, none.
Crafted discovery documents come from a real HTTP server on 127.0.0.1 that counts
what it is asked, so "refused" also means "never fetched"."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import socket
import ssl
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flows import authorization, browser, open_sign_in, register_spa
from helpers import make_tenant
from joserfc import jwk
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.accounts.tables import identity_providers
from app.federation.outbound import OutboundPolicy, RefusedURL, address_problem, client
from app.main import create_app

CONFIGURE = """mutation($input: ConfigureIdentityProviderInput!) {
  configureIdentityProvider(input: $input) {
    identityProvider { issuer }
    userErrors { field code message }
  }
}"""
TIMEOUT = httpx.Timeout(5.0)


@contextlib.asynccontextmanager
async def serving(app, host: str = "127.0.0.1", **ssl_files: str) -> AsyncIterator[int]:
    """Serves `app` with uvicorn on a free port of `host`, in this event loop; the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(64)
    config = uvicorn.Config(app, lifespan="off", ws="none", log_config=None,
                            log_level="warning", access_log=False, **ssl_files)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


class CraftedProvider:
    """Discovery documents as a test writes them, under /t/<name>; records each request."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}
        self.requests: list[str] = []
        self.base = ""
        key = jwk.ECKey.generate_key("P-256", parameters={"kid": "k1"})
        self.jwks = {"keys": [key.as_dict(private=False)]}

    def app(self) -> Starlette:
        async def any_path(request: Request) -> Response:
            path = request.url.path
            self.requests.append(path)
            if path.startswith("/t/") and path.endswith("/.well-known/openid-configuration"):
                name = path.split("/")[2]
                return JSONResponse(self.documents[name])
            if path == "/jwks":
                return JSONResponse(self.jwks)
            if path == "/moved":
                return RedirectResponse(request.query_params["to"], status_code=302)
            return JSONResponse({"error": "invalid_grant"}, status_code=400)

        return Starlette(routes=[Route("/{path:path}", any_path, methods=["GET", "POST"])])

    def issuer(self, **overrides: str) -> str:
        """A new issuer (a new cache entry) whose document has `overrides`."""
        name = uuid.uuid4().hex[:10]
        issuer = f"{self.base}/t/{name}"
        self.documents[name] = {
            "issuer": issuer,
            "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": f"{self.base}/token",
            "jwks_uri": f"{self.base}/jwks",
            "id_token_signing_alg_values_supported": ["ES256"],
            **overrides,
        }
        return issuer

    def asked_for(self, path: str) -> bool:
        return path in self.requests


@pytest.fixture(scope="module")
async def crafted() -> AsyncIterator[CraftedProvider]:
    provider = CraftedProvider()
    async with serving(provider.app()) as port:
        provider.base = f"http://127.0.0.1:{port}"
        yield provider


@pytest.fixture(scope="module")
async def strict(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    """The same app, database and keys, with no private host allowed (the default)."""
    strict_settings = dataclasses.replace(settings, federation_allow_private_hosts="")
    strict_services = dataclasses.replace(services, settings=strict_settings)
    app = create_app(strict_settings, strict_services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as http:
        yield http


@pytest.fixture(scope="module")
async def tenant(owner, services):
    handle = await make_tenant(owner, services, "ssrf")
    handle.spa = await register_spa(owner, None)
    return handle


async def _configure(http: httpx.AsyncClient, tenant, issuer: str) -> dict:
    variables = {"input": {"issuer": issuer, "clientId": "kehu", "clientSecret": "s3cret",
                           "allowedDomains": ["corp.example"], "defaultRole": "sales"}}  # fmt: skip
    response = await http.post(
        "/graphql", json={"query": CONFIGURE, "variables": variables},
        headers={"Authorization": f"Bearer {tenant.tokens['admin']}"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["data"]["configureIdentityProvider"]


async def _stored_issuer(owner, tenant) -> str | None:
    async with owner.connect() as conn:
        query = select(identity_providers.c.issuer)
        return await conn.scalar(query.where(identity_providers.c.tenant_id == tenant.id))


async def _start(http: httpx.AsyncClient, tenant) -> httpx.Response:
    async with browser(http) as web:
        auth = authorization(tenant.spa)
        assert (await open_sign_in(web, auth)).status_code == 200
        query = urlencode({**auth.params, "tenant": tenant.slug})
        return await web.get(f"/oauth/federated/start?{query}")


# --- which addresses are internal ---------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
     "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
     "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
     "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::"],
)  # fmt: skip
def test_internal_addresses_are_refused(address):
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111",
                                     "::ffff:8.8.8.8"])  # fmt: skip
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("setting", ["127.0.0.1:http", "http://127.0.0.1", "a@b"])
def test_a_malformed_allowance_is_an_error(setting):
    with pytest.raises(ValueError):
        OutboundPolicy.parse(setting)


# --- configuring ------------------------------------------------------------------------

REFUSED_WITHOUT_ALLOWANCE = [
    "http://127.0.0.1:8080/realms/x",
    "https://127.0.0.1/",
    "https://169.254.169.254/",
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[fe80::1]/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://localhost/",  # a name: what it resolves to counts
    "https://localhost:8443/realms/x",
]


@pytest.mark.parametrize("issuer", REFUSED_WITHOUT_ALLOWANCE)
async def test_an_internal_issuer_is_refused_without_the_allowance(strict, owner, tenant,
                                                                   issuer):  # fmt: skip
    before = await _stored_issuer(owner, tenant)
    payload = await _configure(strict, tenant, issuer)
    assert payload["identityProvider"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("issuer", "INVALID")]
    message = payload["userErrors"][0]["message"]
    assert message.startswith("issuer ")
    assert "https://" in message or "address" in message, message
    assert await _stored_issuer(owner, tenant) == before


@pytest.mark.parametrize(
    "issuer", ["http://localhost:9000", "http://[::1]:9000/", "https://169.254.169.254/",
               "https://localhost/", "https://10.0.0.1/"],
)  # fmt: skip
async def test_the_allowance_opens_only_the_hosts_it_names(api, tenant, issuer):
    """The test settings allow 127.0.0.1 alone: not other names or addresses of the
    machine, and not the rest of the internal network."""
    data = await api.gql(CONFIGURE, {"input": {
        "issuer": issuer, "clientId": "kehu", "clientSecret": "s3cret",
        "allowedDomains": ["corp.example"], "defaultRole": "sales"}},
        token=tenant.tokens["admin"])  # fmt: skip
    errors = data["configureIdentityProvider"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [("issuer", "INVALID")]


async def test_an_unresolvable_https_issuer_can_still_be_saved(strict, tenant):
    """Not set up in DNS yet is no reason to refuse: sign-in checks again."""
    issuer = f"https://idp-{uuid.uuid4().hex[:8]}.invalid/realms/x"
    payload = await _configure(strict, tenant, issuer)
    assert payload["userErrors"] == []
    assert payload["identityProvider"]["issuer"] == issuer


# --- signing in ----------------------------------------------------------------------------


async def test_a_well_behaved_crafted_provider_gets_a_sign_in(client, api, crafted, tenant):
    """The control for the refusals below: same server, addresses all allowed."""
    issuer = crafted.issuer()
    assert (await _configure(client, tenant, issuer))["userErrors"] == []
    response = await _start(client, tenant)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(f"{crafted.base}/authorize?")
    assert crafted.asked_for("/jwks")


@pytest.mark.parametrize(
    ("field", "target"),
    [("jwks_uri", "http://localhost:{port}/jwks"),
     ("jwks_uri", "http://169.254.169.254/latest/meta-data/"),
     ("jwks_uri", "https://10.0.0.1/jwks"),
     ("jwks_uri", "https://[::1]:{port}/jwks"),
     ("jwks_uri", "ftp://example.com/jwks"),
     ("token_endpoint", "http://localhost:{port}/token"),
     ("token_endpoint", "https://169.254.169.254/token")],
)  # fmt: skip
async def test_a_discovery_document_naming_an_internal_url_is_refused(client, crafted, tenant,
                                                                      field, target):  # fmt: skip
    """localhost is the very server that serves the document, under a name the
    allowance does not list: it would answer, so not being asked shows no fetch."""
    port = crafted.base.rsplit(":", 1)[1]
    issuer = crafted.issuer(**{field: target.format(port=port)})
    assert (await _configure(client, tenant, issuer))["userErrors"] == []
    before = len(crafted.requests)

    response = await _start(client, tenant)
    assert response.status_code == 502, response.text
    assert "location" not in response.headers
    assert field in response.text
    assert "we do not contact" in response.text
    asked = crafted.requests[before:]
    assert asked == [f"/t/{issuer.rsplit('/', 1)[1]}/.well-known/openid-configuration"]


async def test_a_redirect_from_the_provider_is_not_followed(client, crafted, tenant):
    """Not even to an allowed address: a redirect's target would escape the checks."""
    moved = f"{crafted.base}/moved?" + urlencode({"to": f"{crafted.base}/jwks"})
    issuer = crafted.issuer(jwks_uri=moved)
    assert (await _configure(client, tenant, issuer))["userErrors"] == []
    before = len(crafted.requests)

    response = await _start(client, tenant)
    assert response.status_code == 502
    assert "/jwks" not in crafted.requests[before:]


async def test_a_saved_issuer_is_checked_again_at_sign_in(client, strict, crafted, tenant):
    """Saved while allowed (or while its name pointed elsewhere): the sign-in flow does
    not trust the saved setting, it checks the address when it fetches."""
    issuer = crafted.issuer()
    assert (await _configure(client, tenant, issuer))["userErrors"] == []
    before = len(crafted.requests)

    response = await _start(strict, tenant)
    assert response.status_code == 502, response.text
    assert "we do not contact" in response.text
    assert crafted.requests[before:] == []


# --- the transport ---------------------------------------------------------------------


async def test_the_client_refuses_before_connecting(crafted):
    before = len(crafted.requests)
    async with client(OutboundPolicy(), timeout=TIMEOUT) as http:
        with pytest.raises(RefusedURL, match="must be an https:// URL"):
            await http.get(f"{crafted.base}/jwks")
        with pytest.raises(RefusedURL, match="loopback"):
            await http.get(f"https://localhost:{crafted.base.rsplit(':', 1)[1]}/jwks")
    assert crafted.requests[before:] == []


def _certificate_for(name: str, directory) -> tuple[str, str]:
    """A self-signed certificate for the DNS name alone (no IP address in it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )  # fmt: skip
    return str(cert_file), str(key_file)


async def test_the_client_connects_to_the_address_it_checked_and_verifies_the_name(tmp_path):
    """The request goes to the resolved address (no second lookup to rebind), while the
    Host header and TLS certificate verification still use the name."""
    name = "localhost"
    address = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)[0][4][0]
    cert_file, key_file = _certificate_for(name, tmp_path)
    seen: list[str] = []

    async def echo(request: Request) -> Response:
        seen.append(request.headers["host"])
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/", echo)])
    trust = ssl.create_default_context(cafile=cert_file)
    async with serving(app, address, ssl_certfile=cert_file, ssl_keyfile=key_file) as port:
        policy = OutboundPolicy.parse(f"{name}:{port}")
        async with client(policy, timeout=TIMEOUT, verify=trust) as http:
            response = await http.get(f"https://{name}:{port}/")
    assert response.json() == {"ok": True}
    assert response.request.url.host == address
    assert seen == [f"{name}:{port}"]
