"""The committed contract: schema.graphql matches the code, and every example
operation in graphql/operations/ is valid and runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.api.schema import schema, sdl
from graphql import parse, validate

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = sorted((ROOT / "graphql" / "operations").glob("*.graphql"))


def test_schema_file_is_fresh():
    committed = (ROOT / "graphql" / "schema.graphql").read_text()
    assert committed == sdl(), "graphql/schema.graphql is stale: run `make schema` and commit it"


def test_graphql_folder_is_not_a_python_package():
    assert not (ROOT / "graphql" / "__init__.py").exists()


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.name)
def test_operation_is_valid(path):
    errors = validate(schema._schema, parse(path.read_text()))
    assert errors == []


async def test_example_operations_run_in_order(api, tenant_a):
    """The README's walk-through: create, read, list, change, delete, restore."""
    token = tenant_a.tokens["admin"]

    async def run(name: str, variables: dict | None = None) -> dict:
        text = (ROOT / "graphql" / "operations" / f"{name}.graphql").read_text()
        return await api.gql(text, variables, token=token)

    assert (await run("me"))["me"]["user"]["role"] == "admin"
    customer_id = str(uuid.uuid4())
    created = await run("createCustomer", {"input": {"id": customer_id, "name": "示例电子有限公司",
                                                     "tier": "A", "tags": ["示例"]}})  # fmt: skip
    assert created["createCustomer"]["userErrors"] == []
    contact = await run(
        "createContact",
        {"input": {"customerId": customer_id, "name": "王经理", "phone": "13800000000",
                   "isPrimary": True}},
    )  # fmt: skip
    assert contact["createContact"]["contact"]["customer"]["id"] == customer_id
    listed = await run("customers", {"filter": {"search": "示例电子"}})
    assert listed["customers"]["edges"][0]["node"]["contacts"][0]["name"] == "王经理"
    one = await run("customer", {"id": customer_id})
    assert one["customer"]["tier"] == "A"
    updated = await run("updateCustomer", {"input": {"id": customer_id, "version": 1, "tier": "B"}})
    assert updated["updateCustomer"]["customer"]["version"] == 2
    contacts = await run("contacts", {"filter": {"customerId": {"eq": customer_id}}})
    assert contacts["contacts"]["totalCount"] == 1
    deleted = await run("deleteCustomer", {"input": {"id": customer_id, "version": 2}})
    assert deleted["deleteCustomer"]["customer"]["deletedAt"]
    restored = await run("restoreCustomer", {"input": {"id": customer_id}})
    assert restored["restoreCustomer"]["customer"]["deletedAt"] is None
    user = await run("createUser", {"input": {"email": f"{uuid.uuid4().hex[:6]}@x.cn",
                                              "role": "viewer"}})  # fmt: skip
    assert user["createUser"]["user"]["active"]
