"""Pipelines and their stages: the seeded default, creating and changing pipelines,
the one-default rule, the won/lost rule, and setting stages (reorder, rename, add,
remove; never a stage in use)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from helpers import make_tenant
from pipeline_ops import CREATE as CREATE_OPPORTUNITY
from pipeline_ops import PIPELINES, default_pipeline, new_customer, new_opportunity, stage

CREATE = """mutation($input: CreatePipelineInput!) {
  createPipeline(input: $input) {
    pipeline { id name description isDefault version stages { id name position probability kind } }
    userErrors { field code message } } }"""
UPDATE = """mutation($input: UpdatePipelineInput!) {
  updatePipeline(input: $input) { pipeline { id name isDefault version }
    userErrors { field code message } } }"""
SET_STAGES = """mutation($input: SetPipelineStagesInput!) {
  setPipelineStages(input: $input) {
    pipeline { id version stages { id name position probability kind } }
    userErrors { field code message } } }"""

STAGES = [
    {"name": "线索", "probability": "5", "kind": "OPEN"},
    {"name": "报价", "probability": "40.5", "kind": "OPEN"},
    {"name": "成交", "probability": "100", "kind": "WON"},
    {"name": "丢单", "probability": "0", "kind": "LOST"},
]


@pytest.fixture(scope="module")
async def tenant(owner, services):
    """A tenant of its own: these tests change which pipeline is the default."""
    return await make_tenant(owner, services, "pipes")


async def test_every_tenant_starts_with_the_default_pipeline(api, tenant):
    pipelines = (await api.gql(PIPELINES, token=tenant.tokens["viewer"]))["pipelines"]
    (default,) = [p for p in pipelines if p["isDefault"]]
    assert [(s["name"], s["probability"], s["kind"], s["position"]) for s in default["stages"]] == [
        ("初步接洽", "10.00", "OPEN", 0),
        ("需求确认", "30.00", "OPEN", 1),
        ("方案报价", "50.00", "OPEN", 2),
        ("商务谈判", "70.00", "OPEN", 3),
        ("赢单", "100.00", "WON", 4),
        ("输单", "0.00", "LOST", 5),
    ]


async def test_create_pipeline_and_switch_the_default(api, tenant):
    admin = tenant.tokens["admin"]
    old_default = await default_pipeline(api, admin)
    name = f"渠道{uuid.uuid4().hex[:4]}"
    data = await api.gql(
        CREATE, {"input": {"name": name, "description": "经销商", "stages": STAGES}}, token=admin
    )
    created = data["createPipeline"]["pipeline"]
    assert data["createPipeline"]["userErrors"] == []
    assert [s["name"] for s in created["stages"]] == ["线索", "报价", "成交", "丢单"]
    assert created["stages"][1]["probability"] == "40.50"
    assert created["isDefault"] is False
    taken = await api.gql(CREATE, {"input": {"name": name, "stages": STAGES}}, token=admin)
    assert taken["createPipeline"]["userErrors"][0] == {
        "field": "name", "code": "TAKEN", "message": "another pipeline already has this name"
    }  # fmt: skip
    made_default = await api.gql(
        UPDATE, {"input": {"id": created["id"], "version": 1, "isDefault": True}}, token=admin
    )
    assert made_default["updatePipeline"]["pipeline"]["isDefault"] is True
    pipelines = (await api.gql(PIPELINES, token=admin))["pipelines"]
    assert [p["id"] for p in pipelines if p["isDefault"]] == [created["id"]]
    assert pipelines[0]["id"] == created["id"]  # the default comes first
    old = next(p for p in pipelines if p["id"] == old_default["id"])
    unset = await api.gql(
        UPDATE, {"input": {"id": created["id"], "version": 2, "isDefault": False}}, token=admin
    )
    assert unset["updatePipeline"]["userErrors"][0]["field"] == "isDefault"
    back = await api.gql(
        UPDATE, {"input": {"id": old["id"], "version": old["version"], "isDefault": True}},
        token=admin,
    )  # fmt: skip
    assert back["updatePipeline"]["userErrors"] == []
    stale = await api.gql(
        UPDATE, {"input": {"id": created["id"], "version": 1, "name": "stale"}}, token=admin
    )
    assert stale["updatePipeline"]["userErrors"][0]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    ("stages", "fields"),
    [
        (STAGES[:2] + STAGES[3:], {"stages"}),  # no won stage
        (STAGES + [{"name": "又赢", "probability": "100", "kind": "WON"}], {"stages"}),
        (STAGES[2:], {"stages"}),  # no open stage
        ([{**STAGES[0], "probability": "100.01"}, *STAGES[1:]], {"stages.0.probability"}),
        ([{**STAGES[0], "probability": "-1"}, *STAGES[1:]], {"stages.0.probability"}),
        ([{**STAGES[0], "probability": "1.234"}, *STAGES[1:]], {"stages.0.probability"}),
        ([{**STAGES[0], "name": " "}, *STAGES[1:]], {"stages.0.name"}),
        ([STAGES[0], {**STAGES[1], "name": "线索"}, *STAGES[2:]], {"stages.1.name"}),
    ],
)
async def test_stage_rules(api, tenant, stages, fields):
    data = await api.gql(
        CREATE, {"input": {"name": f"规则{uuid.uuid4().hex[:4]}", "stages": stages}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    assert {e["field"] for e in data["createPipeline"]["userErrors"]} == fields
    assert data["createPipeline"]["pipeline"] is None


async def test_set_stages_reorders_renames_adds_and_removes(api, tenant):
    admin = tenant.tokens["admin"]
    created = (
        await api.gql(CREATE, {"input": {"name": f"改{uuid.uuid4().hex[:4]}", "stages": STAGES}},
                      token=admin)
    )["createPipeline"]["pipeline"]  # fmt: skip
    lead, quote, won, lost = created["stages"]
    data = await api.gql(
        SET_STAGES,
        {"input": {"id": created["id"], "version": created["version"], "stages": [
            {"id": quote["id"], "name": "报价确认", "probability": "45", "kind": "OPEN"},
            {"name": "谈判", "probability": "80", "kind": "OPEN"},
            {"id": won["id"], "name": "成交", "probability": "100", "kind": "WON"},
            {"id": lost["id"], "name": "丢单", "probability": "0", "kind": "LOST"},
        ]}},
        token=admin,
    )  # fmt: skip
    payload = data["setPipelineStages"]
    assert payload["userErrors"] == []
    assert payload["pipeline"]["version"] == created["version"] + 1
    stages = payload["pipeline"]["stages"]
    assert [(s["name"], s["position"], s["probability"]) for s in stages] == [
        ("报价确认", 0, "45.00"), ("谈判", 1, "80.00"), ("成交", 2, "100.00"), ("丢单", 3, "0.00"),
    ]  # fmt: skip
    assert stages[0]["id"] == quote["id"] and stages[2]["id"] == won["id"]
    stale = await api.gql(
        SET_STAGES,
        {"input": {"id": created["id"], "version": created["version"], "stages": []}},
        token=admin,
    )
    assert stale["setPipelineStages"]["userErrors"][0]["code"] == "CONFLICT"
    foreign = await api.gql(
        SET_STAGES,
        {"input": {"id": created["id"], "version": created["version"] + 1, "stages": [
            {"id": str(uuid.uuid4()), "name": "外来", "probability": "1", "kind": "OPEN"},
            *[{k: s[k] for k in ("id", "name", "probability", "kind")} for s in stages[2:]],
        ]}},
        token=admin,
    )  # fmt: skip
    assert foreign["setPipelineStages"]["userErrors"][0] == {
        "field": "stages", "code": "NOT_FOUND", "message": "a stage id is not a stage of this pipeline"
    }  # fmt: skip


async def test_a_stage_in_use_is_neither_removed_nor_rekinded(api, tenant):
    admin = tenant.tokens["admin"]
    pipeline = (
        await api.gql(CREATE, {"input": {"name": f"用{uuid.uuid4().hex[:4]}", "stages": STAGES}},
                      token=admin)
    )["createPipeline"]["pipeline"]  # fmt: skip
    customer = await new_customer(api, admin)
    await new_opportunity(
        api, admin, customer, pipelineId=pipeline["id"], stageId=stage(pipeline, "报价")
    )
    keep = [{k: s[k] for k in ("id", "name", "probability", "kind")} for s in pipeline["stages"]]
    for stages in (
        [keep[0], keep[2], keep[3]],  # removes 报价
        [keep[0], {**keep[1], "kind": "LOST"}, keep[2], {**keep[3], "kind": "OPEN"}],
    ):
        data = await api.gql(
            SET_STAGES, {"input": {"id": pipeline["id"], "version": 1, "stages": stages}},
            token=admin,
        )  # fmt: skip
        assert data["setPipelineStages"]["userErrors"] == [
            {"field": "stages", "code": "IN_USE",
             "message": "stages with opportunities cannot be removed or change kind: 报价"}
        ]  # fmt: skip
    after = next(
        p for p in (await api.gql(PIPELINES, token=admin))["pipelines"] if p["id"] == pipeline["id"]
    )
    assert after["version"] == 1
    assert after["stages"] == pipeline["stages"]
    # Removing the unused stage is fine.
    data = await api.gql(
        SET_STAGES, {"input": {"id": pipeline["id"], "version": 1, "stages": keep[1:]}}, token=admin
    )
    assert data["setPipelineStages"]["userErrors"] == []
    assert [s["name"] for s in data["setPipelineStages"]["pipeline"]["stages"]] == [
        "报价", "成交", "丢单"
    ]  # fmt: skip


async def test_only_pipeline_managers_define_pipelines(api, tenant):
    pipeline = await default_pipeline(api, tenant.tokens["admin"])
    for role in ("manager", "sales", "viewer"):
        for query, variables in (
            (CREATE, {"input": {"name": "x", "stages": STAGES}}),
            (UPDATE, {"input": {"id": pipeline["id"], "version": 1, "name": "x"}}),
            (SET_STAGES, {"input": {"id": pipeline["id"], "version": 1, "stages": []}}),
        ):
            errors = await api.errors(query, variables, token=tenant.tokens[role])
            assert errors[0]["extensions"]["code"] == "FORBIDDEN", role


async def test_pipelines_cost_the_same_statements_however_many(api, tenant, sql_counter):
    admin = tenant.tokens["admin"]
    await api.gql("{ me { user { id } } }", token=admin)  # principal cached (1 s in tests)
    sql_counter.statements.clear()
    before = await api.gql(PIPELINES, token=admin)
    few = sql_counter.count
    for _ in range(3):
        await api.gql(
            CREATE, {"input": {"name": f"多{uuid.uuid4().hex[:4]}", "stages": STAGES}}, token=admin
        )
    await api.gql("{ me { user { id } } }", token=admin)
    sql_counter.statements.clear()
    after = await api.gql(PIPELINES, token=admin)
    assert len(after["pipelines"]) == len(before["pipelines"]) + 3
    assert sql_counter.count == few == 2  # pipelines + their stages


async def test_removing_a_stage_races_an_opportunity_entering_it(api, tenant):
    """Whichever takes the pipeline first wins; never both, never a deadlock or error."""
    admin = tenant.tokens["admin"]
    customer = await new_customer(api, admin)
    for attempt in range(6):
        pipeline = (
            await api.gql(
                CREATE, {"input": {"name": f"竞{uuid.uuid4().hex[:4]}", "stages": STAGES}},
                token=admin,
            )
        )["createPipeline"]["pipeline"]  # fmt: skip
        quote = stage(pipeline, "报价")
        keep = [
            {k: s[k] for k in ("id", "name", "probability", "kind")}
            for s in pipeline["stages"] if s["id"] != quote
        ]  # fmt: skip
        remove = api.gql(
            SET_STAGES, {"input": {"id": pipeline["id"], "version": 1, "stages": keep}},
            token=admin,
        )  # fmt: skip
        enter = api.gql(
            CREATE_OPPORTUNITY, {"input": {"customerId": customer, "name": "抢", "stageId": quote}},
            token=admin,
        )  # fmt: skip
        if attempt % 2:  # start either one first
            removed, entered = await asyncio.gather(remove, enter)
        else:
            entered, removed = await asyncio.gather(enter, remove)
        removed_errors = removed["setPipelineStages"]["userErrors"]
        entered_errors = entered["createOpportunity"]["userErrors"]
        assert (removed_errors == []) != (entered_errors == []), (removed_errors, entered_errors)
        if removed_errors:
            assert removed_errors[0]["code"] == "IN_USE"
        else:
            assert entered_errors[0] == {
                "field": "stageId", "code": "NOT_FOUND", "message": "no such stage in this pipeline"
            }  # fmt: skip
