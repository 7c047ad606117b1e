"""Tenant isolation: a token of tenant B can never read, list, count, change, assign,
convert or infer tenant A's leads, by any id, filter or mutation, nor reach them by
importing a file."""

from __future__ import annotations

import uuid

import pytest
from lead_helpers import (
    ASSIGN,
    DELETE,
    DISQUALIFY,
    GET,
    LIST,
    QUALIFY,
    RESTORE,
    UPDATE,
    LeadImporter,
    new_lead,
    operation,
    table_counts,
)

CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { field code } } }"""


@pytest.fixture(scope="module")
async def a_records(api, tenant_a):
    marker = f"机密{uuid.uuid4().hex[:6]}"
    token = tenant_a.tokens["sales"]
    me = str(tenant_a.user_ids["sales"])
    lead = await new_lead(
        api, token, name=f"{marker} 王总", company=f"{marker} 公司", region="深圳",
        email=f"{marker}@a.example.com", phone="13700000000", source="REFERRAL", score=77,
        ownerId=me,
    )  # fmt: skip
    pool = await new_lead(api, token, name=f"{marker} 池", company=f"{marker} 公司")
    customer = await api.gql(
        CREATE_CUSTOMER, {"input": {"name": f"{marker} 客户", "ownerId": me}}, token=token
    )
    return {
        "marker": marker, "lead": lead, "pool": pool,
        "customer": customer["createCustomer"]["customer"]["id"],
    }  # fmt: skip


def _filters(tenant_a, a) -> list[dict]:
    return [
        {"search": a["marker"]},
        {"search": "机密"},
        {"ownerId": {"eq": str(tenant_a.user_ids["sales"])}},
        {"region": {"eq": "深圳"}},
        {"source": {"eq": "REFERRAL"}, "score": {"gte": 77, "lte": 77}},
        {"search": "13700000000"},
    ]


async def test_b_cannot_read_by_id(api, tenant_b, a_records):
    for lead in (a_records["lead"], a_records["pool"]):
        for role in ("admin", "sales"):
            got = await api.gql(GET, {"id": lead["id"]}, token=tenant_b.tokens[role])
            assert got == {"lead": None}


@pytest.mark.parametrize("case", range(6))
async def test_b_cannot_list_or_count(api, tenant_a, tenant_b, a_records, case):
    filter_ = _filters(tenant_a, a_records)[case]
    data = await api.gql(LIST, {"filter": filter_}, token=tenant_b.tokens["admin"])
    assert data["leads"] == {"totalCount": 0, "edges": []}
    mine = await api.gql(LIST, {"filter": filter_}, token=tenant_a.tokens["admin"])
    assert mine["leads"]["totalCount"] >= 1  # the same filter works in A


async def test_b_cannot_change_assign_or_convert_a(api, services, tenant_a, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    lead_id = a_records["lead"]["id"]
    before_a = await table_counts(services, tenant_a)
    before_b = await table_counts(services, tenant_b)
    attempts = [
        (UPDATE, {"input": {"id": lead_id, "version": 1, "score": 1}}, "updateLead"),
        (QUALIFY, {"input": {"id": lead_id, "version": 1}}, "qualifyLead"),
        (DISQUALIFY, {"input": {"id": lead_id, "version": 1, "reason": "x"}}, "disqualifyLead"),
        (DELETE, {"input": {"id": lead_id}}, "deleteLead"),
        (RESTORE, {"input": {"id": lead_id}}, "restoreLead"),
        (ASSIGN, {"ids": [lead_id], "ownerId": None}, "assignLeads"),
        (ASSIGN, {"ids": [lead_id], "ownerId": str(tenant_b.user_ids["sales"])}, "assignLeads"),
        (operation("convertLead"), {"input": {"id": lead_id, "version": 1}}, "convertLead"),
    ]
    # What B gets for A's id is exactly what it gets for an id that exists nowhere:
    # nothing to infer.
    for query, variables, name in attempts:
        real = await api.gql(query, variables, token=token)
        fake_vars = {k: v for k, v in variables.items()}
        if "input" in fake_vars:
            fake_vars["input"] = {**fake_vars["input"], "id": str(uuid.uuid4())}
        else:
            fake_vars["ids"] = [str(uuid.uuid4())]
        fake = await api.gql(query, fake_vars, token=token)
        codes = [(e["field"], e["code"]) for e in real[name]["userErrors"]]
        assert codes and all(c == "NOT_FOUND" for _, c in codes), (name, codes)
        strip = lambda p: [(e["field"], e["code"]) for e in p["userErrors"]]  # noqa: E731
        assert strip(real[name]) == strip(fake[name]), name
    # B converting its own lead cannot link A's customer.
    b_lead = await new_lead(api, token, name="B 的线索", company="B 公司")
    linked = await api.gql(
        operation("convertLead"),
        {"input": {"id": b_lead["id"], "version": 1, "customerId": a_records["customer"]}},
        token=token,
    )
    assert [(e["field"], e["code"]) for e in linked["convertLead"]["userErrors"]] == [
        ("customerId", "NOT_FOUND")
    ]
    # A owner from A cannot own B's lead either.
    foreign = await api.gql(
        ASSIGN, {"ids": [b_lead["id"]], "ownerId": str(tenant_a.user_ids["sales"])}, token=token
    )
    assert [(e["field"], e["code"]) for e in foreign["assignLeads"]["userErrors"]] == [
        ("ownerId", "NOT_FOUND")
    ]
    assert await table_counts(services, tenant_a) == before_a
    after_b = await table_counts(services, tenant_b)
    assert after_b["leads"] == before_b["leads"] + 1  # only B's own new lead
    assert after_b["customers"] == before_b["customers"]
    got = (await api.gql(GET, {"id": lead_id}, token=tenant_a.tokens["sales"]))["lead"]
    assert got == a_records["lead"]


async def test_b_cannot_import_into_a(api, run_worker, services, tenant_a, tenant_b, a_records):
    marker = a_records["marker"]
    importer = LeadImporter(api, run_worker)
    content = (
        f"name,company,email,phone,score\n{marker} 王总,{marker} 公司,{marker}@a.example.com,"
        f"13700000000,5\n"
    ).encode()
    before_a = await table_counts(services, tenant_a)
    job = await importer.run(tenant_b.tokens["admin"], content)
    assert job["status"] == "SUCCEEDED", job
    # The same email and phone match nothing of A's: B gets a lead of its own.
    assert (job["result"]["created"], job["result"]["updated"]) == (1, 0)
    assert await importer.job(tenant_a.tokens["admin"], job["id"]) is None
    after_a = await table_counts(services, tenant_a)
    assert after_a["leads"] == before_a["leads"]
    got = await api.gql(GET, {"id": a_records["lead"]["id"]}, token=tenant_a.tokens["sales"])
    assert got["lead"] == a_records["lead"]
    b_list = await api.gql(LIST, {"filter": {"search": marker}}, token=tenant_b.tokens["admin"])
    assert b_list["leads"]["totalCount"] == 1
    assert b_list["leads"]["edges"][0]["node"]["id"] != a_records["lead"]["id"]
