"""The stalled-job sweep reads every tenant's jobs in one statement per 100 tenants; a
tenant whose jobs cannot be read (a broken or half-migrated schema) is skipped and
logged, and the other tenants' stalled jobs are still dealt with."""

from __future__ import annotations

import logging
import uuid

from helpers import make_tenant
from sqlalchemy import func, insert, select, text

from app.db import tenant_transaction
from app.jobs import service as jobs_service
from app.jobs.tables import jobs
from tenants.migrations import quote_ident
from workers.tasks import sweep_stalled_jobs


async def _stalled_job(services, tenant) -> uuid.UUID:
    """A job whose worker died on its last allowed attempt: the sweep fails it (so it
    leaves nothing queued behind for later tests)."""
    job_id = uuid.uuid4()
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(
            insert(jobs).values(
                id=job_id, kind="import_customers", status="running",
                attempts=jobs_service.MAX_ATTEMPTS - 1,
                heartbeat_at=func.now() - text("interval '1 hour'"),
            )
        )  # fmt: skip
    return job_id


async def _status(services, tenant, job_id: uuid.UUID) -> tuple[str, str | None]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = (
            await conn.execute(select(jobs.c.status, jobs.c.message).where(jobs.c.id == job_id))
        ).one()
    return tuple(row)


async def test_an_unreadable_tenant_holds_back_no_other(owner, services, caplog):
    broken = await make_tenant(owner, services, "sweep-broken")
    healthy = await make_tenant(owner, services, "sweep-ok")
    broken_job = await _stalled_job(services, broken)
    job_id = await _stalled_job(services, healthy)
    table = f"{quote_ident(broken.schema)}.jobs"
    async with owner.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {table} RENAME TO jobs_away"))
    try:
        with caplog.at_level(logging.ERROR, logger="kehu.worker"):
            assert await sweep_stalled_jobs({"services": services}) >= 1
    finally:
        async with owner.begin() as conn:
            await conn.execute(
                text(f"ALTER TABLE {quote_ident(broken.schema)}.jobs_away RENAME TO jobs")
            )
    assert await _status(services, healthy, job_id) == (
        "failed", "the worker stopped responding; gave up",
    )  # fmt: skip
    errors = [r.getMessage() for r in caplog.records if r.name == "kehu.worker"]
    assert errors == [f"could not read the jobs of tenant {broken.id}"]
    # Repaired, the next sweep deals with it too.
    assert await sweep_stalled_jobs({"services": services}) >= 1
    assert (await _status(services, broken, broken_job))[0] == "failed"
