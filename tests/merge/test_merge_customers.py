"""mergeCustomers: everything linked moves to the survivor, which fills its empty
fields (never overwriting), the merged customer is soft-deleted pointing at it, both
get an audit record; user errors leave everything as it was."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from merge_helpers import (
    CUSTOMER,
    DELETE_CUSTOMER,
    MERGE,
    MERGED_INTO,
    audit_records,
    customer_row,
    fresh,
    linked_counts,
    merge,
    merge_input,
    new_customer,
    populate,
)
from sqlalchemy import select

import app.tables  # noqa: F401  (every tenant table, for the foreign-key check)
from app.audit.service import Actor
from app.customers.tables import customers
from app.db import tenant_metadata, tenant_transaction
from app.merge import service
from app.merge.tables import MOVED, NOT_MOVED
from app.pool.tables import customer_ownership_changes

CUSTOMERS = """query($search: String!) {
  customers(first: 10, filter: {search: $search}) { edges { node { id } } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "mmerge")


def test_every_reference_to_customers_is_moved_or_deliberately_kept():
    """A new table pointing at customers must decide what a merge does with it
    (app/merge/tables.py: MOVED or NOT_MOVED), or a merge would leave its rows behind."""
    referring = {
        f"{fk.parent.table.name}.{fk.parent.name}"
        for table in tenant_metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column is customers.c.id
    }
    moved = {f"{column.table.name}.{column.name}" for column in MOVED.values()}
    assert referring - NOT_MOVED == moved


async def test_merge_moves_everything_to_the_survivor(api, services, tenant):
    admin, rep = tenant.tokens["admin"], str(tenant.user_ids["sales"])
    survivor = await new_customer(api, admin, "华达电子", ownerId=rep)
    merged = await new_customer(api, admin, "佛山华达电子有限公司", ownerId=rep)
    await populate(api, services, tenant, admin, survivor["id"], tag="S")
    await populate(api, services, tenant, admin, merged["id"], tag="M")
    before_s = await linked_counts(services, tenant, survivor["id"])
    before_m = await linked_counts(services, tenant, merged["id"])
    assert all(count >= 1 for count in before_m.values()), before_m

    result = await merge(api, admin, await fresh(services, tenant, survivor),
                         await fresh(services, tenant, merged))  # fmt: skip
    assert result["userErrors"] == []
    assert result["customer"]["id"] == survivor["id"]
    moved = result["moved"]
    assert {
        "contacts": moved["contacts"], "activities": moved["activities"], "tasks": moved["tasks"],
        "appointments": moved["appointments"], "opportunities": moved["opportunities"],
        "ownership_changes": moved["ownershipChanges"], "leads": moved["leads"],
        "sales_orders": moved["salesOrders"], "quotes": moved["quotes"],
        "shipments": moved["shipments"], "sales_returns": moved["salesReturns"],
        "invoices": moved["invoices"], "credit_notes": moved["creditNotes"],
        "payments": moved["payments"],
    } == before_m  # fmt: skip
    after_s = await linked_counts(services, tenant, survivor["id"])
    assert after_s == {k: before_s[k] + before_m[k] for k in before_s}
    assert set((await linked_counts(services, tenant, merged["id"])).values()) == {0}
    # One primary contact: the survivor's; the merged customer's became an ordinary one.
    contacts = result["customer"]["contacts"]
    assert len(contacts) == 4
    assert [c["name"] for c in contacts if c["isPrimary"]] == ["S主联系人"]

    # The merged customer: soft-deleted, pointing at the survivor, out of lists.
    row = await customer_row(services, tenant, merged["id"])
    assert row.deleted_at is not None and str(row.merged_into_id) == survivor["id"]
    one = (await api.gql(CUSTOMER, {"id": merged["id"]}, token=admin))["customer"]
    assert one["deletedAt"] is not None
    listed = await api.gql(CUSTOMERS, {"search": "华达电子"}, token=admin)
    assert [e["node"]["id"] for e in listed["customers"]["edges"]] == [survivor["id"]]
    followed = await api.gql(MERGED_INTO, {"id": merged["id"]}, token=admin)
    assert followed["customerMergedInto"]["id"] == survivor["id"]
    assert (await api.gql(MERGED_INTO, {"id": survivor["id"]}, token=admin))[
        "customerMergedInto"
    ] is None


async def test_survivor_takes_what_it_lacks_and_keeps_what_it_has(api, services, tenant):
    admin, rep = tenant.tokens["admin"], tenant.user_ids["sales"]
    survivor = await new_customer(api, admin, "腾飞科技", email="s@tengfei.cn", tags=["重点"],
                                  category="ACTIVE")  # fmt: skip
    merged = await new_customer(
        api, admin, "深圳市腾飞科技有限公司", phone="0755-1234 5678", email="m@tengfei.cn",
        tags=["重点", "深圳"], notes="老客户", industry="电子", ownerId=str(rep), tier="B",
        externalRef=f"ERP-{uuid.uuid4().hex[:6]}", creditLimit="5000.00", category="TARGET",
        address="深圳市南山区",
    )  # fmt: skip
    result = await merge(api, admin, survivor, merged)
    assert result["userErrors"] == []
    row = await customer_row(services, tenant, survivor["id"])
    original = await customer_row(services, tenant, merged["id"])
    assert row.email == "s@tengfei.cn" and row.category == "active" and row.name == "腾飞科技"
    assert (row.phone, row.notes, row.industry, row.owner_id, row.tier, row.address) == (
        "0755-1234 5678", "老客户", "电子", rep, "B", "深圳市南山区",
    )  # fmt: skip
    assert row.external_ref == original.external_ref
    assert str(row.credit_limit) == "5000.00"
    assert row.tags == ["重点", "深圳"]
    assert row.version == survivor["version"] + 1
    # The owner it took is ownership history.
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        history = (
            await conn.execute(
                select(customer_ownership_changes).where(
                    customer_ownership_changes.c.customer_id == uuid.UUID(survivor["id"]),
                    customer_ownership_changes.c.reason == "customer merge",
                )
            )
        ).all()
    assert [(h.from_owner_id, h.to_owner_id, h.kind) for h in history] == [(None, rep, "update")]


async def test_credit_limit_is_filled_only_for_who_may_set_it(api, services, tenant):
    admin = tenant.tokens["admin"]
    survivor = await new_customer(api, admin, "信用甲")
    merged = await new_customer(api, admin, "信用乙", creditLimit="100.00", notes="备注")
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        from app.auth.scope import EVERYTHING

        await service.merge_customers(
            conn, actor=Actor("user", tenant.user_ids["admin"]), who=EVERYTHING,
            survivor_id=uuid.UUID(survivor["id"]), merged_id=uuid.UUID(merged["id"]),
            survivor_version=survivor["version"], merged_version=merged["version"],
            fill_credit=False,
        )  # fmt: skip
    row = await customer_row(services, tenant, survivor["id"])
    assert row.credit_limit is None and row.notes == "备注"


async def test_audit_record_on_both(api, services, tenant):
    admin = tenant.tokens["admin"]
    survivor = await new_customer(api, admin, "京华贸易")
    merged = await new_customer(api, admin, "北京京华贸易有限责任公司", phone="010-66668888")
    await populate(api, services, tenant, admin, merged["id"], tag="J")
    result = await merge(api, admin, survivor, await fresh(services, tenant, merged))
    assert result["userErrors"] == []
    (on_survivor,) = await audit_records(services, tenant, survivor["id"], "customer.merge")
    (on_merged,) = await audit_records(services, tenant, merged["id"], "customer.merge")
    assert on_survivor.actor_id == on_merged.actor_id == tenant.user_ids["admin"]
    moved = {"contacts": 2, "activities": 1, "tasks": 1, "appointments": 1,
             "opportunities": 1, "ownership_changes": 0, "leads": 1, "sales_orders": 1,
             "quotes": 1, "shipments": 1, "sales_returns": 1, "invoices": 1,
             "credit_notes": 1, "payments": 1}  # fmt: skip
    assert on_survivor.changes["phone"] == {"from": None, "to": "010-66668888"}
    assert on_survivor.changes["merged_customer_id"] == {"from": None, "to": merged["id"]}
    assert on_survivor.changes["moved"] == {"from": None, "to": moved}
    assert on_survivor.changes["version"] == {"from": 1, "to": 2}
    assert on_merged.changes["merged_into_id"] == {"from": None, "to": survivor["id"]}
    assert on_merged.changes["deleted_at"]["from"] is None
    assert on_merged.changes["deleted_at"]["to"]
    assert on_merged.changes["moved"] == {"from": None, "to": moved}


async def _state(services, tenant, *ids: str) -> tuple:
    rows = [await customer_row(services, tenant, i) for i in ids]
    counts = [await linked_counts(services, tenant, i) for i in ids]
    return [(r.version, r.deleted_at, r.merged_into_id) for r in rows], counts


async def test_user_errors_change_nothing(api, services, tenant):
    admin = tenant.tokens["admin"]
    a = await new_customer(api, admin, "美佳化妆品")
    b = await new_customer(api, admin, "上海美佳化妆品股份有限公司")
    await populate(api, services, tenant, admin, b["id"], tag="B")
    a, b = await fresh(services, tenant, a), await fresh(services, tenant, b)
    before = await _state(services, tenant, a["id"], b["id"])

    def codes(payload):
        return [(e["field"], e["code"]) for e in payload["userErrors"]]

    stale = await merge(api, admin, {**a, "version": a["version"] - 1 or 99}, b)
    assert codes(stale) == [("survivorVersion", "CONFLICT")] and stale["customer"] is None
    stale = await merge(api, admin, a, {**b, "version": b["version"] + 1})
    assert codes(stale) == [("mergedVersion", "CONFLICT")]
    assert codes(await merge(api, admin, a, a)) == [("mergedId", "SAME_CUSTOMER")]
    unknown = {"id": str(uuid.uuid4()), "version": 1}
    assert codes(await merge(api, admin, a, unknown)) == [("mergedId", "NOT_FOUND")]
    assert codes(await merge(api, admin, {"id": "nope", "version": 1}, b)) == [
        ("survivorId", "NOT_FOUND")
    ]
    assert await _state(services, tenant, a["id"], b["id"]) == before

    deleted = await new_customer(api, admin, "已删除客户")
    data = await api.gql(DELETE_CUSTOMER, {"input": deleted}, token=admin)
    deleted = data["deleteCustomer"]["customer"]
    assert codes(await merge(api, admin, a, deleted)) == [("mergedId", "NOT_FOUND")]
    assert codes(await merge(api, admin, deleted, a)) == [("survivorId", "NOT_FOUND")]

    # Once merged, a customer can take part in no other merge: MERGED, not a cycle.
    assert (await merge(api, admin, a, b))["userErrors"] == []
    a = await fresh(services, tenant, a)
    again = await merge(api, admin, b, a)
    assert ("survivorId", "MERGED") in codes(again)
    again = await merge(api, admin, a, await fresh(services, tenant, b))
    assert codes(again) == [("mergedId", "MERGED")]


async def test_chains_are_followed_to_their_end(api, services, tenant):
    admin = tenant.tokens["admin"]
    a = await new_customer(api, admin, "链甲")
    b = await new_customer(api, admin, "链乙")
    c = await new_customer(api, admin, "链丙")
    assert (await merge(api, admin, b, a))["userErrors"] == []
    assert (await merge(api, admin, c, await fresh(services, tenant, b)))["userErrors"] == []
    for start in (a, b):
        followed = await api.gql(MERGED_INTO, {"id": start["id"]}, token=admin)
        assert followed["customerMergedInto"]["id"] == c["id"]
    assert (await api.gql(MERGED_INTO, {"id": "nope"}, token=admin))["customerMergedInto"] is None


async def test_a_merged_customer_cannot_be_restored(api, services, tenant):
    """Its links moved away: bringing it back would make an empty twin. The user is
    told why (MERGED), and the database would refuse it anyway."""
    admin = tenant.tokens["admin"]
    a = await new_customer(api, admin, "复原甲")
    b = await new_customer(api, admin, "复原乙")
    assert (await merge(api, admin, a, b))["userErrors"] == []
    response = await api.post(
        """mutation($input: RestoreCustomerInput!) {
          restoreCustomer(input: $input) { customer { id } userErrors { field code } } }""",
        {"input": {"id": b["id"]}},
        token=admin,
    )
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["restoreCustomer"]["userErrors"] == [{"field": "id", "code": "MERGED"}]
    row = await customer_row(services, tenant, b["id"])
    assert row.deleted_at is not None and str(row.merged_into_id) == a["id"]


async def test_the_example_operation_runs(api, tenant):
    admin = tenant.tokens["admin"]
    a = await new_customer(api, admin, "示例甲")
    b = await new_customer(api, admin, "示例乙")
    data = await api.gql(MERGE, {"input": merge_input(a, b)}, token=admin)
    assert data["mergeCustomers"]["customer"]["version"] == a["version"] + 1
