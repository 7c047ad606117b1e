"""Tenant isolation: a token of tenant B can never read, list, count, change, move,
close, summarise or infer tenant A's opportunities and pipelines, by any id, filter,
mutation or report."""

from __future__ import annotations

import uuid

import pytest
from pipeline_ops import (
    CLOSE,
    CREATE,
    GET,
    MOVE,
    PIPELINES,
    REOPEN,
    UPDATE,
    default_pipeline,
    new_customer,
    new_opportunity,
    operation,
    stage,
)

SET_STAGES = """mutation($input: SetPipelineStagesInput!) {
  setPipelineStages(input: $input) { userErrors { field code } } }"""
UPDATE_PIPELINE = """mutation($input: UpdatePipelineInput!) {
  updatePipeline(input: $input) { userErrors { field code } } }"""
CREATE_PIPELINE = """mutation($input: CreatePipelineInput!) {
  createPipeline(input: $input) { pipeline { id version stages { id } } userErrors { code } } }"""
LIST = """query($filter: OpportunityFilter) {
  opportunities(filter: $filter) { totalCount edges { node { id } } } }"""


@pytest.fixture(scope="module")
async def a_records(api, tenant_a):
    marker = f"Secret{uuid.uuid4().hex[:6]}"
    token = tenant_a.tokens["sales"]
    customer = await new_customer(
        api, token, f"{marker} 机密", ownerId=str(tenant_a.user_ids["sales"])
    )
    pipeline = await default_pipeline(api, token)
    opportunity = await new_opportunity(
        api, token, customer, name=f"{marker} 机密项目", amount="7777777.77", currency="JPY",
        expectedCloseDate="2031-07-15", stageId=stage(pipeline, "商务谈判"),
    )  # fmt: skip
    custom = await api.gql(
        CREATE_PIPELINE,
        {"input": {"name": f"{marker} 渠道", "stages": [
            {"name": "a", "probability": "1", "kind": "OPEN"},
            {"name": "w", "probability": "100", "kind": "WON"},
            {"name": "l", "probability": "0", "kind": "LOST"},
        ]}},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    return {
        "marker": marker, "customer": customer, "pipeline": pipeline,
        "custom": custom["createPipeline"]["pipeline"], "opportunity": opportunity,
    }  # fmt: skip


async def test_b_cannot_read_by_id_or_see_pipelines(api, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    got = await api.gql(GET, {"id": a_records["opportunity"]["id"]}, token=token)
    assert got == {"opportunity": None}
    pipelines = (await api.gql(PIPELINES, token=token))["pipelines"]
    ids = {p["id"] for p in pipelines} | {s["id"] for p in pipelines for s in p["stages"]}
    a_ids = {a_records["custom"]["id"], a_records["pipeline"]["id"]} | {
        s["id"] for s in a_records["pipeline"]["stages"]
    }
    assert not ids & a_ids
    assert not any(a_records["marker"] in p["name"] for p in pipelines)


def _filters(tenant_a, a) -> list[dict]:
    return [
        {"search": a["marker"]},
        {"search": "机密"},
        {"customerId": {"eq": a["customer"]}},
        {"ownerId": {"eq": str(tenant_a.user_ids["sales"])}},
        {"pipelineId": {"in": [a["pipeline"]["id"]]}},
        {"stageId": {"eq": a["opportunity"]["stageId"]}},
        {"currency": "JPY", "amount": {"gte": "7777777.77"}},
    ]


@pytest.mark.parametrize("case", range(7))
async def test_b_cannot_list_or_count(api, tenant_a, tenant_b, a_records, case):
    filter_ = _filters(tenant_a, a_records)[case]
    data = await api.gql(LIST, {"filter": filter_}, token=tenant_b.tokens["admin"])
    assert data["opportunities"] == {"totalCount": 0, "edges": []}
    mine = await api.gql(LIST, {"filter": filter_}, token=tenant_a.tokens["admin"])
    assert mine["opportunities"]["totalCount"] >= 1  # the same filter works in A


async def test_b_cannot_summarise_or_forecast_a(api, tenant_a, tenant_b, a_records):
    summary, forecast = operation("pipelineSummary"), operation("forecast")
    token = tenant_b.tokens["admin"]
    by_id = await api.gql(
        summary, {"filter": {"pipelineId": a_records["pipeline"]["id"]}}, token=token
    )
    assert by_id["pipelineSummary"] is None
    by_owner = await api.gql(
        summary, {"filter": {"ownerId": str(tenant_a.user_ids["sales"])}}, token=token
    )
    assert all(
        s["count"] == 0 and s["amounts"] == [] and s["entered"] == 0
        for s in by_owner["pipelineSummary"]["stages"]
    )
    assert by_owner["pipelineSummary"]["pipeline"]["id"] != a_records["pipeline"]["id"]
    july = {"from": "2031-07-01", "to": "2031-07-31"}
    assert (await api.gql(forecast, july, token=token))["forecast"] == {
        "byMonth": [], "byOwner": [], "byTeam": []
    }  # fmt: skip
    in_a = (await api.gql(forecast, july, token=tenant_a.tokens["admin"]))["forecast"]
    assert [m["amount"] for m in in_a["byMonth"] if m["currency"] == "JPY"] == ["7777777.77"]


async def test_b_cannot_change_a(api, tenant_a, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    a = a_records["opportunity"]
    stage_id = a_records["pipeline"]["stages"][1]["id"]
    for query, name, variables in (
        (UPDATE, "updateOpportunity", {"id": a["id"], "version": 1, "name": "pwned"}),
        (MOVE, "moveOpportunity", {"id": a["id"], "version": 1, "stageId": stage_id}),
        (
            CLOSE,
            "closeOpportunity",
            {"id": a["id"], "version": 1, "outcome": "LOST", "reason": "x"},
        ),
        (REOPEN, "reopenOpportunity", {"id": a["id"], "version": 1}),
    ):
        data = await api.gql(query, {"input": variables}, token=token)
        assert data[name]["userErrors"][0]["code"] == "NOT_FOUND", name
    custom = a_records["custom"]
    for query, name, variables in (
        (UPDATE_PIPELINE, "updatePipeline", {"id": custom["id"], "version": 1, "name": "pwned"}),
        (SET_STAGES, "setPipelineStages", {"id": custom["id"], "version": 1, "stages": [
            {"id": s["id"], "name": "pwned", "probability": "1", "kind": "OPEN"}
            for s in custom["stages"]
        ]}),
    ):  # fmt: skip
        data = await api.gql(query, {"input": variables}, token=token)
        assert data[name]["userErrors"] == [{"field": "id", "code": "NOT_FOUND"}], name
    b_customer = await new_customer(api, token)
    for fields, field in (
        ({"customerId": a_records["customer"]}, "customerId"),
        ({"customerId": b_customer, "pipelineId": a_records["pipeline"]["id"]}, "pipelineId"),
        ({"customerId": b_customer, "stageId": stage_id}, "stageId"),
        ({"customerId": b_customer, "ownerId": str(tenant_a.user_ids["sales"])}, "ownerId"),
    ):
        data = await api.gql(CREATE, {"input": {"name": "intruder", **fields}}, token=token)
        assert data["createOpportunity"]["userErrors"][0]["field"] == field
        assert data["createOpportunity"]["userErrors"][0]["code"] == "NOT_FOUND"
    still = await api.gql(GET, {"id": a["id"]}, token=tenant_a.tokens["admin"])
    assert still["opportunity"]["version"] == 1
    assert still["opportunity"]["name"].startswith(a_records["marker"])
    assert len(still["opportunity"]["stageHistory"]) == 1
    pipelines = (await api.gql(PIPELINES, token=tenant_a.tokens["admin"]))["pipelines"]
    mine = next(p for p in pipelines if p["id"] == custom["id"])
    assert mine["version"] == 1 and mine["name"].startswith(a_records["marker"])


async def test_b_reusing_a_ids_reveals_nothing(api, tenant_b, a_records):
    """Ids taken in tenant A are free in tenant B: no CONFLICT that would leak them."""
    token = tenant_b.tokens["admin"]
    customer = await new_customer(api, token)
    created = await new_opportunity(api, token, customer, id=a_records["opportunity"]["id"])
    assert created["id"] == a_records["opportunity"]["id"]
    pipeline = await api.gql(
        CREATE_PIPELINE,
        {"input": {"id": a_records["custom"]["id"], "name": f"b {uuid.uuid4().hex[:4]}",
                   "stages": [{"name": "a", "probability": "1", "kind": "OPEN"},
                              {"name": "w", "probability": "100", "kind": "WON"},
                              {"name": "l", "probability": "0", "kind": "LOST"}]}},
        token=token,
    )  # fmt: skip
    assert pipeline["createPipeline"]["userErrors"] == []
