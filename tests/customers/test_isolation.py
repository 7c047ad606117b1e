"""Tenant isolation: a token of tenant B can never read, list, count, change or infer
tenant A's customers and contacts, by any id, filter or mutation."""

from __future__ import annotations

import uuid

import pytest

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id version } userErrors { field code } }
}"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id version } userErrors { field code } }
}"""


@pytest.fixture(scope="module")
async def a_records(api, tenant_a):
    marker = f"Secret{uuid.uuid4().hex[:6]}"
    token = tenant_a.tokens["sales"]
    customer = await api.gql(
        CREATE_CUSTOMER,
        {"input": {"name": f"{marker} 机密电子", "email": f"{marker}@a.cn", "tags": [marker],
                   "ownerId": str(tenant_a.user_ids["sales"]), "externalRef": marker}},
        token=token,
    )  # fmt: skip
    customer_id = customer["createCustomer"]["customer"]["id"]
    contact = await api.gql(
        CREATE_CONTACT,
        {"input": {"customerId": customer_id, "name": f"{marker} 联系人", "isPrimary": True}},
        token=token,
    )
    return {
        "marker": marker,
        "customer_id": customer_id,
        "contact_id": contact["createContact"]["contact"]["id"],
    }


async def test_b_cannot_read_by_id(api, tenant_b, a_records):
    data = await api.gql(
        "query($c: ID!, $k: ID!) { customer(id: $c) { id } contact(id: $k) { id } }",
        {"c": a_records["customer_id"], "k": a_records["contact_id"]},
        token=tenant_b.tokens["admin"],
    )
    assert data == {"customer": None, "contact": None}


@pytest.mark.parametrize(
    "filter_",
    [
        'search: "{m}"',
        'search: "机密"',
        'tags: {{all: ["{m}"]}}',
        'tags: {{any: ["{m}"]}}',
        'ownerId: {{eq: \\"{owner}\\"}}',
        "deleted: true",
    ],
)
async def test_b_cannot_list_or_count(api, tenant_a, tenant_b, a_records, filter_):
    rendered = filter_.format(m=a_records["marker"], owner=tenant_a.user_ids["sales"])
    rendered = rendered.replace('\\"', '"')
    query = f"{{ customers(filter: {{{rendered}}}) {{ totalCount edges {{ node {{ id }} }} }} }}"
    data = await api.gql(query, token=tenant_b.tokens["admin"])
    assert data["customers"] == {"totalCount": 0, "edges": []}
    # The same filter in tenant A does find it (so the filter itself works).
    if "deleted" not in rendered:
        mine = await api.gql(query, token=tenant_a.tokens["admin"])
        assert mine["customers"]["totalCount"] >= 1


async def test_b_cannot_list_contacts(api, tenant_b, a_records):
    data = await api.gql(
        "query($c: ID!) { byCustomer: contacts(filter: {customerId: {eq: $c}}) { totalCount }"
        ' bySearch: contacts(filter: {search: "联系人"}) { totalCount } }',
        {"c": a_records["customer_id"]},
        token=tenant_b.tokens["admin"],
    )
    assert data == {"byCustomer": {"totalCount": 0}, "bySearch": {"totalCount": 0}}


async def test_b_cannot_change_a(api, tenant_a, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    cid, kid = a_records["customer_id"], a_records["contact_id"]
    mutations = {
        "updateCustomer": ("UpdateCustomerInput", {"id": cid, "version": 1, "name": "pwned"}),
        "deleteCustomer": ("DeleteCustomerInput", {"id": cid}),
        "restoreCustomer": ("RestoreCustomerInput", {"id": cid}),
        "updateContact": ("UpdateContactInput", {"id": kid, "version": 1, "name": "pwned"}),
        "deleteContact": ("DeleteContactInput", {"id": kid}),
    }
    for name, (input_type, variables) in mutations.items():
        data = await api.gql(
            f"mutation($input: {input_type}!) {{ {name}(input: $input) {{"
            " userErrors { field code message } } }",
            {"input": variables},
            token=token,
        )
        assert data[name]["userErrors"][0]["code"] == "NOT_FOUND", name
    contact = await api.gql(
        CREATE_CONTACT, {"input": {"customerId": cid, "name": "intruder"}}, token=token
    )
    assert contact["createContact"]["userErrors"] == [{"field": "customerId", "code": "NOT_FOUND"}]
    still = await api.gql(
        "query($c: ID!) { customer(id: $c) { name version deletedAt contacts { name } } }",
        {"c": cid},
        token=tenant_a.tokens["admin"],
    )
    assert still["customer"]["version"] == 1
    assert still["customer"]["deletedAt"] is None
    assert still["customer"]["name"].startswith(a_records["marker"])
    assert [c["name"] for c in still["customer"]["contacts"]] == [f"{a_records['marker']} 联系人"]


async def test_b_reusing_a_customer_id_reveals_nothing(api, tenant_a, tenant_b, a_records):
    """An id taken in tenant A is free in tenant B: no CONFLICT that would leak it."""
    data = await api.gql(
        CREATE_CUSTOMER,
        {"input": {"id": a_records["customer_id"], "name": "B's own", "externalRef": a_records["marker"]}},
        token=tenant_b.tokens["sales"],
    )  # fmt: skip
    assert data["createCustomer"]["userErrors"] == []
    assert data["createCustomer"]["customer"]["id"] == a_records["customer_id"]
    a_view = await api.gql(
        "query($c: ID!) { customer(id: $c) { name } }", {"c": a_records["customer_id"]},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    assert a_view["customer"]["name"].startswith(a_records["marker"])
