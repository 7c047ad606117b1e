"""Operations and helpers the lead tests share (importable as `lead_helpers`)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from helpers import TenantHandle, make_tenant, operation
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.auth.tokens import issue_access_token
from app.customers.tables import contacts, customers
from app.db import tenant_transaction
from app.jobs.tables import jobs, uploads
from app.leads.tables import lead_assignment_rules, leads
from app.pipeline.tables import opportunities

FIELDS = """id name company title phone email region source status disqualifiedReason score
  ownerId notes convertedAt convertedCustomerId convertedContactId convertedOpportunityId
  version deletedAt"""
ERRORS = "userErrors { field code message }"
CREATE = f"""mutation($input: CreateLeadInput!) {{
  createLead(input: $input) {{ lead {{ {FIELDS} }} {ERRORS} }} }}"""
UPDATE = f"""mutation($input: UpdateLeadInput!) {{
  updateLead(input: $input) {{ lead {{ {FIELDS} }} {ERRORS} }} }}"""
QUALIFY = f"""mutation($input: QualifyLeadInput!) {{
  qualifyLead(input: $input) {{ lead {{ {FIELDS} }} {ERRORS} }} }}"""
DISQUALIFY = f"""mutation($input: DisqualifyLeadInput!) {{
  disqualifyLead(input: $input) {{ lead {{ {FIELDS} }} {ERRORS} }} }}"""
DELETE = f"""mutation($input: DeleteLeadInput!) {{
  deleteLead(input: $input) {{ lead {{ {FIELDS} }} {ERRORS} }} }}"""
RESTORE = f"""mutation($input: RestoreLeadInput!) {{
  restoreLead(input: $input) {{ lead {{ {FIELDS} }} {ERRORS} }} }}"""
ASSIGN = f"""mutation($ids: [ID!]!, $ownerId: ID) {{
  assignLeads(ids: $ids, ownerId: $ownerId) {{ leads {{ {FIELDS} }} {ERRORS} }} }}"""
GET = f"query($id: ID!) {{ lead(id: $id) {{ {FIELDS} }} }}"
LIST = """query($filter: LeadFilter, $orderBy: [LeadOrder!], $first: Int) {
  leads(first: $first, filter: $filter, orderBy: $orderBy) {
    totalCount edges { node { id name ownerId status } } } }"""


async def new_lead(api, token: str, **fields) -> dict:
    data = await api.gql(
        CREATE, {"input": {"name": fields.pop("name", "王先生"), **fields}}, token=token
    )
    payload = data["createLead"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["lead"]


async def table_counts(services, tenant) -> dict[str, int]:
    """Rows a write may have made: what 'nothing was written' is checked against."""
    tables = {
        "leads": leads, "customers": customers, "contacts": contacts,
        "opportunities": opportunities, "audit_log": audit_log, "jobs": jobs,
        "uploads": uploads, "rules": lead_assignment_rules,
    }  # fmt: skip
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return {
            name: await conn.scalar(select(func.count()).select_from(table))
            for name, table in tables.items()
        }


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
    users per role (admin, manager, sales, viewer) keep their names."""
    tenant = await make_tenant(owner, services, prefix)
    admin = tenant.tokens["admin"]
    team_ids: dict[str, str] = {}
    for name, parent in teams:
        data = await api.gql(
            CREATE_TEAM, {"input": {"name": name, "parentId": team_ids.get(parent)}}, token=admin
        )
        team_ids[name] = data["createTeam"]["team"]["id"]
    ids = dict(tenant.user_ids)
    tokens = dict(tenant.tokens)
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


class LeadImporter:
    """GraphQL multipart uploads of lead files, and polling the job with the worker."""

    def __init__(self, api, run_worker) -> None:
        self.api = api
        self.run_worker = run_worker

    async def upload(self, token: str, content: bytes, filename: str = "leads.csv") -> dict:
        response = await self.api.client.post(
            "/graphql",
            data={
                "operations": json.dumps(
                    {"query": operation("importLeads"), "variables": {"file": None}}
                ),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": (filename, content, "text/csv")},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def start(self, token: str, content: bytes) -> str:
        body = await self.upload(token, content)
        assert not body.get("errors"), body["errors"]
        payload = body["data"]["importLeads"]
        assert payload["userErrors"] == []
        assert payload["job"]["status"] == "QUEUED"
        assert payload["job"]["kind"] == "leads.import"
        return payload["job"]["id"]

    async def job(self, token: str, job_id: str) -> dict | None:
        return (await self.api.gql(operation("job"), {"id": job_id}, token=token))["job"]

    async def finished(self, token: str, job_id: str) -> dict:
        for _ in range(10):
            job = await self.job(token, job_id)
            if job["status"] in ("SUCCEEDED", "FAILED"):
                return job
            await self.run_worker(poll_delay=0.05)
        raise AssertionError(f"job {job_id} did not finish: {job}")

    async def run(self, token: str, content: bytes) -> dict:
        return await self.finished(token, await self.start(token, content))
