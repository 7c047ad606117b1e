"""Operations and helpers the pipeline tests share (importable as `pipeline_ops`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from helpers import TenantHandle, make_tenant

from app.auth.tokens import issue_access_token

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


FIELDS = """id customerId name amount currency expectedCloseDate ownerId pipelineId stageId
  status lostReason closedAt competitors version"""
CREATE = f"""mutation($input: CreateOpportunityInput!) {{
  createOpportunity(input: $input) {{
    opportunity {{ {FIELDS} stage {{ name kind }} }} userErrors {{ field code message }} }} }}"""
UPDATE = f"""mutation($input: UpdateOpportunityInput!) {{
  updateOpportunity(input: $input) {{
    opportunity {{ {FIELDS} }} userErrors {{ field code message }} }} }}"""
MOVE = f"""mutation($input: MoveOpportunityInput!) {{
  moveOpportunity(input: $input) {{
    opportunity {{ {FIELDS} stage {{ name }} }} userErrors {{ field code message }} }} }}"""
CLOSE = f"""mutation($input: CloseOpportunityInput!) {{
  closeOpportunity(input: $input) {{
    opportunity {{ {FIELDS} stage {{ name kind }} }} userErrors {{ field code message }} }} }}"""
REOPEN = f"""mutation($input: ReopenOpportunityInput!) {{
  reopenOpportunity(input: $input) {{
    opportunity {{ {FIELDS} stage {{ name }} }} userErrors {{ field code message }} }} }}"""
GET = f"""query($id: ID!) {{ opportunity(id: $id) {{ {FIELDS}
  stageHistory {{ fromStage {{ name }} toStage {{ name }} changedBy {{ email }} changedAt }} }} }}"""
PIPELINES = (
    "{ pipelines { id name isDefault version stages { id name position probability kind } } }"
)
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { field code } } }"""


async def new_customer(api, token: str, name: str | None = None, **fields) -> str:
    data = await api.gql(
        CREATE_CUSTOMER,
        {"input": {"name": name or f"客户{uuid.uuid4().hex[:6]}", **fields}},
        token=token,
    )
    assert data["createCustomer"]["userErrors"] == []
    return data["createCustomer"]["customer"]["id"]


async def new_opportunity(api, token: str, customer_id: str, **fields) -> dict:
    data = await api.gql(
        CREATE,
        {"input": {"customerId": customer_id, "name": fields.pop("name", "机会"), **fields}},
        token=token,
    )
    payload = data["createOpportunity"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["opportunity"]


async def default_pipeline(api, token: str) -> dict:
    pipelines = (await api.gql(PIPELINES, token=token))["pipelines"]
    return next(p for p in pipelines if p["isDefault"])


def stage(pipeline: dict, name: str) -> str:
    return next(s["id"] for s in pipeline["stages"] if s["name"] == name)


CREATE_TEAM = """mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id } userErrors { field code message } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } userErrors { field code message } } }"""


@dataclass
class Org:
    tenant: TenantHandle
    tokens: dict[str, str]
    ids: dict[str, uuid.UUID]
    teams: dict[str, str]


async def build_org(
    api, owner, services, prefix: str, teams: list[tuple[str, str | None]],
    people: dict[str, tuple[str, str | None]],
) -> Org:  # fmt: skip
    """A tenant with a department tree (`teams`: name and parent, parents first) and
    `people` (name: role and team), each with a real signed token; the tenant's own
    admin is "admin"."""
    tenant = await make_tenant(owner, services, prefix)
    admin = tenant.tokens["admin"]
    team_ids: dict[str, str] = {}
    for name, parent in teams:
        data = await api.gql(
            CREATE_TEAM, {"input": {"name": name, "parentId": team_ids.get(parent)}}, token=admin
        )
        team_ids[name] = data["createTeam"]["team"]["id"]
    ids = {"admin": tenant.user_ids["admin"]}
    tokens = {"admin": admin}
    for person, (role, team) in people.items():
        data = await api.gql(
            CREATE_USER,
            {"input": {"email": f"{person}@{tenant.slug}.cn", "role": role, "name": person,
                       "teamId": team_ids.get(team)}},
            token=admin,
        )  # fmt: skip
        assert data["createUser"]["userErrors"] == [], data
        ids[person] = uuid.UUID(data["createUser"]["user"]["id"])
        tokens[person] = await issue_access_token(
            keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
            user_id=ids[person], roles=[role],
        )  # fmt: skip
    return Org(tenant, tokens, ids, team_ids)
