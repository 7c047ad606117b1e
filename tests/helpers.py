"""Helpers the tests share (importable as `helpers`: pytest puts tests/ on the path)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.context import Services
from app.audit.service import SYSTEM
from app.auth.tokens import issue_access_token
from app.db import tenant_transaction
from app.users import service as users
from tenants import provisioning

OPERATIONS = Path(__file__).resolve().parents[1] / "graphql" / "operations"


def operation(name: str) -> str:
    """The text of graphql/operations/<name>.graphql, the file clients copy."""
    return (OPERATIONS / f"{name}.graphql").read_text()


@dataclass
class TenantHandle:
    id: uuid.UUID
    slug: str
    schema: str
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, uuid.UUID] = field(default_factory=dict)


ROLES_IN_TESTS = ("admin", "manager", "sales", "viewer")


async def make_tenant(owner: AsyncEngine, services: Services, prefix: str) -> TenantHandle:
    """A new tenant (provisioned by the owner role, as `kehu tenant create` does) with
    one user per role, each with a real signed token."""
    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    tenant_id = await provisioning.create_tenant(
        owner, slug=slug, name=slug.title(), app_role=services.settings.app_role
    )
    row = await provisioning.get_tenant_by_slug(owner, slug)
    handle = TenantHandle(id=tenant_id, slug=slug, schema=row.schema_name)
    async with tenant_transaction(services.engine, row.schema_name) as conn:
        for role in ROLES_IN_TESTS:
            user = await users.create_user(
                conn,
                actor=SYSTEM,
                tenant_id=tenant_id,
                email=f"{role}@{slug}.example.com",
                role=role,
                name=role,
            )
            handle.user_ids[role] = user.id
    for role, user_id in handle.user_ids.items():
        handle.tokens[role] = await issue_access_token(
            keyring=services.keyring, settings=services.settings, tenant_id=tenant_id,
            user_id=user_id, roles=[role],
        )  # fmt: skip
    return handle
