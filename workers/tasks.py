"""What the worker runs: job chunks, mail, the outbox relay, the stalled-job sweeper,
and the scheduled rules' fan-out ticks."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from typing import Any

from arq import Retry
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.accounts import history, invitations, mail, reset
from app.audit.service import Actor
from app.auth.principal import load_tenant
from app.db import tenant_transaction
from app.jobs import service as jobs
from app.outbox import service as outbox
from tenants import catalog
from tenants.migrations import quote_ident
from workers import scheduled

logger = logging.getLogger("kehu.worker")

JOB_TIMEOUT_SECONDS = 60
# A job whose heartbeat is older than this lost its worker (or Redis lost its message).
STALL_SECONDS = 3 * JOB_TIMEOUT_SECONDS
SWEEP_BATCH = 100
# A mail the server keeps refusing is dropped after this many tries (2.5 minutes of
# backoff: 10, 20, 40, 80 seconds).
MAIL_MAX_TRIES = 5


async def run_job(ctx: dict[str, Any], *, tenant_id: str, job_id: str) -> str:
    """Run the next chunk of a job. Safe to deliver more than once."""
    services = ctx["services"]
    tenant = await load_tenant(services.engine, uuid.UUID(tenant_id))
    if tenant is None or tenant.status != "active":
        return "tenant unavailable"
    job_uuid = uuid.UUID(job_id)
    try:
        async with tenant_transaction(services.engine, tenant.schema_name) as conn:
            job = await jobs.claim(conn, job_uuid)
            if job is None:
                return "nothing to do"
            handler = jobs.HANDLERS.get(job.kind)
            if handler is None:
                raise jobs.JobFailed(f"unknown job kind {job.kind!r}")
            outcome = await handler(conn, job, Actor("job", job.created_by))
            await jobs.save_chunk(conn, tenant_id=tenant.id, job=job, outcome=outcome)
    except jobs.JobFailed as failure:
        async with tenant_transaction(services.engine, tenant.schema_name) as conn:
            await jobs.fail_job(conn, job_uuid, str(failure))
        return "failed"
    except Exception as error:
        logger.exception("job %s of tenant %s failed unexpectedly", job_id, tenant.slug)
        async with tenant_transaction(services.engine, tenant.schema_name) as conn:
            attempts = await jobs.note_attempt(conn, job_uuid)
            if attempts >= jobs.MAX_ATTEMPTS:
                await jobs.fail_job(
                    conn, job_uuid, f"gave up after {attempts} attempts ({type(error).__name__})"
                )
                return "failed"
        raise Retry(defer=min(60, 2**attempts)) from error
    await outbox.relay(services.engine, services.queue)
    return "chunk done"


async def send_password_reset_mail(ctx: dict[str, Any], *, tenant_id: str, account_id: str) -> str:
    """Mail a password-reset link (`tenant_id` is the outbox's placeholder: an
    account's mail belongs to no tenant). Each try makes a new link, invalidating the
    one a failed try made."""
    return await _mail(ctx, "a password reset", account_id,
                       reset.mail_reset_link(ctx["services"], uuid.UUID(account_id)),
                       unsent="no such account")  # fmt: skip


async def send_invitation_mail(ctx: dict[str, Any], *, tenant_id: str, account_id: str) -> str:
    """Mail an invitation to join `tenant_id` (the outbox row's: the inviting tenant).
    Safe to run twice: a second mail says the same."""
    return await _mail(ctx, "an invitation", account_id, invitations.mail_invitation(
        ctx["services"], uuid.UUID(account_id), uuid.UUID(tenant_id)),
        unsent="no longer pending")  # fmt: skip


async def _mail(
    ctx: dict[str, Any], what: str, account_id: str, sending: Awaitable[bool], *, unsent: str
) -> str:
    """Await `sending`: "sent", or `unsent` when there was nothing to send. While the
    mail server fails, retry with backoff (10, 20, 40, 80 s), then "gave up"."""
    try:
        return "sent" if await sending else unsent
    except mail.DELIVERY_ERRORS as error:
        tries = ctx["job_try"]
        if tries >= MAIL_MAX_TRIES:
            logger.error("gave up mailing %s to account %s", what, account_id, exc_info=True)
            return "gave up"
        logger.warning("mailing %s failed (try %s); retrying", what, tries, exc_info=True)
        raise Retry(defer=10 * 2 ** (tries - 1)) from error


async def relay_outbox(ctx: dict[str, Any]) -> int:
    services = ctx["services"]
    return await outbox.relay(services.engine, services.queue)


async def prune_outbox(ctx: dict[str, Any]) -> int:
    """Dispatched outbox rows are kept a week for inspection, then deleted."""
    return await outbox.prune(ctx["services"].engine)


async def prune_account_events(ctx: dict[str, Any]) -> int:
    """Accounts' security events are kept KEHU_ACCOUNT_EVENTS_RETENTION_DAYS (a year),
    then deleted."""
    services = ctx["services"]
    return await history.prune(
        services.engine, keep_days=services.settings.account_events_retention_days
    )


# The scheduled rules' cron ticks: each fans out one job per active tenant
# (workers/scheduled.py). `slot` names another slot than the tick's, to run a rule
# again within its period (tests, operators); a slot runs once per tenant.


async def send_reminders(ctx: dict[str, Any], *, slot: str | None = None) -> int:
    """Due-task and upcoming-appointment reminders into users' inboxes (each minute)."""
    return await scheduled.fan_out(ctx, "reminders", slot)


async def reclaim_idle_customers(ctx: dict[str, Any], *, slot: str | None = None) -> int:
    """Customers without follow-up for their tenant's reclaim period go back to the
    public pool (hourly)."""
    return await scheduled.fan_out(ctx, "reclaim", slot)


async def evaluate_tiers(ctx: dict[str, Any], *, slot: str | None = None) -> int:
    """Each tenant's tier rules over its customers (daily)."""
    return await scheduled.fan_out(ctx, "tiers", slot)


async def check_low_stock(ctx: dict[str, Any], *, slot: str | None = None) -> int:
    """Low-stock alerts (库存预警), every 10 minutes."""
    return await scheduled.fan_out(ctx, "low_stock", slot)


async def sweep_stalled_jobs(ctx: dict[str, Any]) -> int:
    """Re-enqueue unfinished jobs whose heartbeat stopped (dead worker, lost message),
    failing those that already used their attempts. One statement per 100 tenants; a
    tenant whose schema cannot be read (mid-migration, broken) is logged and skipped,
    and holds back no other."""
    services = ctx["services"]
    async with services.engine.connect() as conn:
        tenants = (
            await conn.execute(
                select(catalog.tenants.c.id, catalog.tenants.c.schema_name).where(
                    catalog.tenants.c.status == "active"
                )
            )
        ).all()
    stalled = 0
    for start in range(0, len(tenants), SWEEP_BATCH):
        batch = tenants[start : start + SWEEP_BATCH]
        for tenant_id, schema, job_id in await _stalled_in(services.engine, batch):
            try:
                await _revive(services, tenant_id, schema, job_id)
            except Exception:
                logger.exception("could not revive job %s of tenant %s", job_id, tenant_id)
                continue
            stalled += 1
    if stalled:
        await outbox.relay(services.engine, services.queue)
    return stalled


async def _stalled_in(engine: Any, batch: list) -> list[tuple[uuid.UUID, str, uuid.UUID]]:
    """(tenant id, schema, job id) of the stalled jobs of these tenants: one statement,
    or, if it fails, one per tenant so that only the unreadable tenant is skipped."""

    def select_stalled(i: int, schema: str) -> str:
        return (
            f"SELECT {i} AS tenant_no, id FROM {quote_ident(schema)}.jobs "
            "WHERE status IN ('queued', 'running') "
            f"AND heartbeat_at < now() - interval '{STALL_SECONDS} seconds'"
        )

    try:
        async with engine.connect() as conn:
            union = " UNION ALL ".join(select_stalled(i, s) for i, (_, s) in enumerate(batch))
            rows = (await conn.execute(text(union))).all()
    except DBAPIError:
        rows = []
        for i, (tenant_id, schema) in enumerate(batch):
            try:
                async with engine.connect() as conn:
                    rows += (await conn.execute(text(select_stalled(i, schema)))).all()
            except DBAPIError:
                logger.exception("could not read the jobs of tenant %s", tenant_id)
    return [(*batch[row.tenant_no], row.id) for row in rows]


async def _revive(services: Any, tenant_id: uuid.UUID, schema: str, job_id: uuid.UUID) -> None:
    async with tenant_transaction(services.engine, schema) as conn:
        job = await jobs.claim(conn, job_id)
        if job is None:
            return
        attempts = await jobs.note_attempt(conn, job_id)
        if attempts >= jobs.MAX_ATTEMPTS:
            await jobs.fail_job(conn, job_id, "the worker stopped responding; gave up")
        else:
            await outbox.add(
                conn, tenant_id=tenant_id, task=jobs.RUN_JOB, payload={"job_id": str(job_id)}
            )
