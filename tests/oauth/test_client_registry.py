"""The OAuth client registry over the API: tenant admins create, list, rotate, revoke
and update API clients and register, change and remove SPA clients. Secrets are shown
once and stored only as SHA-256 hashes; bad input names its field and writes nothing;
only clients:manage may touch the registry, and no tenant can see or change another's.
Listing with run-as users costs the same few statements whatever the page size."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from helpers import make_tenant
from sqlalchemy import func, select

from app.auth.tokens import issue_access_token
from app.oauth.secrets import secret_matches
from app.oauth.tables import oauth_clients

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def _operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


CREATE_API = _operation("createApiClient")
API_CLIENTS = _operation("apiClients")
ROTATE = _operation("rotateApiClientSecret")
REVOKE = _operation("revokeApiClient")
REGISTER_SPA = _operation("registerSpaClient")
SPA_CLIENTS = _operation("spaClients")

API_CLIENT = """query($id: ID!) {
  apiClient(id: $id) {
    id name scopes runAsUserId createdAt secretRotatedAt revokedAt active runAs { id email }
  }
}"""
UPDATE_API = """mutation($input: UpdateApiClientInput!) {
  updateApiClient(input: $input) {
    apiClient { id name scopes active }
    userErrors { field code message }
  }
}"""
SPA_CLIENT = "query($id: ID!) { spaClient(id: $id) { id name redirectUris webOrigins } }"
UPDATE_SPA = """mutation($input: UpdateSpaClientInput!) {
  updateSpaClient(input: $input) {
    spaClient { id name redirectUris webOrigins }
    userErrors { field code message }
  }
}"""
REMOVE_SPA = """mutation($id: ID!) {
  removeSpaClient(input: {id: $id}) {
    spaClient { id removedAt }
    userErrors { field code message }
  }
}"""
AUDIT = """query($filter: AuditLogFilter) {
  auditLog(first: 100, filter: $filter) { edges { node { action entityId actorId changes } } }
}"""


@pytest.fixture(scope="module")
async def registry(owner, services):
    """A tenant of this module's own, so its lists are deterministic."""
    return await make_tenant(owner, services, "clients")


async def _create(api, tenant, **input_) -> dict:
    input_ = {"name": f"ERP {uuid.uuid4().hex[:6]}", "scopes": ["customers:read"], **input_}
    data = await api.gql(CREATE_API, {"input": input_}, token=tenant.tokens["admin"])
    payload = data["createApiClient"]
    assert payload["userErrors"] == [], payload
    return payload


async def _register(api, tenant, **input_) -> dict:
    input_ = {
        "name": f"SPA {uuid.uuid4().hex[:6]}",
        "redirectUris": ["https://crm.example.com/callback"],
        "webOrigins": ["https://crm.example.com"],
        **input_,
    }
    data = await api.gql(REGISTER_SPA, {"input": input_}, token=tenant.tokens["admin"])
    payload = data["registerSpaClient"]
    assert payload["userErrors"] == [], payload
    return payload["spaClient"]


async def _stored(owner, client_id: str):
    async with owner.connect() as conn:
        query = select(oauth_clients).where(oauth_clients.c.client_id == client_id)
        return (await conn.execute(query)).one()


async def _count(owner, tenant) -> int:
    async with owner.connect() as conn:
        return await conn.scalar(select(func.count()).where(oauth_clients.c.tenant_id == tenant.id))


async def _audit(api, tenant, entity_type: str, client_id: str) -> list[dict]:
    """The tenant's records about one client, oldest first (entityId is NULL: client
    ids are text, so they travel in changes.client_id)."""
    data = await api.gql(AUDIT, {"filter": {"entityType": entity_type}},
                         token=tenant.tokens["admin"])  # fmt: skip
    nodes = [e["node"] for e in data["auditLog"]["edges"]]
    return [n for n in reversed(nodes) if _client_of(n) == client_id]


def _client_of(node: dict) -> str | None:
    """The registry writes {"client_id": {"from", "to"}}; the token endpoint's
    api_client.token_issued writes {"client_id": "kehu_..."}."""
    named = node["changes"].get("client_id")
    return named["to"] if isinstance(named, dict) else named


# --- API clients ----------------------------------------------------------------------


async def test_create_shows_the_secret_once_and_stores_only_its_hash(api, owner, registry):
    created = await _create(api, registry, name="ERP sync",
                            scopes=["customers:write", "customers:read"])  # fmt: skip
    client, secret = created["apiClient"], created["clientSecret"]
    assert client["id"].startswith("kehu_") and len(secret) >= 40
    assert client["name"] == "ERP sync" and client["active"]
    assert client["scopes"] == ["customers:read", "customers:write"]
    admin = str(registry.user_ids["admin"])
    assert client["runAs"] == {"id": admin, "email": f"admin@{registry.slug}.example.com",
                               "name": "admin"}  # fmt: skip

    row = await _stored(owner, client["id"])
    assert row.kind == "api" and row.tenant_id == registry.id
    assert row.secret_hash == hashlib.sha256(secret.encode()).digest()
    assert secret_matches(secret, row.secret_hash)
    assert all(secret not in str(v) for v in row)  # nowhere in clear text
    assert str(row.run_as_user_id) == admin and str(row.created_by) == admin

    # Never again: no field of the type carries the secret or its hash.
    one = await api.gql(API_CLIENT, {"id": client["id"]}, token=registry.tokens["admin"])
    assert one["apiClient"]["id"] == client["id"] and one["apiClient"]["runAs"]["id"] == admin
    assert secret not in str(one)
    fields = await api.gql('{ __type(name: "ApiClient") { fields { name } } }',
                           token=registry.tokens["admin"])  # fmt: skip
    names = {f["name"] for f in fields["__type"]["fields"]}
    assert names == {"id", "name", "scopes", "runAsUserId", "createdAt", "secretRotatedAt",
                     "revokedAt", "active", "runAs"}  # fmt: skip

    (created_record,) = await _audit(api, registry, "api_client", client["id"])
    assert created_record["action"] == "api_client.created"
    assert created_record["entityId"] is None and created_record["actorId"] == admin
    assert created_record["changes"] == {
        "client_id": {"from": None, "to": client["id"]},
        "name": {"from": None, "to": "ERP sync"},
        "scopes": {"from": None, "to": ["customers:read", "customers:write"]},
        "run_as_user_id": {"from": None, "to": admin},
    }
    assert secret not in str(created_record) and row.secret_hash.hex() not in str(created_record)


async def test_run_as_another_active_user(api, registry):
    sales = str(registry.user_ids["sales"])
    created = await _create(api, registry, runAsUserId=sales)
    assert created["apiClient"]["runAs"]["email"] == f"sales@{registry.slug}.example.com"


async def test_list_newest_first_page_by_page(api, registry):
    ids = [(await _create(api, registry))["apiClient"]["id"] for _ in range(3)]
    token = registry.tokens["admin"]
    first = (await api.gql(API_CLIENTS, {"first": 2}, token=token))["apiClients"]
    total = first["totalCount"]
    assert total >= 3
    listed = [e["node"]["id"] for e in first["edges"]]
    cursor = first["pageInfo"]["endCursor"]
    while cursor:
        page = (await api.gql(API_CLIENTS, {"first": 2, "after": cursor}, token=token))[
            "apiClients"
        ]
        listed += [e["node"]["id"] for e in page["edges"]]
        cursor = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert len(listed) == len(set(listed)) == total
    assert listed[:3] == ids[::-1]
    assert (await api.gql(API_CLIENT, {"id": "kehu_nope"}, token=token))["apiClient"] is None


async def test_rotate_replaces_the_secret_at_once(api, owner, registry):
    created = await _create(api, registry)
    client_id, old = created["apiClient"]["id"], created["clientSecret"]
    before = await _stored(owner, client_id)
    data = await api.gql(ROTATE, {"id": client_id}, token=registry.tokens["admin"])
    payload = data["rotateApiClientSecret"]
    assert payload["userErrors"] == []
    new = payload["clientSecret"]
    assert new and new != old and payload["apiClient"]["secretRotatedAt"]
    after = await _stored(owner, client_id)
    assert after.secret_hash != before.secret_hash
    assert secret_matches(new, after.secret_hash) and not secret_matches(old, after.secret_hash)
    assert after.secret_rotated_at is not None and after.revoked_at is None

    created_record, rotated = await _audit(api, registry, "api_client", client_id)
    assert rotated["action"] == "api_client.secret_rotated"
    assert set(rotated["changes"]) == {"client_id", "secret_rotated_at"}
    assert rotated["changes"]["secret_rotated_at"]["from"] is None
    assert new not in str(rotated) and after.secret_hash.hex() not in str(rotated)


async def test_the_token_endpoint_honours_rotation_and_revocation(api, client, services, registry):
    """End to end: the secret shown once gets a token; right after a rotation only the
    new one does; right after revocation neither (the token endpoint reads clients
    fresh, never from the principal cache)."""
    created = await _create(api, registry, scopes=["customers:read"])
    client_id, old = created["apiClient"]["id"], created["clientSecret"]

    async def token_with(secret: str):
        return await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )

    first = await token_with(old)
    assert first.status_code == 200, first.text
    assert first.json()["scope"] == "customers:read"
    token = registry.tokens["admin"]
    rotated = await api.gql(ROTATE, {"id": client_id}, token=token)
    new = rotated["rotateApiClientSecret"]["clientSecret"]
    refused = await token_with(old)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert (await token_with(new)).status_code == 200
    await api.gql(REVOKE, {"id": client_id}, token=token)
    assert (await token_with(new)).status_code == 401


async def test_revoke_is_final_and_repeatable(api, owner, registry):
    client_id = (await _create(api, registry))["apiClient"]["id"]
    token = registry.tokens["admin"]
    first = (await api.gql(REVOKE, {"id": client_id}, token=token))["revokeApiClient"]
    assert first["userErrors"] == [] and first["apiClient"]["active"] is False
    revoked_at = first["apiClient"]["revokedAt"]
    assert revoked_at and (await _stored(owner, client_id)).revoked_at is not None

    # A retry answers the same client, revoked at the first time, and records nothing.
    again = (await api.gql(REVOKE, {"id": client_id}, token=token))["revokeApiClient"]
    assert again == first
    actions = [r["action"] for r in await _audit(api, registry, "api_client", client_id)]
    assert actions == ["api_client.created", "api_client.revoked"]

    # Still listed (with active: false), but it can no longer change.
    one = (await api.gql(API_CLIENT, {"id": client_id}, token=token))["apiClient"]
    assert one["active"] is False and one["revokedAt"] == revoked_at
    rotated = (await api.gql(ROTATE, {"id": client_id}, token=token))["rotateApiClientSecret"]
    assert rotated["clientSecret"] is None
    assert [(e["field"], e["code"]) for e in rotated["userErrors"]] == [("id", "REVOKED")]
    updated = await api.gql(UPDATE_API, {"input": {"id": client_id, "name": "x"}}, token=token)
    assert [e["code"] for e in updated["updateApiClient"]["userErrors"]] == ["REVOKED"]


async def test_update_name_and_scopes(api, registry):
    client_id = (await _create(api, registry, name="Old"))["apiClient"]["id"]
    token = registry.tokens["admin"]
    data = await api.gql(
        UPDATE_API,
        {
            "input": {
                "id": client_id,
                "name": " New ",
                "scopes": ["contacts:read", "customers:read"],
            }
        },
        token=token,
    )
    payload = data["updateApiClient"]
    assert payload["userErrors"] == []
    assert payload["apiClient"]["name"] == "New"
    assert payload["apiClient"]["scopes"] == ["contacts:read", "customers:read"]
    # The same values again (scopes in another order) change nothing and record nothing.
    same = {"id": client_id, "name": "New", "scopes": ["customers:read", "contacts:read"]}
    assert (await api.gql(UPDATE_API, {"input": same}, token=token))["updateApiClient"][
        "userErrors"
    ] == []
    created_record, updated = await _audit(api, registry, "api_client", client_id)
    assert updated["action"] == "api_client.updated"
    assert updated["changes"] == {
        "client_id": {"from": client_id, "to": client_id},
        "name": {"from": "Old", "to": "New"},
        "scopes": {"from": ["customers:read"], "to": ["contacts:read", "customers:read"]},
    }


@pytest.fixture(scope="module")
async def inactive_user(api, registry) -> str:
    token = registry.tokens["admin"]
    made = await api.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
        {"i": {"email": f"gone-{uuid.uuid4().hex[:6]}@x.cn", "role": "sales"}}, token=token,
    )  # fmt: skip
    user_id = made["createUser"]["user"]["id"]
    await api.gql(
        "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { active } } }",
        {"i": {"id": user_id, "active": False}}, token=token,
    )  # fmt: skip
    return user_id


@pytest.mark.parametrize(
    ("input_", "expected"),
    [
        ({"name": "  "}, [("name", "REQUIRED")]),
        ({"name": "x" * 201}, [("name", "TOO_LONG")]),
        ({"scopes": []}, [("scopes", "REQUIRED")]),
        ({"scopes": ["customers:read", "nope:read", "x"]}, [("scopes", "INVALID")]),
        ({"runAsUserId": str(uuid.uuid4())}, [("runAsUserId", "NOT_FOUND")]),
        ({"runAsUserId": "not-an-id"}, [("runAsUserId", "NOT_FOUND")]),
        ({"runAsUserId": "INACTIVE"}, [("runAsUserId", "NOT_FOUND")]),
        ({"runAsUserId": "OTHER_TENANT"}, [("runAsUserId", "NOT_FOUND")]),
        ({"name": "", "scopes": []}, [("name", "REQUIRED"), ("scopes", "REQUIRED")]),
    ],
)
async def test_create_validation_names_fields_and_writes_nothing(
    api, owner, registry, tenant_b, inactive_user, input_, expected
):
    substitutes = {"INACTIVE": inactive_user, "OTHER_TENANT": str(tenant_b.user_ids["admin"])}
    if "runAsUserId" in input_:
        input_ = {**input_, "runAsUserId": substitutes.get(input_["runAsUserId"],
                                                           input_["runAsUserId"])}  # fmt: skip
    before = await _count(owner, registry)
    full = {"name": "Valid", "scopes": ["customers:read"], **input_}
    data = await api.gql(CREATE_API, {"input": full}, token=registry.tokens["admin"])
    payload = data["createApiClient"]
    assert payload["apiClient"] is None and payload["clientSecret"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == expected
    if expected == [("scopes", "INVALID")]:
        assert "nope:read, x" in payload["userErrors"][0]["message"]
        assert "customers:read" not in payload["userErrors"][0]["message"]
    assert await _count(owner, registry) == before


async def test_update_validation_writes_nothing(api, owner, registry):
    client_id = (await _create(api, registry, name="Keep"))["apiClient"]["id"]
    data = await api.gql(
        UPDATE_API, {"input": {"id": client_id, "name": "", "scopes": ["bogus"]}},
        token=registry.tokens["admin"],
    )  # fmt: skip
    errors = data["updateApiClient"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("name", "REQUIRED"),
        ("scopes", "INVALID"),
    ]
    row = await _stored(owner, client_id)
    assert row.name == "Keep" and row.scopes == ["customers:read"]


async def test_a_narrower_manager_of_clients_cannot_grant_more_than_they_hold(
    api, owner, services, registry
):
    """clients:manage in a custom role: a client never gets permissions its creator
    lacks, nor another user's data scope without users:manage."""
    admin = registry.tokens["admin"]
    role = f"integrator_{uuid.uuid4().hex[:6]}"
    await api.gql(
        "mutation($i: CreateRoleInput!) { createRole(input: $i) { userErrors { code } } }",
        {"i": {"name": role, "permissions": ["clients:manage", "customers:read"],
               "dataScope": "OWN"}}, token=admin,
    )  # fmt: skip
    made = await api.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
        {"i": {"email": f"{role}@x.cn", "role": role}}, token=admin,
    )  # fmt: skip
    user_id = uuid.UUID(made["createUser"]["user"]["id"])
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=registry.id,
        user_id=user_id, roles=[role],
    )  # fmt: skip

    async def create(**input_) -> dict:
        full = {"name": "Narrow", "scopes": ["customers:read"], **input_}
        return (await api.gql(CREATE_API, {"input": full}, token=token))["createApiClient"]

    before = await _count(owner, registry)
    beyond = await create(scopes=["customers:read", "customers:write"])
    assert [(e["field"], e["code"]) for e in beyond["userErrors"]] == [("scopes", "FORBIDDEN")]
    assert "customers:write" in beyond["userErrors"][0]["message"]
    other = await create(runAsUserId=str(registry.user_ids["admin"]))
    assert [(e["field"], e["code"]) for e in other["userErrors"]] == [("runAsUserId", "FORBIDDEN")]
    assert await _count(owner, registry) == before
    own = await create()
    assert own["userErrors"] == [] and own["apiClient"]["runAs"]["id"] == str(user_id)


# --- who may -----------------------------------------------------------------------

FORBIDDEN_OPERATIONS = [
    (API_CLIENTS, {}),
    (API_CLIENT, {"id": "kehu_x"}),
    (SPA_CLIENTS, {}),
    (SPA_CLIENT, {"id": "kehu_x"}),
    (CREATE_API, {"input": {"name": "x", "scopes": ["customers:read"]}}),
    (UPDATE_API, {"input": {"id": "kehu_x", "name": "y"}}),
    (ROTATE, {"id": "kehu_x"}),
    (REVOKE, {"id": "kehu_x"}),
    (
        REGISTER_SPA,
        {"input": {"name": "x", "redirectUris": ["https://a.example.com/cb"], "webOrigins": []}},
    ),
    (UPDATE_SPA, {"input": {"id": "kehu_x", "name": "y"}}),
    (REMOVE_SPA, {"id": "kehu_x"}),
]


@pytest.mark.parametrize("role", ["manager", "sales", "viewer"])
async def test_only_client_managers(api, owner, registry, role):
    before = await _count(owner, registry)
    for operation, variables in FORBIDDEN_OPERATIONS:
        errors = await api.errors(operation, variables, token=registry.tokens[role])
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], operation
    assert await _count(owner, registry) == before


# --- isolation --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def a_clients(api, tenant_a):
    api_client = await _create(api, tenant_a, name=f"A secret {uuid.uuid4().hex[:6]}")
    spa_client = await _register(api, tenant_a)
    return {"api": api_client["apiClient"]["id"], "spa": spa_client["id"]}


async def test_b_cannot_read_or_count_a_clients(api, tenant_a, tenant_b, a_clients):
    token = tenant_b.tokens["admin"]
    one = await api.gql(
        "query($a: ID!, $s: ID!) { apiClient(id: $a) { id } spaClient(id: $s) { id } }",
        {"a": a_clients["api"], "s": a_clients["spa"]}, token=token,
    )  # fmt: skip
    assert one == {"apiClient": None, "spaClient": None}
    listed = await api.gql(API_CLIENTS, {"first": 100}, token=token)
    spas = await api.gql(SPA_CLIENTS, {"first": 100}, token=token)
    b_before = (listed["apiClients"]["totalCount"], spas["spaClients"]["totalCount"])
    assert a_clients["api"] not in str(listed) and a_clients["spa"] not in str(spas)
    # A creates more; B's counts do not move.
    await _create(api, tenant_a)
    await _register(api, tenant_a)
    listed = await api.gql(API_CLIENTS, {"first": 100}, token=token)
    spas = await api.gql(SPA_CLIENTS, {"first": 100}, token=token)
    assert (listed["apiClients"]["totalCount"], spas["spaClients"]["totalCount"]) == b_before


async def test_b_cannot_change_a_clients(api, owner, tenant_b, a_clients):
    """Every write answers exactly what it answers for an id that does not exist."""
    token = tenant_b.tokens["admin"]
    before_api = await _stored(owner, a_clients["api"])
    before_spa = await _stored(owner, a_clients["spa"])
    attempts = [
        (ROTATE, lambda i: {"id": i}, "rotateApiClientSecret", "api"),
        (REVOKE, lambda i: {"id": i}, "revokeApiClient", "api"),
        (UPDATE_API, lambda i: {"input": {"id": i, "name": "pwned"}}, "updateApiClient", "api"),
        (
            UPDATE_SPA,
            lambda i: {"input": {"id": i, "webOrigins": ["https://evil.example"]}},
            "updateSpaClient",
            "spa",
        ),
        (REMOVE_SPA, lambda i: {"id": i}, "removeSpaClient", "spa"),
    ]
    for operation, variables, field, kind in attempts:
        payload = (await api.gql(operation, variables(a_clients[kind]), token=token))[field]
        missing = (await api.gql(operation, variables("kehu_" + "x" * 22), token=token))[field]
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("id", "NOT_FOUND")]
        assert payload == missing, field
    assert await _stored(owner, a_clients["api"]) == before_api
    assert await _stored(owner, a_clients["spa"]) == before_spa


# --- SPA clients ------------------------------------------------------------------------


async def test_register_list_update_and_remove_a_spa_client(api, owner, registry):
    token = registry.tokens["admin"]
    spa = await _register(
        api, registry, name="Sales app",
        redirectUris=["https://crm.example.com/cb", "http://127.0.0.1:5173/cb",
                      "http://[::1]:8080/cb?x=1", "http://localhost/cb",
                      "https://crm.example.com/cb"],
        webOrigins=["https://crm.example.com", "http://127.0.0.1:5173"],
    )  # fmt: skip
    assert spa["id"].startswith("kehu_")
    assert spa["redirectUris"] == ["https://crm.example.com/cb", "http://127.0.0.1:5173/cb",
                                   "http://[::1]:8080/cb?x=1", "http://localhost/cb"]  # fmt: skip
    row = await _stored(owner, spa["id"])
    assert row.kind == "spa" and row.secret_hash is None and row.tenant_id == registry.id
    assert row.scopes == [] and row.run_as_user_id is None

    listed = (await api.gql(SPA_CLIENTS, {}, token=token))["spaClients"]
    assert listed["edges"][0]["node"]["id"] == spa["id"]

    changed = await api.gql(
        UPDATE_SPA, {"input": {"id": spa["id"], "webOrigins": ["https://app.example.com:8443"]}},
        token=token,
    )  # fmt: skip
    assert changed["updateSpaClient"]["userErrors"] == []
    assert changed["updateSpaClient"]["spaClient"]["webOrigins"] == ["https://app.example.com:8443"]
    assert changed["updateSpaClient"]["spaClient"]["name"] == "Sales app"

    removed = (await api.gql(REMOVE_SPA, {"id": spa["id"]}, token=token))["removeSpaClient"]
    assert removed["userErrors"] == [] and removed["spaClient"]["removedAt"]
    assert (await _stored(owner, spa["id"])).revoked_at is not None
    # Gone for the admin: not listed, not found, not removable twice.
    assert spa["id"] not in str(await api.gql(SPA_CLIENTS, {"first": 100}, token=token))
    assert (await api.gql(SPA_CLIENT, {"id": spa["id"]}, token=token))["spaClient"] is None
    again = (await api.gql(REMOVE_SPA, {"id": spa["id"]}, token=token))["removeSpaClient"]
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("id", "NOT_FOUND")]

    records = await _audit(api, registry, "spa_client", spa["id"])
    assert [r["action"] for r in records] == [
        "spa_client.registered", "spa_client.updated", "spa_client.removed",
    ]  # fmt: skip
    assert records[0]["changes"]["web_origins"] == {
        "from": None, "to": ["https://crm.example.com", "http://127.0.0.1:5173"],
    }  # fmt: skip
    assert records[1]["changes"] == {
        "client_id": {"from": spa["id"], "to": spa["id"]},
        "web_origins": {"from": ["https://crm.example.com", "http://127.0.0.1:5173"],
                        "to": ["https://app.example.com:8443"]},
    }  # fmt: skip
    assert set(records[2]["changes"]) == {"client_id", "revoked_at"}


BAD_REDIRECT_URIS = [
    ("http://crm.example.com/cb", "https://"),
    ("https://crm.example.com/cb#frag", "fragment"),
    ("https://crm.example.com/cb#", "fragment"),
    ("https://*.example.com/cb", "wildcard"),
    ("https://crm.example.com/*", "wildcard"),
    ("/callback", "https://"),
    ("crm.example.com/cb", "https://"),
    ("javascript:alert(1)", "https://"),
    ("https://user:pw@crm.example.com/cb", "user name"),
    ("https://crm.example.com:99999/cb", "valid URL"),
    ("https://crm.example.com/c b", "spaces"),
    ("http://127.0.0.2/cb", "https://"),
]
BAD_WEB_ORIGINS = [
    ("https://crm.example.com/", "no path"),
    ("https://crm.example.com/app", "no path"),
    ("https://crm.example.com?x", "no path"),
    ("http://crm.example.com", "https://"),
    ("https://CRM.example.com", "https://crm.example.com"),
    ("https://crm.example.com:443", "https://crm.example.com"),
    ("https://*.example.com", "wildcard"),
    ("null", "https://"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_REDIRECT_URIS)
async def test_bad_redirect_uris(api, owner, registry, value, reason):
    await _refused(api, owner, registry, "redirectUris", value, reason)


@pytest.mark.parametrize(("value", "reason"), BAD_WEB_ORIGINS)
async def test_bad_web_origins(api, owner, registry, value, reason):
    await _refused(api, owner, registry, "webOrigins", value, reason)


async def _refused(api, owner, registry, field: str, value: str, reason: str) -> None:
    good = {
        "redirectUris": ["https://crm.example.com/cb"],
        "webOrigins": ["https://crm.example.com"],
    }
    input_ = {"name": "Bad", **good, field: [good[field][0], value]}
    before = await _count(owner, registry)
    data = await api.gql(REGISTER_SPA, {"input": input_}, token=registry.tokens["admin"])
    payload = data["registerSpaClient"]
    assert payload["spaClient"] is None
    (error,) = payload["userErrors"]
    assert (error["field"], error["code"]) == (field, "INVALID")
    assert error["message"].startswith(f"{field}[1] ") and reason in error["message"], error
    assert await _count(owner, registry) == before


@pytest.mark.parametrize(
    ("input_", "expected"),
    [
        ({"redirectUris": []}, [("redirectUris", "REQUIRED")]),
        ({"redirectUris": [f"https://a.example.com/{i}" for i in range(21)]},
         [("redirectUris", "TOO_LONG")]),  # fmt: skip
        ({"webOrigins": [f"https://a{i}.example.com" for i in range(21)]},
         [("webOrigins", "TOO_LONG")]),  # fmt: skip
        ({"name": "", "redirectUris": ["ftp://x/cb"], "webOrigins": ["https://x.example.com/"]},
         [("name", "REQUIRED"), ("redirectUris", "INVALID"), ("webOrigins", "INVALID")]),
    ],
)  # fmt: skip
async def test_spa_list_rules(api, owner, registry, input_, expected):
    full = {"name": "Lists", "redirectUris": ["https://a.example.com/cb"], "webOrigins": [],
            **input_}  # fmt: skip
    before = await _count(owner, registry)
    data = await api.gql(REGISTER_SPA, {"input": full}, token=registry.tokens["admin"])
    errors = data["registerSpaClient"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == expected
    assert await _count(owner, registry) == before


async def test_spa_update_validation_writes_nothing(api, owner, registry):
    spa = await _register(api, registry)
    data = await api.gql(
        UPDATE_SPA, {"input": {"id": spa["id"], "redirectUris": [], "name": "Changed"}},
        token=registry.tokens["admin"],
    )  # fmt: skip
    errors = data["updateSpaClient"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [("redirectUris", "REQUIRED")]
    row = await _stored(owner, spa["id"])
    assert row.name == spa["name"] and row.redirect_uris == spa["redirectUris"]


# --- cost -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def crowded(owner, services, api):
    """A tenant with 30 API clients, each running as one of its four users."""
    tenant = await make_tenant(owner, services, "crowd")
    users = list(tenant.user_ids.values())
    for i in range(30):
        await _create(api, tenant, runAsUserId=str(users[i % len(users)]))
    return tenant


LIST_WITH_RUN_AS = """query($first: Int) {
  apiClients(first: $first) { edges { node { id name runAs { id email name } } } }
}"""


async def test_listing_with_run_as_costs_the_same_for_3_or_30(api, crowded, sql_counter):
    statements = {}
    for first in (3, 30):
        # Twice, keeping the fewer: the principal cache (1 s in tests) refreshes at
        # most once a second, so never in both of two back-to-back requests.
        runs = []
        for _ in range(2):
            sql_counter.statements.clear()
            data = await api.gql(LIST_WITH_RUN_AS, {"first": first}, token=crowded.tokens["admin"])
            runs.append(list(sql_counter.statements))
        nodes = [e["node"] for e in data["apiClients"]["edges"]]
        assert len(nodes) == first and all(n["runAs"]["email"] for n in nodes)
        statements[first] = min(runs, key=len)
    assert len(statements[3]) == len(statements[30]), statements
    for listed in statements.values():
        assert sum("oauth_clients" in s for s in listed) == 1, listed
        assert sum(".users" in s and " IN (" in s for s in listed) == 1, listed
        assert not any("count(" in s or "secret_hash" in s for s in listed), listed
