"""Creating, updating, deleting and restoring customers over GraphQL."""

from __future__ import annotations

import uuid

CREATE = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name category tier tags email version externalRef owner { email } }
    userErrors { field code message }
  }
}"""

UPDATE = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id name tier version }
    userErrors { field code message }
  }
}"""

GET = "query($id: ID!) { customer(id: $id) { id name tier version deletedAt } }"


async def create(api, token, **fields):
    data = await api.gql(CREATE, {"input": fields}, token=token)
    return data["createCustomer"]


async def test_create_then_read(api, tenant_a):
    token = tenant_a.tokens["sales"]
    payload = await create(
        api, token, name=" 佛山华达电子有限公司 ", category="TARGET", tier="A",
        tags=["重点客户", "重点客户", "华南"], email="info@huada.cn",
        ownerId=str(tenant_a.user_ids["sales"]),
    )  # fmt: skip
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert customer["name"] == "佛山华达电子有限公司"
    assert customer["tags"] == ["重点客户", "华南"]
    assert customer["owner"]["email"].startswith("sales@")
    assert customer["version"] == 1
    got = await api.gql(GET, {"id": customer["id"]}, token=tenant_a.tokens["admin"])
    assert got["customer"]["name"] == "佛山华达电子有限公司"


async def test_validation_errors_name_the_field_and_write_nothing(api, tenant_a):
    payload = await create(
        api, tenant_a.tokens["sales"], name="  ", email="not-an-email", phone="abc"
    )
    fields = {e["field"]: e["code"] for e in payload["userErrors"]}
    assert fields == {"name": "REQUIRED", "email": "INVALID", "phone": "INVALID"}
    assert payload["customer"] is None


async def test_unknown_owner_is_a_user_error(api, tenant_a, tenant_b):
    payload = await create(
        api, tenant_a.tokens["sales"], name="Owner test", ownerId=str(tenant_b.user_ids["sales"])
    )
    assert payload["userErrors"] == [
        {"field": "ownerId", "code": "NOT_FOUND", "message": "no active user with this id"}
    ]


async def test_create_with_client_id_is_idempotent(api, tenant_a):
    token = tenant_a.tokens["sales"]
    customer_id = str(uuid.uuid4())
    first = await create(api, token, id=customer_id, name="Offline Co", tier="B")
    second = await create(api, token, id=customer_id, name="Offline Co", tier="B")
    assert first["customer"]["id"] == second["customer"]["id"] == customer_id
    assert second["customer"]["version"] == 1
    different = await create(api, token, id=customer_id, name="Someone else")
    assert different["userErrors"][0]["code"] == "CONFLICT"
    assert different["userErrors"][0]["field"] == "id"
    count = await api.gql(
        '{ customers(filter: {search: "Offline Co"}) { totalCount } }', token=token
    )
    assert count["customers"]["totalCount"] == 1


async def test_update_with_stale_version_conflicts_and_changes_nothing(api, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = (await create(api, token, name="Versioned Ltd", tier="C"))["customer"]
    ok = await api.gql(
        UPDATE, {"input": {"id": customer["id"], "version": 1, "tier": "A"}}, token=token
    )
    assert ok["updateCustomer"]["customer"]["version"] == 2
    stale = await api.gql(
        UPDATE, {"input": {"id": customer["id"], "version": 1, "name": "Lost update"}}, token=token
    )
    assert stale["updateCustomer"]["userErrors"][0]["code"] == "CONFLICT"
    got = await api.gql(GET, {"id": customer["id"]}, token=token)
    assert got["customer"] == {
        "id": customer["id"], "name": "Versioned Ltd", "tier": "A", "version": 2, "deletedAt": None,
    }  # fmt: skip


async def test_unchanged_update_keeps_the_version(api, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = (await create(api, token, name="Same Same", tier="C"))["customer"]
    same = await api.gql(
        UPDATE, {"input": {"id": customer["id"], "version": 1, "tier": "C"}}, token=token
    )
    assert same["updateCustomer"]["customer"]["version"] == 1


async def test_external_ref_is_unique(api, tenant_a, tenant_b):
    token = tenant_a.tokens["sales"]
    ref = f"OLD-{uuid.uuid4().hex[:6]}"
    assert (await create(api, token, name="First", externalRef=ref))["userErrors"] == []
    taken = await create(api, token, name="Second", externalRef=ref)
    assert taken["userErrors"][0] == {
        "field": "externalRef", "code": "TAKEN",
        "message": "another customer already has this externalRef",
    }  # fmt: skip
    # Another tenant's references are its own business.
    other = await create(api, tenant_b.tokens["sales"], name="First", externalRef=ref)
    assert other["userErrors"] == []


async def test_delete_and_restore(api, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = (await create(api, token, name="Phoenix Trading"))["customer"]
    deleted = await api.gql(
        "mutation($id: ID!) { deleteCustomer(input: {id: $id, version: 1}) {"
        " customer { deletedAt version } userErrors { code } } }",
        {"id": customer["id"]},
        token=token,
    )
    assert deleted["deleteCustomer"]["customer"]["deletedAt"] is not None
    listed = await api.gql(
        '{ customers(filter: {search: "Phoenix Trading"}) { totalCount } '
        ' gone: customers(filter: {search: "Phoenix Trading", deleted: true}) { totalCount } }',
        token=token,
    )
    assert listed == {"customers": {"totalCount": 0}, "gone": {"totalCount": 1}}
    restored = await api.gql(
        "mutation($id: ID!) { restoreCustomer(input: {id: $id}) {"
        " customer { deletedAt version } userErrors { code } } }",
        {"id": customer["id"]},
        token=token,
    )
    assert restored["restoreCustomer"]["customer"] == {"deletedAt": None, "version": 3}


async def test_every_mutation_is_audited(api, tenant_a, services):
    from sqlalchemy import select

    from app.audit.tables import audit_log
    from app.db import tenant_transaction

    token = tenant_a.tokens["sales"]
    customer = (await create(api, token, name="Audited Co", tier="C"))["customer"]
    await api.gql(UPDATE, {"input": {"id": customer["id"], "version": 1, "tier": "B"}}, token=token)
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        rows = (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.entity_id == uuid.UUID(customer["id"]))
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [r.action for r in rows] == ["customer.create", "customer.update"]
    assert rows[1].actor_id == tenant_a.user_ids["sales"]
    assert rows[1].changes == {"tier": {"from": "C", "to": "B"}}


async def test_viewer_cannot_write(api, tenant_a):
    errors = await api.errors(CREATE, {"input": {"name": "Nope"}}, token=tenant_a.tokens["viewer"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
