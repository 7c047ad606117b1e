"""Data scope of opportunities: the owner decides, as for customers' owners but with no
pool (all / the team's subtree / own), and the assigned scope sees none. Every read
path (list, totalCount, filters, by id, summary, forecast) and every write obeys it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from pipeline_ops import CLOSE, MOVE, UPDATE, build_org, new_customer, new_opportunity

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.customers import service as customers
from app.db import tenant_transaction
from app.pipeline import service

TEAMS = [("sales", None), ("east", "sales"), ("shanghai", "east"), ("west", "sales")]
PEOPLE = {
    "mgr_sales": ("manager", "sales"),
    "mgr_east": ("manager", "east"),
    "rep_east": ("sales", "east"),
    "rep_sh": ("sales", "shanghai"),
    "rep_west": ("sales", "west"),
    "viewer_west": ("viewer", "west"),
    "partner": ("partner", None),
}
OWNED = {"admin": 1, "mgr_east": 1, "rep_east": 2, "rep_sh": 3, "rep_west": 4}
SEES = {
    "admin": set(OWNED),
    "mgr_sales": {"mgr_east", "rep_east", "rep_sh", "rep_west"},
    "mgr_east": {"mgr_east", "rep_east", "rep_sh"},
    "rep_east": {"rep_east"},
    "rep_sh": {"rep_sh"},
    "viewer_west": {"rep_west"},
    "reader": set(),  # a custom role: opportunities:read with the assigned scope
}
LIST = """query($filter: OpportunityFilter) {
  opportunities(first: 100, filter: $filter) {
    totalCount edges { node { id ownerId customer { id } } } } }"""
REPORTS = """{ pipelineSummary { stages { count amounts { amount } } }
  forecast(from: "2027-05-01", to: "2027-05-31") { byMonth { count amount } } }"""


@pytest.fixture(scope="module")
async def org(api, owner, services):
    org = await build_org(api, owner, services, "opscope", TEAMS, PEOPLE)
    admin = org.tokens["admin"]
    role = await api.gql(
        """mutation { createRole(input: {name: "opportunity-reader", dataScope: ASSIGNED,
           permissions: ["opportunities:read", "customers:read"]}) { userErrors { field } } }""",
        token=admin,
    )
    assert role["createRole"]["userErrors"] == []
    user = await api.gql(
        'mutation { createUser(input: {email: "reader@x.cn", role: "opportunity-reader"}) {'
        " user { id } } }",
        token=admin,
    )
    reader = user["createUser"]["user"]["id"]
    org.tokens["reader"] = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=org.tenant.id,
        user_id=uuid.UUID(reader), roles=["opportunity-reader"],
    )  # fmt: skip
    owned: dict[str, list[str]] = {}
    customer_of: dict[str, str] = {}
    async with tenant_transaction(services.engine, org.tenant.schema) as conn:
        # One customer, owned by the admin: out of every rep's scope. The owner of the
        # opportunity decides, not the customer.
        customer = await customers.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
            fields={"name": "大客户", "owner_id": org.ids["admin"]},
        )  # fmt: skip
        for person, count in OWNED.items():
            for i in range(count):
                row = await service.create_opportunity(
                    conn, actor=SYSTEM, who=EVERYTHING, opportunity_id=None,
                    customer_id=customer.id, pipeline_id=None, stage_id=None,
                    fields={"name": f"{person} {i}", "amount": Decimal("100.00"),
                            "expected_close_date": dt.date(2027, 5, 10),
                            "owner_id": org.ids[person]},
                )  # fmt: skip
                owned.setdefault(person, []).append(str(row.id))
                customer_of[str(row.id)] = str(customer.id)
    return {"org": org, "owned": owned, "customer": str(customer.id)}


def _visible(org_data, person: str) -> set[str]:
    return {i for owner in SEES[person] for i in org_data["owned"].get(owner, [])}


@pytest.mark.parametrize("person", list(SEES))
async def test_lists_counts_filters_and_reports_match_the_scope(api, org, person):
    token = org["org"].tokens[person]
    expected = _visible(org, person)
    data = (await api.gql(LIST, token=token))["opportunities"]
    assert {e["node"]["id"] for e in data["edges"]} == expected
    assert data["totalCount"] == len(expected)
    # The customer is the admin's: only the admin sees it nested.
    assert all((e["node"]["customer"] is not None) == (person == "admin") for e in data["edges"])
    by_customer = await api.gql(
        LIST, {"filter": {"customerId": {"eq": org["customer"]}}}, token=token
    )
    assert by_customer["opportunities"]["totalCount"] == len(expected)
    for other, ids in org["owned"].items():
        filtered = await api.gql(
            LIST, {"filter": {"ownerId": {"eq": str(org["org"].ids[other])}}}, token=token
        )
        assert filtered["opportunities"]["totalCount"] == len(set(ids) & expected), other
    reports = await api.gql(REPORTS, token=token)
    stages = reports["pipelineSummary"]["stages"]
    assert sum(s["count"] for s in stages) == len(expected)
    months = reports["forecast"]["byMonth"]
    assert sum(m["count"] for m in months) == len(expected)
    if expected:
        assert stages[0]["amounts"] == [{"amount": f"{100 * len(expected)}.00"}]


@pytest.mark.parametrize("person", list(SEES))
async def test_out_of_scope_by_id_looks_missing(api, org, person):
    token = org["org"].tokens[person]
    visible = _visible(org, person)
    for ids in org["owned"].values():
        for opportunity_id in ids:
            data = await api.gql(
                "query($id: ID!) { opportunity(id: $id) { id stageHistory { id } } }",
                {"id": opportunity_id},
                token=token,
            )
            assert (data["opportunity"] is not None) == (opportunity_id in visible)


async def test_partners_may_not_read_opportunities(api, org):
    errors = await api.errors(LIST, token=org["org"].tokens["partner"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_out_of_scope_writes_look_missing(api, org):
    west = org["owned"]["rep_west"][0]
    token = org["org"].tokens["rep_east"]
    for query, name, variables in (
        (UPDATE, "updateOpportunity", {"id": west, "version": 1, "name": "x"}),
        (CLOSE, "closeOpportunity", {"id": west, "version": 1, "outcome": "WON"}),
    ):
        data = await api.gql(query, {"input": variables}, token=token)
        assert data[name]["userErrors"][0]["field"] == "id"
        assert data[name]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_manager_works_the_team_and_hands_out_within_it(api, org):
    the_org = org["org"]
    token = the_org.tokens["mgr_east"]
    shanghai = org["owned"]["rep_sh"][0]
    pipelines = await api.gql("{ pipelines { isDefault stages { id name } } }", token=token)
    stages = next(p for p in pipelines["pipelines"] if p["isDefault"])["stages"]
    moved = await api.gql(
        MOVE, {"input": {"id": shanghai, "version": 1, "stageId": stages[1]["id"]}}, token=token
    )
    assert moved["moveOpportunity"]["userErrors"] == []
    to_west = await api.gql(
        UPDATE,
        {"input": {"id": shanghai, "version": 2, "ownerId": str(the_org.ids["rep_west"])}},
        token=token,
    )
    assert to_west["updateOpportunity"]["userErrors"][0]["field"] == "ownerId"
    to_east = await api.gql(
        UPDATE,
        {"input": {"id": shanghai, "version": 2, "ownerId": str(the_org.ids["rep_east"])}},
        token=token,
    )
    assert to_east["updateOpportunity"]["opportunity"]["ownerId"] == str(the_org.ids["rep_east"])
    back = await api.gql(
        UPDATE,
        {"input": {"id": shanghai, "version": 3, "ownerId": str(the_org.ids["rep_sh"])}},
        token=token,
    )
    assert back["updateOpportunity"]["userErrors"] == []


async def test_a_rep_creates_for_a_visible_customer_and_owns_it(api, org):
    """(Last: it adds an opportunity the tests above do not expect.)"""
    token = org["org"].tokens["rep_west"]
    customer = await new_customer(api, token, "西部客户", ownerId=str(org["org"].ids["rep_west"]))
    created = await new_opportunity(api, token, customer, amount="1")
    assert created["ownerId"] == str(org["org"].ids["rep_west"])
    seen_by_east = await api.gql(
        "query($id: ID!) { opportunity(id: $id) { id } }", {"id": created["id"]},
        token=org["org"].tokens["rep_east"],
    )  # fmt: skip
    assert seen_by_east["opportunity"] is None


async def test_the_nested_customer_needs_customers_read(api, org, services):
    admin = org["org"].tokens["admin"]
    await api.gql(
        """mutation { createRole(input: {name: "pipeline-only", dataScope: ALL,
           permissions: ["opportunities:read"]}) { userErrors { field } } }""",
        token=admin,
    )
    user = await api.gql(
        'mutation { createUser(input: {email: "pipe@x.cn", role: "pipeline-only"}) { user { id } } }',
        token=admin,
    )
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=org["org"].tenant.id,
        user_id=uuid.UUID(user["createUser"]["user"]["id"]), roles=["pipeline-only"],
    )  # fmt: skip
    listed = await api.gql("{ opportunities(first: 1) { edges { node { id } } } }", token=token)
    assert len(listed["opportunities"]["edges"]) == 1
    errors = await api.errors(
        "{ opportunities(first: 1) { edges { node { customer { name } } } } }", token=token
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
