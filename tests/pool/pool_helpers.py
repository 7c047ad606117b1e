"""What the pool tests share: the operations (the published examples where there are
some), customers made directly, people with tokens, and reading what was written."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from app.audit.service import SYSTEM
from app.audit.tables import audit_log
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.customers import service as customers_service
from app.customers.tables import customers
from app.db import tenant_transaction
from app.pool.tables import customer_ownership_changes, pool_settings

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
CLAIM = (OPERATIONS / "claimCustomers.graphql").read_text()
RELEASE = (OPERATIONS / "releaseCustomers.graphql").read_text()
TRANSFER = (OPERATIONS / "transferCustomers.graphql").read_text()
HISTORY = (OPERATIONS / "customerOwnershipHistory.graphql").read_text()
SETTINGS = (OPERATIONS / "poolSettings.graphql").read_text()
UPDATE_SETTINGS = (OPERATIONS / "updatePoolSettings.graphql").read_text()

CREATE_TEAM = """mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id } userErrors { field code message } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } userErrors { field code message } } }"""


@dataclass(frozen=True)
class Who:
    """Whoever a service call acts for (app.auth.principal.Scoped)."""

    user_id: uuid.UUID
    data_scope: str = "own"
    team_path: str | None = None


async def make_customers(
    services, tenant, count: int, *, owner: uuid.UUID | None = None, prefix: str = "Pool"
) -> list[str]:
    """Customers made as the system would (owner None: in the pool)."""
    made = []
    marker = uuid.uuid4().hex[:6]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i in range(count):
            row = await customers_service.create_customer(
                conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
                fields={"name": f"{prefix} {marker} {i}", "owner_id": owner},
            )  # fmt: skip
            made.append(str(row.id))
    return made


async def owners(services, tenant, ids: list[str]) -> dict[str, str | None]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(
            select(customers.c.id, customers.c.owner_id).where(
                customers.c.id.in_([uuid.UUID(i) for i in ids])
            )
        )
        return {str(r.id): (str(r.owner_id) if r.owner_id else None) for r in rows}


async def versions(services, tenant, ids: list[str]) -> dict[str, int]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(
            select(customers.c.id, customers.c.version).where(
                customers.c.id.in_([uuid.UUID(i) for i in ids])
            )
        )
        return {str(r.id): r.version for r in rows}


async def owned_count(services, tenant, user_id: uuid.UUID) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(
            select(func.count())
            .select_from(customers)
            .where(customers.c.owner_id == user_id, customers.c.deleted_at.is_(None))
        )


async def history_rows(services, tenant, ids: list[str]) -> list[Any]:
    """Ownership changes of these customers, oldest first."""
    h = customer_ownership_changes.c
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return list(
            (
                await conn.execute(
                    select(customer_ownership_changes)
                    .where(h.customer_id.in_([uuid.UUID(i) for i in ids]))
                    .order_by(h.changed_at, h.id)
                )
            ).all()
        )


async def audit_rows(services, tenant, ids: list[str], action: str | None = None) -> list[Any]:
    a = audit_log.c
    query = select(audit_log).where(a.entity_id.in_([uuid.UUID(i) for i in ids]))
    if action is not None:
        query = query.where(a.action == action)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return list((await conn.execute(query.order_by(a.id))).all())


async def footprint(services, tenant, ids: list[str]) -> tuple:
    """Everything a pool mutation may write about these customers."""
    return (
        await owners(services, tenant, ids),
        await versions(services, tenant, ids),
        len(await history_rows(services, tenant, ids)),
        len(await audit_rows(services, tenant, ids)),
    )


async def set_settings(
    services, tenant, *, claim_limit: Any = ..., reclaim_after_days: Any = ...
) -> None:
    values = {}
    if claim_limit is not ...:
        values["claim_limit"] = claim_limit
    if reclaim_after_days is not ...:
        values["reclaim_after_days"] = reclaim_after_days
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(update(pool_settings).values(**values))


async def add_person(api, services, tenant, *, role: str, team_id: str | None = None,
                     label: str = "p") -> tuple[uuid.UUID, str]:  # fmt: skip
    """A new user of the tenant (through the API, as its admin) and their token."""
    data = await api.gql(
        CREATE_USER,
        {"input": {"email": f"{label}-{uuid.uuid4().hex[:6]}@{tenant.slug}.cn", "role": role,
                   "teamId": team_id}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    assert data["createUser"]["userErrors"] == [], data
    user_id = uuid.UUID(data["createUser"]["user"]["id"])
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=user_id, roles=[role],
    )  # fmt: skip
    return user_id, token


async def add_team(api, tenant, name: str) -> str:
    data = await api.gql(
        CREATE_TEAM, {"input": {"name": f"{name}-{uuid.uuid4().hex[:4]}"}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    return data["createTeam"]["team"]["id"]


def days_ago(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


async def claim(api, token: str, ids: list[str]) -> dict:
    return (await api.gql(CLAIM, {"ids": ids}, token=token))["claimCustomers"]


async def release(api, token: str, ids: list[str], reason: str | None = None) -> dict:
    variables = {"input": {"ids": ids, "reason": reason}}
    return (await api.gql(RELEASE, variables, token=token))["releaseCustomers"]


async def transfer(api, token: str, ids: list[str], to: Any, reason: str | None = None) -> dict:
    variables = {"input": {"ids": ids, "toUserId": str(to), "reason": reason}}
    return (await api.gql(TRANSFER, variables, token=token))["transferCustomers"]


def results(payload: dict) -> dict[str, tuple[bool, str | None]]:
    return {r["customerId"]: (r["claimed"], r["reason"]) for r in payload["results"]}
