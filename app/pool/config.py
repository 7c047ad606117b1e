"""The tenant's pool settings: one row, read by claims and the reclaim job, changed
by holders of pool:manage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.errors import UserError, UserErrors, fail
from app.pool.tables import pool_settings

# What a tenant gets (the migration inserts this row); used too if the row is missing.
DEFAULT_CLAIM_LIMIT = 200
DEFAULT_RECLAIM_AFTER_DAYS: int | None = None
MAX_CLAIM_LIMIT = 100_000
MAX_RECLAIM_AFTER_DAYS = 3650


@dataclass(frozen=True)
class PoolSettings:
    claim_limit: int | None
    reclaim_after_days: int | None
    version: int
    updated_at: Any  # datetime, or None while the row was never written


DEFAULTS = PoolSettings(DEFAULT_CLAIM_LIMIT, DEFAULT_RECLAIM_AFTER_DAYS, 0, None)


def _from_row(row: Row | None) -> PoolSettings:
    if row is None:
        return DEFAULTS
    return PoolSettings(row.claim_limit, row.reclaim_after_days, row.version, row.updated_at)


async def get_settings(conn: AsyncConnection) -> PoolSettings:
    return _from_row((await conn.execute(select(pool_settings))).first())


def _validated(fields: dict[str, Any]) -> dict[str, Any]:
    errors: list[UserError] = []
    limit = fields.get("claim_limit")
    if limit is not None and not 0 <= limit <= MAX_CLAIM_LIMIT:
        errors.append(
            UserError(
                "claimLimit", "INVALID", f"claimLimit must be 0 to {MAX_CLAIM_LIMIT}, or null"
            )
        )
    days = fields.get("reclaim_after_days")
    if days is not None and not 1 <= days <= MAX_RECLAIM_AFTER_DAYS:
        errors.append(
            UserError(
                "reclaimAfterDays",
                "INVALID",
                f"reclaimAfterDays must be 1 to {MAX_RECLAIM_AFTER_DAYS}, or null",
            )
        )
    if errors:
        raise UserErrors(errors)
    return fields


async def update_settings(
    conn: AsyncConnection, *, actor: Actor, version: int | None, fields: dict[str, Any]
) -> PoolSettings:
    """Change the given fields (a stale `version` is a CONFLICT); audited."""
    values = _validated(fields)
    # The row exists after the migration; recreate it if someone removed it.
    await conn.execute(
        insert(pool_settings)
        .values(
            id=True,
            claim_limit=DEFAULT_CLAIM_LIMIT,
            reclaim_after_days=DEFAULT_RECLAIM_AFTER_DAYS,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    current = (await conn.execute(select(pool_settings).with_for_update())).one()
    if version is not None and version != current.version:
        raise fail(
            "version",
            "CONFLICT",
            f"the pool settings were changed by someone else (now at version "
            f"{current.version}); reload them and try again",
        )
    changes = diff({k: getattr(current, k) for k in values}, values)
    if not changes:
        return _from_row(current)
    row = (
        await conn.execute(
            update(pool_settings)
            .where(pool_settings.c.id.is_(True))
            .values(**values, version=pool_settings.c.version + 1, updated_at=func.now())
            .returning(pool_settings)
        )
    ).one()
    await record(
        conn, actor=actor, action="pool_settings.update", entity_type="pool_settings",
        entity_id=None, changes=changes,
    )  # fmt: skip
    return _from_row(row)
