"""Leads through the API: create (client ids, idempotent), update with versions,
qualify / disqualify, delete / restore; validation writes nothing; every write is
audited in its transaction."""

from __future__ import annotations

import uuid

import pytest
from lead_helpers import (
    CREATE,
    DELETE,
    DISQUALIFY,
    GET,
    QUALIFY,
    RESTORE,
    UPDATE,
    new_lead,
    operation,
    table_counts,
)
from sqlalchemy import select

from app.audit.tables import audit_log
from app.db import tenant_transaction


async def _audit(services, tenant, lead_id: str) -> list[tuple[str, dict]]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(
            select(audit_log.c.action, audit_log.c.changes)
            .where(audit_log.c.entity_type == "lead", audit_log.c.entity_id == uuid.UUID(lead_id))
            .order_by(audit_log.c.id)
        )
        return [(r.action, r.changes) for r in rows]


async def test_create_read_update_with_versions(api, services, tenant_a):
    token = tenant_a.tokens["sales"]
    lead_id = str(uuid.uuid4())
    data = await api.gql(
        operation("createLead"),
        {"input": {"id": lead_id, "name": " 李雷 ", "company": "华南电子有限公司", "title": "采购经理",
                   "phone": "020-12345678", "email": "lilei@huanan.example.com", "region": "广州",
                   "source": "TRADE_SHOW", "score": 70, "ownerId": str(tenant_a.user_ids["sales"])}},
        token=token,
    )  # fmt: skip
    created = data["createLead"]
    assert created["userErrors"] == []
    assert created["lead"] | {"owner": None} == {
        "id": lead_id, "name": "李雷", "company": "华南电子有限公司", "region": "广州",
        "source": "TRADE_SHOW", "status": "NEW", "score": 70,
        "ownerId": str(tenant_a.user_ids["sales"]), "owner": None, "version": 1,
    }  # fmt: skip
    assert created["lead"]["owner"]["name"] == "sales"

    got = (await api.gql(operation("lead"), {"id": lead_id}, token=token))["lead"]
    assert (got["title"], got["phone"], got["email"]) == (
        "采购经理", "020-12345678", "lilei@huanan.example.com",
    )  # fmt: skip
    assert got["convertedAt"] is None and got["convertedCustomer"] is None

    updated = await api.gql(
        operation("updateLead"),
        {"input": {"id": lead_id, "version": 1, "score": 85, "status": "WORKING",
                   "notes": "展会上聊过"}},
        token=token,
    )  # fmt: skip
    assert updated["updateLead"]["userErrors"] == []
    assert updated["updateLead"]["lead"]["version"] == 2
    assert updated["updateLead"]["lead"]["status"] == "WORKING"

    stale = await api.gql(UPDATE, {"input": {"id": lead_id, "version": 1, "score": 1}}, token=token)
    assert stale["updateLead"]["lead"] is None
    assert [(e["field"], e["code"]) for e in stale["updateLead"]["userErrors"]] == [
        ("version", "CONFLICT")
    ]
    # Nothing changed means nothing written: no new version, no audit record.
    same = await api.gql(UPDATE, {"input": {"id": lead_id, "version": 2, "score": 85}}, token=token)
    assert same["updateLead"]["lead"]["version"] == 2
    actions = [a for a, _ in await _audit(services, tenant_a, lead_id)]
    assert actions == ["lead.create", "lead.update"]
    (_, changes) = (await _audit(services, tenant_a, lead_id))[1]
    assert changes == {
        "score": {"from": 70, "to": 85}, "status": {"from": "new", "to": "working"},
        "notes": {"from": None, "to": "展会上聊过"},
    }  # fmt: skip


async def test_client_ids_make_creates_idempotent(api, services, tenant_a):
    token = tenant_a.tokens["sales"]
    lead_id = str(uuid.uuid4())
    first = await new_lead(api, token, id=lead_id, name="韩梅梅", company="北方贸易")
    before = await table_counts(services, tenant_a)
    again = await new_lead(api, token, id=lead_id, name="韩梅梅", company="北方贸易")
    assert again == first
    assert await table_counts(services, tenant_a) == before
    other = await api.gql(CREATE, {"input": {"id": lead_id, "name": "别人"}}, token=token)
    assert [(e["field"], e["code"]) for e in other["createLead"]["userErrors"]] == [
        ("id", "CONFLICT")
    ]
    assert await table_counts(services, tenant_a) == before


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "  "}, [("name", "REQUIRED")]),
        ({"email": "not-an-email"}, [("email", "INVALID")]),
        ({"phone": "call me"}, [("phone", "INVALID")]),
        ({"score": 101}, [("score", "INVALID")]),
        ({"score": -1, "company": "x" * 201}, [("company", "TOO_LONG"), ("score", "INVALID")]),
        ({"status": "QUALIFIED"}, [("status", "INVALID")]),
        ({"ownerId": str(uuid.uuid4())}, [("ownerId", "NOT_FOUND")]),
        ({"ownerId": "not-an-id"}, [("ownerId", "NOT_FOUND")]),
    ],
    ids=lambda v: str(v),
)
async def test_invalid_creates_write_nothing(api, services, tenant_a, fields, expected):
    before = await table_counts(services, tenant_a)
    data = await api.gql(
        CREATE, {"input": {"name": "有效名字", **fields}}, token=tenant_a.tokens["sales"]
    )
    assert data["createLead"]["lead"] is None
    assert sorted((e["field"], e["code"]) for e in data["createLead"]["userErrors"]) == expected
    assert await table_counts(services, tenant_a) == before


async def test_owner_must_be_visible_and_able_to_own_leads(api, services, tenant_a):
    before = await table_counts(services, tenant_a)
    # A rep (own scope) cannot give a lead to someone else.
    data = await api.gql(
        CREATE, {"input": {"name": "张三", "ownerId": str(tenant_a.user_ids["manager"])}},
        token=tenant_a.tokens["sales"],
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in data["createLead"]["userErrors"]] == [
        ("ownerId", "NOT_FOUND")
    ]
    # The admin sees the viewer, but a viewer's role does not write leads.
    data = await api.gql(
        CREATE, {"input": {"name": "张三", "ownerId": str(tenant_a.user_ids["viewer"])}},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in data["createLead"]["userErrors"]] == [
        ("ownerId", "INVALID")
    ]
    assert await table_counts(services, tenant_a) == before


async def test_qualify_disqualify_and_transitions(api, services, tenant_a):
    token = tenant_a.tokens["sales"]
    lead = await new_lead(api, token, name="赵六", ownerId=str(tenant_a.user_ids["sales"]))
    lead_id = lead["id"]
    before = await table_counts(services, tenant_a)
    no_reason = await api.gql(
        DISQUALIFY, {"input": {"id": lead_id, "version": 1, "reason": "  "}}, token=token
    )
    assert [(e["field"], e["code"]) for e in no_reason["disqualifyLead"]["userErrors"]] == [
        ("reason", "REQUIRED")
    ]
    assert await table_counts(services, tenant_a) == before
    out = await api.gql(
        operation("disqualifyLead"), {"input": {"id": lead_id, "version": 1, "reason": "没有预算"}},
        token=token,
    )  # fmt: skip
    assert out["disqualifyLead"]["lead"] == {
        "id": lead_id, "status": "DISQUALIFIED", "disqualifiedReason": "没有预算", "version": 2
    }  # fmt: skip
    # Back to NEW through updateLead clears the reason; then qualified.
    back = await api.gql(UPDATE, {"input": {"id": lead_id, "version": 2, "status": "NEW"}},
                         token=token)  # fmt: skip
    assert (
        back["updateLead"]["lead"]["status"],
        back["updateLead"]["lead"]["disqualifiedReason"],
    ) == ("NEW", None)
    qualified = await api.gql(
        operation("qualifyLead"), {"input": {"id": lead_id, "version": 3}}, token=token
    )
    assert qualified["qualifyLead"]["lead"]["status"] == "QUALIFIED"
    # QUALIFIED to NEW is not a transition; to WORKING is.
    bad = await api.gql(UPDATE, {"input": {"id": lead_id, "version": 4, "status": "NEW"}},
                        token=token)  # fmt: skip
    assert [(e["field"], e["code"]) for e in bad["updateLead"]["userErrors"]] == [
        ("status", "INVALID_TRANSITION")
    ]
    stale = await api.gql(QUALIFY, {"input": {"id": lead_id, "version": 1}}, token=token)
    assert [e["code"] for e in stale["qualifyLead"]["userErrors"]] == ["CONFLICT"]
    actions = [a for a, _ in await _audit(services, tenant_a, lead_id)]
    assert actions == ["lead.create", "lead.disqualify", "lead.update", "lead.qualify"]


async def test_delete_and_restore(api, services, tenant_a):
    token = tenant_a.tokens["sales"]
    marker = f"删除{uuid.uuid4().hex[:6]}"
    lead = await new_lead(api, token, name=marker, ownerId=str(tenant_a.user_ids["sales"]))
    deleted = await api.gql(DELETE, {"input": {"id": lead["id"], "version": 1}}, token=token)
    assert deleted["deleteLead"]["lead"]["deletedAt"]
    listed = await api.gql(operation("leads"), {"filter": {"search": marker}}, token=token)
    assert listed["leads"]["totalCount"] == 0
    trash = await api.gql(
        operation("leads"), {"filter": {"search": marker, "deleted": True}}, token=token
    )
    assert trash["leads"]["totalCount"] == 1
    # A deleted lead still answers by id, but cannot be changed.
    assert (await api.gql(GET, {"id": lead["id"]}, token=token))["lead"]["deletedAt"]
    change = await api.gql(UPDATE, {"input": {"id": lead["id"], "version": 2, "score": 5}},
                           token=token)  # fmt: skip
    assert [e["code"] for e in change["updateLead"]["userErrors"]] == ["NOT_FOUND"]
    restored = await api.gql(RESTORE, {"input": {"id": lead["id"]}}, token=token)
    assert restored["restoreLead"]["lead"]["deletedAt"] is None
    assert restored["restoreLead"]["lead"]["version"] == 3
    actions = [a for a, _ in await _audit(services, tenant_a, lead["id"])]
    assert actions == ["lead.create", "lead.delete", "lead.restore"]


async def test_viewer_reads_but_cannot_write(api, services, tenant_a):
    before = await table_counts(services, tenant_a)
    errors = await api.errors(CREATE, {"input": {"name": "x"}}, token=tenant_a.tokens["viewer"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await table_counts(services, tenant_a) == before
    data = await api.gql(operation("leads"), token=tenant_a.tokens["viewer"])
    assert data["leads"]["totalCount"] >= 0


async def test_assigning_is_audited(api, services, tenant_a):
    token = tenant_a.tokens["sales"]
    lead = await new_lead(api, token, name="待领取")
    assert lead["ownerId"] is None
    me = str(tenant_a.user_ids["sales"])
    taken = await api.gql(
        operation("assignLeads"), {"ids": [lead["id"]], "ownerId": me}, token=token
    )
    assert taken["assignLeads"]["leads"][0]["ownerId"] == me
    assert taken["assignLeads"]["leads"][0]["version"] == 2
    audit = await _audit(services, tenant_a, lead["id"])
    assert audit[-1] == ("lead.assign", {"owner_id": {"from": None, "to": me}})
