"""convertLead: one transaction that creates (or links) the customer, creates the
contact and optionally the opportunity, and links the lead to them; refused twice,
also when two conversions race; any failure leaves everything as it was."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from helpers import make_tenant
from lead_helpers import GET, UPDATE, new_lead, operation, table_counts
from sqlalchemy import select

from app.audit.tables import audit_log
from app.customers.tables import contacts, customers
from app.db import tenant_transaction
from app.pipeline.tables import opportunities

CONVERT = operation("convertLead")
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { field code } } }"""
CREATE_CONTACT = """mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { field code } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    """A tenant of its own: conversions create customers, which others' lists count."""
    return await make_tenant(owner, services, "leadconv")


def _codes(payload: dict) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def _convert(api, token: str, **input) -> dict:
    return (await api.gql(CONVERT, {"input": input}, token=token))["convertLead"]


async def test_convert_creates_customer_contact_and_opportunity(api, services, tenant):
    token = tenant.tokens["sales"]
    me = str(tenant.user_ids["sales"])
    company = f"华南电子{uuid.uuid4().hex[:6]}有限公司"
    lead = await new_lead(
        api, token, name="李雷", company=company, title="采购经理", phone="13800000001",
        email="lilei@example.com", region="广州", source="TRADE_SHOW", ownerId=me,
    )  # fmt: skip
    done = await _convert(
        api, token, id=lead["id"], version=1, amount="120000.50", currency="usd",
        expectedCloseDate="2027-06-30",
    )  # fmt: skip
    assert done["userErrors"] == []
    assert done["customerCreated"] is True
    assert done["customer"]["name"] == company and done["customer"]["ownerId"] == me
    assert done["contact"]["name"] == "李雷" and done["contact"]["isPrimary"] is True
    assert done["opportunity"] | {"id": None} == {
        "id": None, "name": company, "amount": "120000.50", "currency": "USD",
        "stage": {"name": "初步接洽"},
    }  # fmt: skip
    assert done["lead"] == {
        "id": lead["id"], "status": "QUALIFIED", "convertedAt": done["lead"]["convertedAt"],
        "convertedCustomerId": done["customer"]["id"], "convertedContactId": done["contact"]["id"],
        "convertedOpportunityId": done["opportunity"]["id"], "version": 2,
    }  # fmt: skip
    assert done["lead"]["convertedAt"]
    # The links read back, nested, and the parts carry the lead's data.
    got = (await api.gql(operation("lead"), {"id": lead["id"]}, token=token))["lead"]
    assert got["convertedCustomer"] == {"id": done["customer"]["id"], "name": company}
    assert got["convertedContact"]["id"] == done["contact"]["id"]
    assert got["convertedOpportunity"]["stage"] == {"name": "初步接洽"}
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        customer = (
            await conn.execute(
                select(customers).where(customers.c.id == uuid.UUID(done["customer"]["id"]))
            )
        ).one()
        contact = (
            await conn.execute(
                select(contacts).where(contacts.c.id == uuid.UUID(done["contact"]["id"]))
            )
        ).one()
        actions = (
            await conn.execute(
                select(audit_log.c.action).where(
                    audit_log.c.entity_id.in_(
                        [uuid.UUID(lead["id"]), customer.id, contact.id,
                         uuid.UUID(done["opportunity"]["id"])]
                    )
                ).order_by(audit_log.c.id)
            )
        ).scalars().all()  # fmt: skip
    assert (customer.region, customer.source, customer.phone) == ("广州", "trade_show", None)
    assert (contact.title, contact.phone, contact.email) == (
        "采购经理", "13800000001", "lilei@example.com",
    )  # fmt: skip
    assert actions == [
        "lead.create", "customer.create", "contact.create", "opportunity.create", "lead.convert",
    ]  # fmt: skip


async def test_links_a_customer_by_company_name_or_by_id(api, services, tenant):
    token = tenant.tokens["sales"]
    me = str(tenant.user_ids["sales"])
    marker = uuid.uuid4().hex[:6]
    existing = await api.gql(
        CREATE_CUSTOMER, {"input": {"name": f"佛山 {marker} 电子", "ownerId": me}}, token=token
    )
    customer_id = existing["createCustomer"]["customer"]["id"]
    await api.gql(
        CREATE_CONTACT,
        {"input": {"customerId": customer_id, "name": "老王", "isPrimary": True}},
        token=token,
    )
    # Same company, written with other spacing, case and width: linked, not created.
    lead = await new_lead(api, token, name="小张", company=f"佛山{marker.upper()}电子", ownerId=me)
    before = await table_counts(services, tenant)
    done = await _convert(api, token, id=lead["id"], version=1, createOpportunity=False)
    assert done["userErrors"] == []
    assert (done["customerCreated"], done["customer"]["id"], done["opportunity"]) == (
        False, customer_id, None,
    )  # fmt: skip
    assert done["contact"]["isPrimary"] is False  # the customer has its primary already
    after = await table_counts(services, tenant)
    assert after["customers"] == before["customers"]
    assert after["contacts"] == before["contacts"] + 1
    assert after["opportunities"] == before["opportunities"]

    # By id: any company name; the person already a contact there is linked, not added.
    other = await new_lead(api, token, name="老王", company="随便什么公司", ownerId=me)
    before = await table_counts(services, tenant)
    done = await _convert(api, token, id=other["id"], version=1, customerId=customer_id,
                          opportunityName="二期扩容", amount="5000")  # fmt: skip
    assert done["userErrors"] == []
    assert (done["customerCreated"], done["customer"]["id"]) == (False, customer_id)
    assert done["contact"]["name"] == "老王" and done["contact"]["isPrimary"] is True
    assert (done["opportunity"]["name"], done["opportunity"]["amount"]) == ("二期扩容", "5000.00")
    after = await table_counts(services, tenant)
    assert (after["customers"], after["contacts"]) == (before["customers"], before["contacts"])
    assert after["opportunities"] == before["opportunities"] + 1


async def test_converting_twice_is_refused(api, services, tenant):
    token = tenant.tokens["sales"]
    lead = await new_lead(api, token, name="两次", company=f"重复{uuid.uuid4().hex[:6]}",
                          ownerId=str(tenant.user_ids["sales"]))  # fmt: skip
    assert (await _convert(api, token, id=lead["id"], version=1))["userErrors"] == []
    before = await table_counts(services, tenant)
    for version in (1, 2):
        again = await _convert(api, token, id=lead["id"], version=version)
        assert _codes(again) == [("id", "ALREADY_CONVERTED")]
        assert again["lead"] is None
    # A converted lead changes no more.
    update = await api.gql(UPDATE, {"input": {"id": lead["id"], "version": 2, "score": 9}},
                           token=token)  # fmt: skip
    assert _codes(update["updateLead"]) == [("id", "ALREADY_CONVERTED")]
    assert await table_counts(services, tenant) == before


async def test_concurrent_conversions_make_one_of_each(api, services, tenant):
    token = tenant.tokens["sales"]
    company = f"并发{uuid.uuid4().hex[:6]}"
    lead = await new_lead(api, token, name="并发", company=company,
                          ownerId=str(tenant.user_ids["sales"]))  # fmt: skip
    before = await table_counts(services, tenant)
    results = await asyncio.gather(
        *(_convert(api, token, id=lead["id"], version=1, amount="10") for _ in range(2))
    )
    winners = [r for r in results if not r["userErrors"]]
    losers = [r for r in results if r["userErrors"]]
    assert len(winners) == 1 and len(losers) == 1
    assert _codes(losers[0]) == [("id", "ALREADY_CONVERTED")]
    after = await table_counts(services, tenant)
    for table in ("customers", "contacts", "opportunities"):
        assert after[table] == before[table] + 1, table
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        named = await conn.scalar(
            select(customers.c.id).where(customers.c.name == company).limit(2)
        )
    assert str(named) == winners[0]["customer"]["id"]


async def test_concurrent_conversions_of_one_company_share_the_customer(api, services, tenant):
    token = tenant.tokens["sales"]
    me = str(tenant.user_ids["sales"])
    company = f"同一公司{uuid.uuid4().hex[:6]}"
    leads = [await new_lead(api, token, name=f"人{i}", company=company, ownerId=me)
             for i in range(3)]  # fmt: skip
    results = await asyncio.gather(
        *(_convert(api, token, id=lead["id"], version=1, createOpportunity=False)
          for lead in leads)
    )  # fmt: skip
    assert all(r["userErrors"] == [] for r in results)
    assert len({r["customer"]["id"] for r in results}) == 1
    assert sorted(r["customerCreated"] for r in results) == [False, False, True]
    assert len({r["contact"]["id"] for r in results}) == 3


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"amount": "-5"}, [("amount", "INVALID")]),
        ({"amount": "1.001"}, [("amount", "INVALID")]),
        ({"currency": "RMB1"}, [("currency", "INVALID")]),
        ({"opportunityName": "   "}, [("opportunityName", "REQUIRED")]),
        ({"customerId": str(uuid.uuid4())}, [("customerId", "NOT_FOUND")]),
    ],
    ids=str,
)
async def test_a_failing_part_rolls_everything_back(api, services, tenant, extra, expected):
    token = tenant.tokens["sales"]
    lead = await new_lead(api, token, name="回滚", company=f"回滚{uuid.uuid4().hex[:6]}",
                          ownerId=str(tenant.user_ids["sales"]))  # fmt: skip
    before = await table_counts(services, tenant)
    failed = await _convert(api, token, id=lead["id"], version=1, **extra)
    assert failed["lead"] is None and failed["customer"] is None
    assert _codes(failed) == expected
    # No customer, no contact, no opportunity, no audit record; the lead as it was.
    assert await table_counts(services, tenant) == before
    assert (await api.gql(GET, {"id": lead["id"]}, token=token))["lead"] == lead


async def test_stale_or_disqualified_leads_are_refused(api, services, tenant):
    token = tenant.tokens["sales"]
    lead = await new_lead(api, token, name="旧版本", ownerId=str(tenant.user_ids["sales"]))
    await api.gql(UPDATE, {"input": {"id": lead["id"], "version": 1, "score": 3}}, token=token)
    before = await table_counts(services, tenant)
    assert _codes(await _convert(api, token, id=lead["id"], version=1)) == [("version", "CONFLICT")]
    await api.gql(
        operation("disqualifyLead"),
        {"input": {"id": lead["id"], "version": 2, "reason": "无效"}}, token=token,
    )  # fmt: skip
    before = await table_counts(services, tenant)
    assert _codes(await _convert(api, token, id=lead["id"], version=3)) == [("id", "DISQUALIFIED")]
    assert await table_counts(services, tenant) == before


async def test_person_lead_without_company_becomes_a_person_customer(api, services, tenant):
    token = tenant.tokens["sales"]
    name = f"个人客户{uuid.uuid4().hex[:6]}"
    lead = await new_lead(api, token, name=name, phone="13912345678", email="p@example.com",
                          ownerId=str(tenant.user_ids["sales"]))  # fmt: skip
    done = await _convert(api, token, id=lead["id"], version=1, createOpportunity=False)
    assert done["userErrors"] == [] and done["customer"]["name"] == name
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = (
            await conn.execute(
                select(customers.c.phone, customers.c.email).where(
                    customers.c.id == uuid.UUID(done["customer"]["id"])
                )
            )
        ).one()
    assert tuple(row) == ("13912345678", "p@example.com")


async def test_unassigned_lead_becomes_the_converters(api, services, tenant):
    token = tenant.tokens["sales"]
    lead = await new_lead(api, token, name="池中", company=f"池{uuid.uuid4().hex[:6]}")
    assert lead["ownerId"] is None
    done = await _convert(api, token, id=lead["id"], version=1)
    me = str(tenant.user_ids["sales"])
    assert done["customer"]["ownerId"] == me
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        owner = await conn.scalar(
            select(opportunities.c.owner_id).where(
                opportunities.c.id == uuid.UUID(done["opportunity"]["id"])
            )
        )
    assert str(owner) == me
    got = (await api.gql(GET, {"id": lead["id"]}, token=token))["lead"]
    assert got["ownerId"] == me
