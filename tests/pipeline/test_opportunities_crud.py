"""Creating, changing, moving, closing and reopening opportunities over GraphQL:
validation that names the field and writes nothing, versions, idempotent creates,
stage history and the audit trail."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pipeline_ops import (
    CLOSE,
    CREATE,
    GET,
    MOVE,
    REOPEN,
    UPDATE,
    default_pipeline,
    new_customer,
    new_opportunity,
    stage,
)
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.db import tenant_transaction
from app.pipeline.tables import opportunities, opportunity_stage_history


async def _counts(services, tenant) -> tuple[int, int, int]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return (
            await conn.scalar(select(func.count()).select_from(opportunities)),
            await conn.scalar(select(func.count()).select_from(opportunity_stage_history)),
            await conn.scalar(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.entity_type == "opportunity")
            ),
        )


@pytest.fixture(scope="module")
async def setup(api, tenant_a):
    token = tenant_a.tokens["sales"]
    return {
        "customer": await new_customer(
            api, token, "华达电子", ownerId=str(tenant_a.user_ids["sales"])
        ),
        "pipeline": await default_pipeline(api, token),
    }


async def test_create_defaults_and_read(api, tenant_a, setup):
    token = tenant_a.tokens["sales"]
    created = await new_opportunity(
        api, token, setup["customer"], name=" 华达二期 ", amount="120000.5",
        expectedCloseDate="2027-03-31", competitors=["竞品A", " 竞品A ", "竞品B", ""],
    )  # fmt: skip
    assert created["amount"] == "120000.50"
    assert created["currency"] == "CNY"
    assert created["name"] == "华达二期"
    assert created["competitors"] == ["竞品A", "竞品B"]
    assert created["ownerId"] == str(tenant_a.user_ids["sales"])
    assert created["pipelineId"] == setup["pipeline"]["id"]
    assert created["stage"] == {"name": "初步接洽", "kind": "OPEN"}
    assert created["status"] == "OPEN" and created["version"] == 1
    got = (await api.gql(GET, {"id": created["id"]}, token=tenant_a.tokens["admin"]))["opportunity"]
    assert got["amount"] == "120000.50"
    assert [(h["fromStage"], h["toStage"]["name"]) for h in got["stageHistory"]] == [
        (None, "初步接洽")
    ]
    assert got["stageHistory"][0]["changedBy"]["email"].startswith("sales@")


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": "  ", "amount": "-1"}, {"name": "REQUIRED", "amount": "INVALID"}),
        ({"amount": "1.005"}, {"amount": "INVALID"}),
        ({"amount": "NaN"}, {"amount": "INVALID"}),
        ({"amount": "1e20"}, {"amount": "INVALID"}),
        ({"amount": None}, {"amount": "REQUIRED"}),
        ({"currency": "US$"}, {"currency": "INVALID"}),
        ({"currency": "EURO"}, {"currency": "INVALID"}),
        ({"competitors": ["x" * 201]}, {"competitors": "TOO_LONG"}),
        ({"expectedCloseDate": "3000-01-01"}, {"expectedCloseDate": "INVALID"}),
        ({"customerId": str(uuid.uuid4())}, {"customerId": "NOT_FOUND"}),
        ({"customerId": "nope"}, {"customerId": "NOT_FOUND"}),
        ({"ownerId": str(uuid.uuid4())}, {"ownerId": "NOT_FOUND"}),
        ({"pipelineId": str(uuid.uuid4())}, {"pipelineId": "NOT_FOUND"}),
        ({"stageId": str(uuid.uuid4())}, {"stageId": "NOT_FOUND"}),
    ],
)
async def test_validation_names_the_field_and_writes_nothing(
    api, services, tenant_a, setup, fields, errors
):
    before = await _counts(services, tenant_a)
    data = await api.gql(
        CREATE,
        {"input": {"customerId": setup["customer"], "name": "Bad", "amount": "10", **fields}},
        token=tenant_a.tokens["sales"],
    )
    payload = data["createOpportunity"]
    assert {e["field"]: e["code"] for e in payload["userErrors"]} == errors
    assert payload["opportunity"] is None
    assert await _counts(services, tenant_a) == before


async def test_amount_that_is_no_decimal_is_refused_before_anything_runs(api, tenant_a, setup):
    errors = await api.errors(
        CREATE,
        {"input": {"customerId": setup["customer"], "name": "x", "amount": "12abc"}},
        token=tenant_a.tokens["sales"],
    )
    assert "amount" in errors[0]["message"]
    assert "Decimal" in errors[0]["message"]


async def test_starting_in_a_closing_stage_is_refused(api, tenant_a, setup):
    data = await api.gql(
        CREATE,
        {"input": {"customerId": setup["customer"], "name": "Won already",
                   "stageId": stage(setup["pipeline"], "赢单")}},
        token=tenant_a.tokens["sales"],
    )  # fmt: skip
    assert data["createOpportunity"]["userErrors"][0]["field"] == "stageId"
    assert data["createOpportunity"]["userErrors"][0]["code"] == "INVALID"


async def test_invisible_customer_is_not_found(api, tenant_a, setup):
    """A rep sees their own customers and the pool, not another rep's."""
    other = await new_customer(
        api, tenant_a.tokens["admin"], "Admin's own", ownerId=str(tenant_a.user_ids["admin"])
    )
    data = await api.gql(
        CREATE, {"input": {"customerId": other, "name": "Poach"}}, token=tenant_a.tokens["sales"]
    )
    assert data["createOpportunity"]["userErrors"] == [
        {"field": "customerId", "code": "NOT_FOUND", "message": "no such customer"}
    ]


async def test_lower_case_currency_is_normalised(api, tenant_a, setup):
    created = await new_opportunity(
        api, tenant_a.tokens["sales"], setup["customer"], currency="usd"
    )
    assert created["currency"] == "USD"


async def test_create_with_client_id_is_idempotent(api, services, tenant_a, setup):
    token = tenant_a.tokens["sales"]
    opportunity_id = str(uuid.uuid4())
    fields = {
        "id": opportunity_id,
        "customerId": setup["customer"],
        "name": "离线录入",
        "amount": "5",
    }
    first = (await api.gql(CREATE, {"input": fields}, token=token))["createOpportunity"]
    before = await _counts(services, tenant_a)
    again = (await api.gql(CREATE, {"input": fields}, token=token))["createOpportunity"]
    assert again["opportunity"]["id"] == first["opportunity"]["id"] == opportunity_id
    assert await _counts(services, tenant_a) == before  # no second history row or audit
    other = (await api.gql(CREATE, {"input": {**fields, "amount": "6"}}, token=token))[
        "createOpportunity"
    ]
    assert other["userErrors"][0]["code"] == "CONFLICT"


async def test_update_and_stale_version(api, tenant_a, setup):
    token = tenant_a.tokens["sales"]
    created = await new_opportunity(api, token, setup["customer"], amount="100")
    ok = await api.gql(
        UPDATE,
        {"input": {"id": created["id"], "version": 1, "amount": "250.25", "currency": "USD",
                   "expectedCloseDate": "2027-01-15", "competitors": ["甲"]}},
        token=token,
    )  # fmt: skip
    updated = ok["updateOpportunity"]["opportunity"]
    assert (updated["amount"], updated["currency"], updated["version"]) == ("250.25", "USD", 2)
    stale = await api.gql(
        UPDATE, {"input": {"id": created["id"], "version": 1, "name": "Lost update"}}, token=token
    )
    assert stale["updateOpportunity"]["userErrors"][0]["code"] == "CONFLICT"
    assert stale["updateOpportunity"]["userErrors"][0]["field"] == "version"
    got = (await api.gql(GET, {"id": created["id"]}, token=token))["opportunity"]
    assert (got["name"], got["version"], got["amount"]) == ("机会", 2, "250.25")
    no_owner = await api.gql(
        UPDATE, {"input": {"id": created["id"], "version": 2, "ownerId": None}}, token=token
    )
    assert no_owner["updateOpportunity"]["userErrors"][0]["field"] == "ownerId"
    to_other = await api.gql(
        UPDATE,
        {"input": {"id": created["id"], "version": 2, "ownerId": str(tenant_a.user_ids["admin"])}},
        token=token,
    )
    assert to_other["updateOpportunity"]["userErrors"] == [
        {"field": "ownerId", "code": "NOT_FOUND", "message": "no active user with this id"}
    ]


async def test_move_close_reopen_write_history(api, services, tenant_a, setup):
    token = tenant_a.tokens["sales"]
    pipeline = setup["pipeline"]
    created = await new_opportunity(api, token, setup["customer"], amount="900")
    moved = (
        await api.gql(
            MOVE, {"input": {"id": created["id"], "version": 1,
                             "stageId": stage(pipeline, "方案报价")}}, token=token,
        )
    )["moveOpportunity"]  # fmt: skip
    assert moved["opportunity"]["stage"]["name"] == "方案报价"
    assert moved["opportunity"]["version"] == 2
    to_won = (
        await api.gql(
            MOVE, {"input": {"id": created["id"], "version": 2, "stageId": stage(pipeline, "赢单")}},
            token=token,
        )
    )["moveOpportunity"]  # fmt: skip
    assert (
        to_won["userErrors"][0]["field"] == "stageId"
        and to_won["userErrors"][0]["code"] == "INVALID"
    )
    no_reason = (
        await api.gql(
            CLOSE, {"input": {"id": created["id"], "version": 2, "outcome": "LOST"}}, token=token
        )
    )["closeOpportunity"]
    assert no_reason["userErrors"][0]["field"] == "reason"
    assert no_reason["userErrors"][0]["code"] == "REQUIRED"
    lost = (
        await api.gql(
            CLOSE, {"input": {"id": created["id"], "version": 2, "outcome": "LOST",
                              "reason": "价格太高"}}, token=token,
        )
    )["closeOpportunity"]["opportunity"]  # fmt: skip
    assert (lost["status"], lost["lostReason"], lost["stage"]["kind"]) == (
        "LOST",
        "价格太高",
        "LOST",
    )
    assert lost["closedAt"] is not None
    closed_move = (
        await api.gql(
            MOVE, {"input": {"id": created["id"], "version": 3,
                             "stageId": stage(pipeline, "需求确认")}}, token=token,
        )
    )["moveOpportunity"]  # fmt: skip
    assert closed_move["userErrors"][0]["code"] == "CLOSED"
    reopened = (await api.gql(REOPEN, {"input": {"id": created["id"], "version": 3}}, token=token))[
        "reopenOpportunity"
    ]["opportunity"]
    assert reopened["stage"]["name"] == "方案报价"  # where it was closed from
    assert (reopened["status"], reopened["closedAt"], reopened["lostReason"]) == (
        "OPEN",
        None,
        None,
    )
    won = (
        await api.gql(
            CLOSE, {"input": {"id": created["id"], "version": 4, "outcome": "WON"}}, token=token
        )
    )["closeOpportunity"]["opportunity"]
    assert won["status"] == "WON" and won["stage"]["name"] == "赢单"
    got = (await api.gql(GET, {"id": created["id"]}, token=token))["opportunity"]
    steps = [
        (h["fromStage"] and h["fromStage"]["name"], h["toStage"]["name"], h["changedBy"]["email"])
        for h in got["stageHistory"]
    ]
    sales = f"sales@{tenant_a.slug}.example.com"
    assert steps == [
        (None, "初步接洽", sales),
        ("初步接洽", "方案报价", sales),
        ("方案报价", "输单", sales),
        ("输单", "方案报价", sales),
        ("方案报价", "赢单", sales),
    ]
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        actions = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.actor_id, audit_log.c.changes)
                .where(audit_log.c.entity_id == uuid.UUID(created["id"]))
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [a.action for a in actions] == [
        "opportunity.create", "opportunity.move", "opportunity.close", "opportunity.reopen",
        "opportunity.close",
    ]  # fmt: skip
    assert {a.actor_id for a in actions} == {tenant_a.user_ids["sales"]}
    assert actions[2].changes["status"] == {"from": "open", "to": "lost"}
    assert actions[2].changes["lost_reason"] == {"from": None, "to": "价格太高"}


async def test_a_win_takes_no_reason_and_closing_twice_is_refused(api, tenant_a, setup):
    token = tenant_a.tokens["sales"]
    created = await new_opportunity(api, token, setup["customer"])
    with_reason = (
        await api.gql(
            CLOSE, {"input": {"id": created["id"], "version": 1, "outcome": "WON",
                              "reason": "关系好"}}, token=token,
        )
    )["closeOpportunity"]  # fmt: skip
    assert with_reason["userErrors"][0]["field"] == "reason"
    await api.gql(
        CLOSE, {"input": {"id": created["id"], "version": 1, "outcome": "WON"}}, token=token
    )
    twice = (
        await api.gql(
            CLOSE, {"input": {"id": created["id"], "version": 2, "outcome": "LOST",
                              "reason": "x"}}, token=token,
        )
    )["closeOpportunity"]  # fmt: skip
    assert twice["userErrors"][0]["code"] == "CLOSED"


async def test_concurrent_moves_with_one_version_let_exactly_one_through(
    api, services, tenant_a, setup
):
    token = tenant_a.tokens["sales"]
    pipeline = setup["pipeline"]
    created = await new_opportunity(api, token, setup["customer"])
    targets = [stage(pipeline, "需求确认"), stage(pipeline, "商务谈判")]
    results = await asyncio.gather(
        *(
            api.gql(MOVE, {"input": {"id": created["id"], "version": 1, "stageId": t}}, token=token)
            for t in targets
        )
    )
    payloads = [r["moveOpportunity"] for r in results]
    winners = [p for p in payloads if not p["userErrors"]]
    losers = [p for p in payloads if p["userErrors"]]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0]["userErrors"][0]["code"] == "CONFLICT"
    got = (await api.gql(GET, {"id": created["id"]}, token=token))["opportunity"]
    assert got["version"] == 2
    assert got["stageId"] == winners[0]["opportunity"]["stageId"]
    assert len(got["stageHistory"]) == 2


async def test_viewer_reads_but_cannot_write(api, tenant_a, setup):
    created = await new_opportunity(api, tenant_a.tokens["sales"], setup["customer"])
    viewer = tenant_a.tokens["viewer"]
    for query, variables in (
        (CREATE, {"input": {"customerId": setup["customer"], "name": "no"}}),
        (UPDATE, {"input": {"id": created["id"], "version": 1, "name": "no"}}),
        (MOVE, {"input": {"id": created["id"], "version": 1, "stageId": created["stageId"]}}),
        (CLOSE, {"input": {"id": created["id"], "version": 1, "outcome": "WON"}}),
        (REOPEN, {"input": {"id": created["id"], "version": 1}}),
    ):
        errors = await api.errors(query, variables, token=viewer)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
