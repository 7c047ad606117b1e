"""What the tier tests share (importable as `tier_helpers`): the published example
operations, customers and opportunities written directly (with known close times),
and reading back what an evaluation wrote."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from app.audit.service import SYSTEM
from app.audit.tables import audit_log
from app.auth.scope import EVERYTHING
from app.customers import service as customers_service
from app.customers.tables import customers
from app.db import tenant_transaction
from app.pipeline.tables import opportunities, pipeline_stages, pipelines
from app.tiers.tables import customer_tier_changes

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


RULES = operation("tierRules")
SET_RULES = operation("setTierRules")
EVALUATE = operation("evaluateTiers")
HISTORY = operation("customerTierChanges")


async def set_rules(api, token: str, rules: list[dict]) -> dict:
    return (await api.gql(SET_RULES, {"input": {"rules": rules}}, token=token))["setTierRules"]


async def evaluate(api, token: str) -> dict:
    payload = (await api.gql(EVALUATE, token=token))["evaluateTiers"]
    assert payload["userErrors"] == []
    return payload


async def add_customer(services, tenant, name: str, *, category: str = "prospect",
                       tier: str | None = None, owner: uuid.UUID | None = None) -> uuid.UUID:  # fmt: skip
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = await customers_service.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
            fields={"name": name, "category": category, "tier": tier, "owner_id": owner},
        )  # fmt: skip
    return row.id


async def _stages(conn) -> dict[str, tuple[uuid.UUID, uuid.UUID]]:
    """The default pipeline's stage (pipeline id, stage id) per kind (first open one)."""
    rows = await conn.execute(
        select(pipeline_stages.c.kind, pipeline_stages.c.id, pipeline_stages.c.pipeline_id)
        .join(pipelines, pipelines.c.id == pipeline_stages.c.pipeline_id)
        .where(pipelines.c.is_default, pipeline_stages.c.deleted_at.is_(None))
        .order_by(pipeline_stages.c.position.desc())
    )
    return {r.kind: (r.pipeline_id, r.id) for r in rows}


def days_ago(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


async def add_deals(services, tenant, deals: list[dict[str, Any]]) -> None:
    """Opportunities written directly: each {customer, owner, amount, currency,
    status, days_ago (closing), deleted}."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        stages = await _stages(conn)
        rows = []
        for deal in deals:
            status = deal.get("status", "won")
            pipeline_id, stage_id = stages[status]
            rows.append({
                "id": uuid.uuid4(), "customer_id": deal["customer"], "name": "机会",
                "amount": Decimal(deal["amount"]), "currency": deal.get("currency", "CNY"),
                "owner_id": deal["owner"], "pipeline_id": pipeline_id, "stage_id": stage_id,
                "status": status,
                "lost_reason": "价格" if status == "lost" else None,
                "closed_at": None if status == "open" else days_ago(deal.get("days_ago", 1)),
                "deleted_at": days_ago(0) if deal.get("deleted") else None,
            })  # fmt: skip
        if rows:
            await conn.execute(insert(opportunities), rows)


async def tiers(services, tenant, ids) -> dict[uuid.UUID, str | None]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(
            select(customers.c.id, customers.c.tier).where(customers.c.id.in_(list(ids)))
        )
        return {r.id: r.tier for r in rows}


async def versions(services, tenant, ids) -> dict[uuid.UUID, int]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(
            select(customers.c.id, customers.c.version).where(customers.c.id.in_(list(ids)))
        )
        return {r.id: r.version for r in rows}


async def history(services, tenant, ids=None) -> list[Any]:
    h = customer_tier_changes.c
    query = select(customer_tier_changes).order_by(h.evaluated_at, h.id)
    if ids is not None:
        query = query.where(h.customer_id.in_(list(ids)))
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return list((await conn.execute(query)).all())


async def audits(services, tenant, action: str) -> list[Any]:
    a = audit_log.c
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return list(
            (await conn.execute(select(audit_log).where(a.action == action).order_by(a.id))).all()
        )


async def delete_customer(services, tenant, customer_id: uuid.UUID) -> None:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(
            update(customers).where(customers.c.id == customer_id).values(deleted_at=days_ago(0))
        )
