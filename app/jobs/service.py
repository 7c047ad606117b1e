"""Jobs: long work recorded in the tenant's `jobs` table (the source of truth) and run
in chunks by the worker. Each chunk is one transaction that also advances the job's
cursor (`state`), so a retried chunk neither repeats nor loses work."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.jobs.tables import jobs, uploads
from app.outbox import service as outbox

RUN_JOB = "run_job"
MAX_ERRORS_KEPT = 1000
MAX_ATTEMPTS = 5


@dataclass
class ChunkOutcome:
    """What one chunk did: the new cursor, counts, per-item errors, and whether done."""

    state: dict[str, Any]
    processed: int
    total: int | None = None
    done: bool = False
    result: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


class JobFailed(Exception):
    """The job cannot succeed (e.g. a malformed file): fail it with this message."""


ChunkHandler = Callable[[AsyncConnection, Row, Actor], Awaitable[ChunkOutcome]]
HANDLERS: dict[str, ChunkHandler] = {}


def handler(kind: str) -> Callable[[ChunkHandler], ChunkHandler]:
    def register(fn: ChunkHandler) -> ChunkHandler:
        HANDLERS[kind] = fn
        return fn

    return register


async def store_upload(
    conn: AsyncConnection, *, actor: Actor, filename: str, content_type: str | None, content: bytes
) -> uuid.UUID:
    upload_id = uuid.uuid4()
    await conn.execute(
        insert(uploads).values(
            id=upload_id,
            filename=filename,
            content_type=content_type,
            size=len(content),
            content=content,
            created_by=actor.id,
        )
    )
    return upload_id


async def create_job(
    conn: AsyncConnection,
    *,
    actor: Actor,
    tenant_id: uuid.UUID,
    kind: str,
    upload_id: uuid.UUID | None = None,
) -> Row:
    """A queued job, and its first chunk in the outbox: both or neither commit."""
    row = (
        await conn.execute(
            insert(jobs)
            .values(
                id=uuid.uuid4(),
                kind=kind,
                status="queued",
                upload_id=upload_id,
                created_by=actor.id,
                heartbeat_at=func.now(),
            )
            .returning(jobs)
        )
    ).one()
    await outbox.add(conn, tenant_id=tenant_id, task=RUN_JOB, payload={"job_id": str(row.id)})
    await record(conn, actor=actor, action="job.create", entity_type="job", entity_id=row.id,
                 changes={"kind": {"from": None, "to": kind}})  # fmt: skip
    return row


async def claim(conn: AsyncConnection, job_id: uuid.UUID) -> Row | None:
    """The unfinished job, locked for this chunk; None if finished, missing, or
    another worker is on it right now."""
    return (
        await conn.execute(
            select(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running")))
            .with_for_update(skip_locked=True)
        )
    ).first()


async def save_chunk(
    conn: AsyncConnection, *, tenant_id: uuid.UUID, job: Row, outcome: ChunkOutcome
) -> None:
    errors = (list(job.errors) + outcome.errors)[:MAX_ERRORS_KEPT]
    await conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            status="succeeded" if outcome.done else "running",
            state=outcome.state,
            processed=outcome.processed,
            total=outcome.total if outcome.total is not None else job.total,
            errors=errors,
            result=outcome.result,
            started_at=func.coalesce(jobs.c.started_at, func.now()),
            heartbeat_at=func.now(),
            finished_at=func.now() if outcome.done else None,
            attempts=0,
        )
    )
    if not outcome.done:
        await outbox.add(conn, tenant_id=tenant_id, task=RUN_JOB, payload={"job_id": str(job.id)})


async def fail_job(conn: AsyncConnection, job_id: uuid.UUID, message: str) -> None:
    await conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running")))
        .values(status="failed", message=message, finished_at=func.now(), heartbeat_at=func.now())
    )


async def note_attempt(conn: AsyncConnection, job_id: uuid.UUID) -> int:
    """Count a chunk attempt that died with an unexpected error; returns the count."""
    return (
        await conn.scalar(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(attempts=jobs.c.attempts + 1, heartbeat_at=func.now())
            .returning(jobs.c.attempts)
        )
        or 0
    )


async def read_upload(conn: AsyncConnection, upload_id: uuid.UUID) -> Row:
    return (await conn.execute(select(uploads).where(uploads.c.id == upload_id))).one()
