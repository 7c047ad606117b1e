"""Protected fields (the credit limit): without the permission the field is refused
with FORBIDDEN, never silently returned, and cannot be set."""

from __future__ import annotations

READ = "query($id: ID!) { customer(id: $id) { name creditLimit } }"
CREATE = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { field code message } } }"""


async def _customer(api, tenant_a, limit: str) -> str:
    data = await api.gql(
        CREATE,
        {"input": {"name": "Credit Co", "creditLimit": limit}},
        token=tenant_a.tokens["admin"],
    )
    assert data["createCustomer"]["userErrors"] == []
    return data["createCustomer"]["customer"]["id"]


async def test_credit_limit_is_exact_for_those_allowed(api, tenant_a):
    customer_id = await _customer(api, tenant_a, "1234567.89")
    for role in ("admin", "manager"):
        data = await api.gql(READ, {"id": customer_id}, token=tenant_a.tokens[role])
        assert data["customer"] == {"name": "Credit Co", "creditLimit": "1234567.89"}


async def test_credit_limit_is_refused_not_hidden(api, tenant_a):
    customer_id = await _customer(api, tenant_a, "5000")
    response = await api.post(READ, {"id": customer_id}, token=tenant_a.tokens["admin"])
    assert response.json()["data"]["customer"]["creditLimit"] == "5000.00"
    body = (await api.post(READ, {"id": customer_id}, token=tenant_a.tokens["sales"])).json()
    assert body["data"]["customer"] == {"name": "Credit Co", "creditLimit": None}
    assert body["errors"][0]["path"] == ["customer", "creditLimit"]
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_credit_limit_cannot_be_set_without_permission(api, tenant_a):
    data = await api.gql(
        CREATE, {"input": {"name": "Sneaky", "creditLimit": "1"}}, token=tenant_a.tokens["sales"]
    )
    assert data["createCustomer"] == {
        "customer": None,
        "userErrors": [{"field": "creditLimit", "code": "FORBIDDEN",
                        "message": "setting a credit limit needs customers:write_credit"}],
    }  # fmt: skip
    found = await api.gql(
        '{ customers(filter: {search: "Sneaky"}) { totalCount } }', token=tenant_a.tokens["admin"]
    )
    assert found["customers"]["totalCount"] == 0


async def test_invalid_credit_limits(api, tenant_a):
    for bad in ("-1", "1.234", "1e20"):
        data = await api.gql(
            CREATE, {"input": {"name": "Bad credit", "creditLimit": bad}},
            token=tenant_a.tokens["admin"],
        )  # fmt: skip
        assert data["createCustomer"]["userErrors"][0]["field"] == "creditLimit", bad
