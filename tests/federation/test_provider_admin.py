"""Tenant admins configure their tenant's OpenID Connect provider over the API: one per
tenant, upserted; the client secret is write-only (never returned, never audited, kept
when left out); bad input names its field and writes nothing; only sign_in:manage may
read or change it, and no tenant can see or touch another's."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import TenantHandle, make_tenant
from sqlalchemy import select, text

from app.accounts.tables import identity_providers
from app.federation.admin import IdentityProviderConfig, load_identity_provider

PROVIDER = """query {
  identityProvider {
    issuer clientId allowedDomains defaultRole enabled hasClientSecret createdAt updatedAt
  }
}"""
CONFIGURE = """mutation($input: ConfigureIdentityProviderInput!) {
  configureIdentityProvider(input: $input) {
    identityProvider {
      issuer clientId allowedDomains defaultRole enabled hasClientSecret createdAt updatedAt
    }
    userErrors { field code message }
  }
}"""
REMOVE = "mutation { removeIdentityProvider { removed userErrors { field code message } } }"
AUDIT = """query($filter: AuditLogFilter) {
  auditLog(first: 100, filter: $filter) {
    edges { node { action entityType entityId actorId changes } }
  }
}"""
CREATE_ROLE = """mutation($input: CreateRoleInput!) {
  createRole(input: $input) { role { name } userErrors { field code } }
}"""


@pytest.fixture(scope="module")
async def sso(owner, services) -> TenantHandle:
    """A tenant of this module's own: its provider and audit log are this module's."""
    return await make_tenant(owner, services, "sso")


@pytest.fixture(scope="module")
async def other(owner, services) -> TenantHandle:
    return await make_tenant(owner, services, "sso-other")


def _input(**overrides) -> dict:
    return {
        "issuer": "https://idp.example.com/realms/acme",
        "clientId": "kehu-crm",
        "clientSecret": f"secret-{uuid.uuid4().hex}",
        "allowedDomains": ["example.com"],
        "defaultRole": "sales",
        **overrides,
    }


async def _configure(api, tenant: TenantHandle, **overrides) -> dict:
    """Configure successfully; return the payload's identityProvider."""
    data = await api.gql(CONFIGURE, {"input": _input(**overrides)}, token=tenant.tokens["admin"])
    payload = data["configureIdentityProvider"]
    assert payload["userErrors"] == [], payload
    return payload["identityProvider"]


async def _remove(api, tenant: TenantHandle) -> bool:
    data = await api.gql(REMOVE, token=tenant.tokens["admin"])
    assert data["removeIdentityProvider"]["userErrors"] == []
    return data["removeIdentityProvider"]["removed"]


async def _stored(owner, tenant: TenantHandle):
    async with owner.connect() as conn:
        query = select(identity_providers).where(identity_providers.c.tenant_id == tenant.id)
        return (await conn.execute(query)).first()


async def _audit(api, tenant: TenantHandle) -> list[dict]:
    """The tenant's records about its provider, oldest first."""
    filter_ = {"entityType": "identity_provider", "entityId": {"eq": str(tenant.id)}}
    data = await api.gql(AUDIT, {"filter": filter_}, token=tenant.tokens["admin"])
    return [e["node"] for e in reversed(data["auditLog"]["edges"])]


async def _raw_audit(owner, tenant: TenantHandle) -> str:
    """Every change ever recorded in the tenant's log, as stored JSON text."""
    async with owner.connect() as conn:
        rows = await conn.execute(text(f'SELECT changes::text FROM "{tenant.schema}".audit_log'))
        return "\n".join(r[0] for r in rows)


# --- configure and read -----------------------------------------------------------------


async def test_configure_and_read_back_without_the_secret(api, owner, sso):
    await _remove(api, sso)
    secret = f"s3cret-{uuid.uuid4().hex}"
    created = await _configure(
        api, sso, clientSecret=f"  {secret}\n",
        allowedDomains=["Example.COM", " example.com ", "corp.example.org"],
    )  # fmt: skip
    assert created["issuer"] == "https://idp.example.com/realms/acme"
    assert created["clientId"] == "kehu-crm" and created["defaultRole"] == "sales"
    # Lower case, trimmed, unique and sorted.
    assert created["allowedDomains"] == ["corp.example.org", "example.com"]
    assert created["enabled"] is True and created["hasClientSecret"] is True
    assert secret not in json.dumps(created)

    read = await api.gql(PROVIDER, token=sso.tokens["admin"])
    assert read["identityProvider"] == created
    fields = await api.gql('{ __type(name: "IdentityProvider") { fields { name } } }',
                           token=sso.tokens["admin"])  # fmt: skip
    names = {f["name"] for f in fields["__type"]["fields"]}
    assert names == {"issuer", "clientId", "allowedDomains", "defaultRole", "enabled",
                     "hasClientSecret", "createdAt", "updatedAt"}  # fmt: skip

    row = await _stored(owner, sso)
    assert row.client_secret == secret  # trimmed of what the paste brought along
    assert row.allowed_domains == ["corp.example.org", "example.com"]


async def test_update_without_a_secret_keeps_the_stored_one(api, owner, sso):
    first = f"first-{uuid.uuid4().hex}"
    await _configure(api, sso, clientSecret=first)
    before = await _stored(owner, sso)

    updated = await _configure(api, sso, clientSecret=None, clientId="kehu-crm-2", enabled=False)
    assert updated["clientId"] == "kehu-crm-2" and updated["enabled"] is False
    assert updated["hasClientSecret"] is True
    row = await _stored(owner, sso)
    assert row.client_secret == first and row.client_id == "kehu-crm-2" and not row.enabled
    assert row.created_at == before.created_at and row.updated_at > before.updated_at

    second = f"second-{uuid.uuid4().hex}"
    await _configure(api, sso, clientSecret=second, clientId="kehu-crm-2", enabled=False)
    assert (await _stored(owner, sso)).client_secret == second


async def test_the_same_settings_again_change_nothing(api, owner, sso):
    settings = _input(clientSecret=f"same-{uuid.uuid4().hex}")
    await _configure(api, sso, **settings)
    before, records = await _stored(owner, sso), len(await _audit(api, sso))

    again = await _configure(api, sso, **settings)
    assert again["updatedAt"] == before.updated_at.isoformat()
    assert await _stored(owner, sso) == before
    assert len(await _audit(api, sso)) == records


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:8080/realms/x", "https://login.example.com/tenant/v2.0"]
)
async def test_an_allowed_local_host_and_public_https_issuers_are_accepted(api, sso, issuer):
    """The tests allow 127.0.0.1 (KEHU_FEDERATION_ALLOW_PRIVATE_HOSTS); internal hosts
    are refused otherwise (test_outbound.py)."""
    assert (await _configure(api, sso, issuer=issuer))["issuer"] == issuer


async def test_a_custom_role_can_be_the_default(api, sso):
    name = f"sso-{uuid.uuid4().hex[:6]}"
    role = {"name": name, "permissions": ["customers:read"], "dataScope": "OWN"}
    created = await api.gql(CREATE_ROLE, {"input": role}, token=sso.tokens["admin"])
    assert created["createRole"]["userErrors"] == []
    assert (await _configure(api, sso, defaultRole=name))["defaultRole"] == name


async def test_load_identity_provider_gives_the_sign_in_flow_everything(api, services, sso, other):
    secret = f"flow-{uuid.uuid4().hex}"
    await _configure(api, sso, clientSecret=secret, allowedDomains=["b.example", "a.example"],
                     enabled=False)  # fmt: skip
    await _remove(api, other)
    async with services.engine.connect() as conn:
        config = await load_identity_provider(conn, sso.id)
        missing = await load_identity_provider(conn, other.id)
    assert config == IdentityProviderConfig(
        tenant_id=sso.id, issuer="https://idp.example.com/realms/acme", client_id="kehu-crm",
        client_secret=secret, allowed_domains=("a.example", "b.example"), default_role="sales",
        enabled=False,
    )  # fmt: skip
    assert missing is None


# --- validation -------------------------------------------------------------------------

INVALID = [
    ({"issuer": ""}, "issuer", "REQUIRED"),
    ({"issuer": "idp.example.com"}, "issuer", "INVALID"),
    ({"issuer": "http://idp.example.com"}, "issuer", "INVALID"),
    ({"issuer": "ftp://idp.example.com"}, "issuer", "INVALID"),
    ({"issuer": "http://localhost:9000"}, "issuer", "INVALID"),
    ({"issuer": "https://169.254.169.254/latest"}, "issuer", "INVALID"),
    ({"issuer": "https://idp.example.com/?tenant=1"}, "issuer", "INVALID"),
    ({"issuer": "https://idp.example.com/?"}, "issuer", "INVALID"),
    ({"issuer": "https://idp.example.com/#top"}, "issuer", "INVALID"),
    ({"issuer": "https://user:pw@idp.example.com"}, "issuer", "INVALID"),
    ({"issuer": "https://idp.example.com/" + "a" * 2000}, "issuer", "TOO_LONG"),
    ({"clientId": "  "}, "clientId", "REQUIRED"),
    ({"clientId": "c" * 201}, "clientId", "TOO_LONG"),
    ({"clientSecret": ""}, "clientSecret", "REQUIRED"),
    ({"clientSecret": "s" * 501}, "clientSecret", "TOO_LONG"),
    ({"allowedDomains": []}, "allowedDomains", "REQUIRED"),
    ({"allowedDomains": ["*.example.com"]}, "allowedDomains", "INVALID"),
    ({"allowedDomains": ["bob@example.com"]}, "allowedDomains", "INVALID"),
    ({"allowedDomains": ["https://example.com"]}, "allowedDomains", "INVALID"),
    ({"allowedDomains": ["example"]}, "allowedDomains", "INVALID"),
    ({"allowedDomains": ["exa mple.com"]}, "allowedDomains", "INVALID"),
    ({"allowedDomains": ["-bad.example.com"]}, "allowedDomains", "INVALID"),
    ({"allowedDomains": ["example.com", ""]}, "allowedDomains", "INVALID"),
    ({"defaultRole": ""}, "defaultRole", "REQUIRED"),
    ({"defaultRole": "no-such-role"}, "defaultRole", "NOT_FOUND"),
    ({"defaultRole": "admin"}, "defaultRole", "FORBIDDEN"),
]


@pytest.mark.parametrize(("overrides", "field", "code"), INVALID, ids=lambda v: str(v)[:40])
async def test_bad_input_names_its_field_and_writes_nothing(api, owner, sso, overrides, field,
                                                            code):  # fmt: skip
    await _configure(api, sso)
    before, records = await _stored(owner, sso), await _raw_audit(owner, sso)

    data = await api.gql(CONFIGURE, {"input": _input(**overrides)}, token=sso.tokens["admin"])
    payload = data["configureIdentityProvider"]
    assert payload["identityProvider"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)], payload
    assert await _stored(owner, sso) == before
    assert await _raw_audit(owner, sso) == records


async def test_every_bad_field_is_reported_at_once(api, sso):
    bad = _input(issuer="http://idp.example.com", clientId="", allowedDomains=["*.x.com"],
                 defaultRole="admin")  # fmt: skip
    data = await api.gql(CONFIGURE, {"input": bad}, token=sso.tokens["admin"])
    fields = [e["field"] for e in data["configureIdentityProvider"]["userErrors"]]
    assert fields == ["issuer", "clientId", "allowedDomains", "defaultRole"]


async def test_the_first_configuration_needs_a_secret(api, owner, other):
    await _remove(api, other)
    data = await api.gql(CONFIGURE, {"input": _input(clientSecret=None)},
                         token=other.tokens["admin"])  # fmt: skip
    errors = data["configureIdentityProvider"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [("clientSecret", "REQUIRED")]
    assert await _stored(owner, other) is None


# --- remove -----------------------------------------------------------------------------


async def test_remove_deletes_it_and_repeating_is_harmless(api, owner, other):
    await _configure(api, other)
    assert await _remove(api, other) is True
    assert await _stored(owner, other) is None
    assert (await api.gql(PROVIDER, token=other.tokens["admin"]))["identityProvider"] is None
    assert await _remove(api, other) is False


# --- who may -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "sales", "viewer"])
async def test_only_sign_in_managers_may_read_or_change_it(api, owner, sso, role):
    await _configure(api, sso)
    before = await _stored(owner, sso)
    token = sso.tokens[role]
    for operation, variables in ((PROVIDER, None), (CONFIGURE, {"input": _input()}),
                                 (REMOVE, None)):  # fmt: skip
        errors = await api.errors(operation, variables, token=token)
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], operation
    assert await _stored(owner, sso) == before


async def test_no_tenant_sees_or_touches_another_tenants_provider(api, owner, sso, other):
    mine = await _configure(api, sso, clientId="sso-only")
    before = await _stored(owner, sso)
    await _remove(api, other)

    assert (await api.gql(PROVIDER, token=other.tokens["admin"]))["identityProvider"] is None
    assert await _remove(api, other) is False
    assert await _stored(owner, sso) == before

    theirs = await _configure(api, other, clientId="other-only")
    assert theirs["clientId"] == "other-only"
    assert (await api.gql(PROVIDER, token=sso.tokens["admin"]))["identityProvider"] == mine
    assert await _stored(owner, sso) == before
    assert (await _stored(owner, other)).client_id == "other-only"
    assert await _remove(api, other) is True
    assert await _stored(owner, sso) == before
    assert not any(r["changes"].get("client_id", {}).get("to") == "other-only"
                   for r in await _audit(api, sso))  # fmt: skip


# --- audit ------------------------------------------------------------------------------


async def test_audit_records_changes_but_never_the_secret(api, owner, services, other):
    await _remove(api, other)
    admin = str(other.user_ids["admin"])
    first, second = f"audit-one-{uuid.uuid4().hex}", f"audit-two-{uuid.uuid4().hex}"
    await _configure(api, other, clientSecret=first)
    await _configure(api, other, clientSecret=second, enabled=False)
    await _configure(api, other, clientSecret=None, defaultRole="viewer", enabled=False)
    assert await _remove(api, other) is True

    created, rotated, role_changed, removed = (await _audit(api, other))[-4:]
    assert all(r["entityType"] == "identity_provider" and r["entityId"] == str(other.id)
               and r["actorId"] == admin for r in (created, rotated, role_changed, removed))  # fmt: skip
    assert created["action"] == "identity_provider.configured"
    assert created["changes"] == {
        "issuer": {"from": None, "to": "https://idp.example.com/realms/acme"},
        "client_id": {"from": None, "to": "kehu-crm"},
        "allowed_domains": {"from": None, "to": ["example.com"]},
        "default_role": {"from": None, "to": "sales"},
        "enabled": {"from": None, "to": True},
        "client_secret": {"from": None, "to": "changed"},
    }
    assert rotated["changes"] == {
        "enabled": {"from": True, "to": False},
        "client_secret": {"from": "hidden", "to": "changed"},
    }
    assert role_changed["changes"] == {"default_role": {"from": "sales", "to": "viewer"}}
    assert removed["action"] == "identity_provider.removed"
    assert removed["changes"]["issuer"] == {"from": "https://idp.example.com/realms/acme",
                                            "to": None}  # fmt: skip
    assert "client_secret" not in removed["changes"]

    # Nowhere in the tenant's log, neither through the API nor in the table itself.
    everything = json.dumps(await _audit(api, other)) + await _raw_audit(owner, other)
    assert first not in everything and second not in everything
