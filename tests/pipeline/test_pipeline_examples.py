"""The published example operations (graphql/operations/) in the order a front end
would use them: the pipeline, a new opportunity, the list, a move, a close, the funnel,
the forecast, and a change of stages."""

from __future__ import annotations

import uuid

from helpers import make_tenant
from pipeline_ops import new_customer, operation


async def test_example_operations_run_in_order(api, owner, services):
    tenant = await make_tenant(owner, services, "opexample")
    token = tenant.tokens["manager"]

    async def run(name: str, variables: dict | None = None, as_: str = token) -> dict:
        return await api.gql(operation(name), variables, token=as_)

    (pipeline,) = (await run("pipelines"))["pipelines"]
    stages = {s["name"]: s for s in pipeline["stages"]}
    customer = await new_customer(api, token, "示例电子有限公司")
    opportunity_id = str(uuid.uuid4())
    created = await run(
        "createOpportunity",
        {"input": {"id": opportunity_id, "customerId": customer, "name": "示例二期",
                   "amount": "120000.50", "expectedCloseDate": "2027-06-30",
                   "competitors": ["竞品A"]}},
    )  # fmt: skip
    assert created["createOpportunity"]["opportunity"]["stage"]["name"] == "初步接洽"
    listed = await run("opportunities", {"filter": {"customerId": {"eq": customer}}})
    node = listed["opportunities"]["edges"][0]["node"]
    assert (node["customer"]["name"], node["owner"]["name"]) == ("示例电子有限公司", "manager")
    moved = await run(
        "moveOpportunity",
        {"input": {"id": opportunity_id, "version": 1, "stageId": stages["方案报价"]["id"]}},
    )
    assert moved["moveOpportunity"]["opportunity"]["stage"]["probability"] == "50.00"
    summary = await run("pipelineSummary", {"filter": {"from": "2020-01-01", "to": "2099-12-31"}})
    offer = summary["pipelineSummary"]["stages"][2]
    assert offer["amounts"] == [{"currency": "CNY", "amount": "120000.50", "weighted": "60000.25"}]
    assert summary["pipelineSummary"]["stages"][0]["conversionRate"] == 1.0
    forecast = await run("forecast", {"from": "2027-06-01", "to": "2027-06-30"})
    assert forecast["forecast"]["byOwner"][0]["weighted"] == "60000.25"
    closed = await run(
        "closeOpportunity",
        {"input": {"id": opportunity_id, "version": 2, "outcome": "LOST", "reason": "预算取消"}},
    )
    assert closed["closeOpportunity"]["opportunity"]["stage"]["name"] == "输单"
    one = await run("opportunity", {"id": opportunity_id})
    assert [h["toStage"]["name"] for h in one["opportunity"]["stageHistory"]] == [
        "初步接洽", "方案报价", "输单"
    ]  # fmt: skip
    renamed = await run(
        "setPipelineStages",
        {"input": {"id": pipeline["id"], "version": pipeline["version"], "stages": [
            {"id": s["id"], "name": s["name"] if s["name"] != "初步接洽" else "初次接触",
             "probability": s["probability"], "kind": s["kind"]}
            for s in pipeline["stages"]
        ]}},
        as_=tenant.tokens["admin"],
    )  # fmt: skip
    assert renamed["setPipelineStages"]["pipeline"]["stages"][0]["name"] == "初次接触"
