"""What the target tests share (importable as `target_helpers`): the published example
operations, a tenant with a department tree and people with tokens, and won deals
written directly with known close instants."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from helpers import TenantHandle, make_tenant, operation
from sqlalchemy import func, insert, select

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.customers import service as customers_service
from app.db import tenant_transaction
from app.pipeline.tables import opportunities, pipeline_stages, pipelines
from app.targets.tables import sales_targets

TARGETS = operation("salesTargets")
SET_TARGETS = operation("setSalesTargets")
ATTAINMENT = operation("targetAttainment")
RANKING = operation("salesRanking")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))

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


async def build_org(api, owner, services, prefix: str, teams: list[tuple[str, str | None]],
                    people: dict[str, tuple[str, str | None]]) -> Org:  # fmt: skip
    """A tenant with a department tree (`teams`: name and parent, parents first) and
    `people` (name: role and team), each with a real signed token; plus the tenant's
    own admin as "admin"."""
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


async def add_deals(services, tenant, deals: list[dict[str, Any]]) -> None:
    """Opportunities of one customer written directly: each {owner, amount, currency,
    status, closed_at, deleted}."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        customer = await customers_service.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
            fields={"name": f"目标客户{uuid.uuid4().hex[:6]}"},
        )  # fmt: skip
        rows = await conn.execute(
            select(pipeline_stages.c.kind, pipeline_stages.c.id, pipeline_stages.c.pipeline_id)
            .join(pipelines, pipelines.c.id == pipeline_stages.c.pipeline_id)
            .where(pipelines.c.is_default, pipeline_stages.c.deleted_at.is_(None))
            .order_by(pipeline_stages.c.position.desc())
        )
        stages = {r.kind: (r.pipeline_id, r.id) for r in rows}
        values = []
        for deal in deals:
            status = deal.get("status", "won")
            pipeline_id, stage_id = stages[status]
            values.append({
                "id": uuid.uuid4(), "customer_id": customer.id, "name": "单",
                "amount": Decimal(deal["amount"]), "currency": deal.get("currency", "CNY"),
                "owner_id": deal["owner"], "pipeline_id": pipeline_id, "stage_id": stage_id,
                "status": status, "lost_reason": "价格" if status == "lost" else None,
                "closed_at": None if status == "open" else deal["closed_at"],
                "deleted_at": deal["closed_at"] if deal.get("deleted") else None,
            })  # fmt: skip
        await conn.execute(insert(opportunities), values)


async def set_targets(api, token: str, targets: list[dict]) -> dict:
    data = await api.gql(SET_TARGETS, {"input": {"targets": targets}}, token=token)
    return data["setSalesTargets"]


async def target_count(services, tenant) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(sales_targets))
