"""Jobs over GraphQL: clients poll `job(id)` or list `jobs`."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry
from sqlalchemy import ColumnElement, Row, select
from strawberry.scalars import JSON

from app.api.context import Info
from app.api.filters import EnumFilter, all_of, enum_condition
from app.api.ids import parse_uuid
from app.api.pagination import Connection, SortKey, connection_from, paginate
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.auth.scope import people_visible
from app.jobs.tables import jobs


@strawberry.enum
class JobStatus(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.type
class JobError:
    row: int | None = strawberry.field(description="1-based data row of the file, if any.")
    field: str | None
    message: str


@strawberry.type
class Job:
    id: strawberry.ID
    kind: str
    status: JobStatus
    processed: int
    total: int | None
    progress: float | None = strawberry.field(description="processed / total, 0 to 1.")
    result: JSON | None
    errors: list[JobError]
    message: str | None = strawberry.field(description="Why the job failed, if it did.")
    created_by: strawberry.ID | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Job:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            status=JobStatus(row.status),
            processed=row.processed,
            total=row.total,
            progress=(
                1.0
                if row.status == "succeeded"
                else (row.processed / row.total if row.total else None)
            ),
            result=row.result,
            errors=[
                JobError(row=e.get("row"), field=e.get("field"), message=e.get("message", ""))
                for e in row.errors
            ],
            message=row.message,
            created_by=strawberry.ID(str(row.created_by)) if row.created_by else None,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


JOB_COLUMNS = [c for c in jobs.c if c.key != "state"]


def visible_jobs(who: Scoped) -> ColumnElement[bool]:
    """A job is visible to whoever may see its starter's records."""
    return people_visible(who, jobs.c.created_by)


@strawberry.input
class JobFilter:
    kind: str | None = None
    status: EnumFilter[JobStatus] | None = None


@strawberry.type
class JobQueries:
    @strawberry.field(extensions=requires("jobs:read"))
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        job_id = parse_uuid(id)
        if job_id is None:
            return None
        async with info.context.db.read() as conn:
            row = (
                await conn.execute(
                    select(*JOB_COLUMNS).where(
                        jobs.c.id == job_id, visible_jobs(info.context.principal)
                    )
                )
            ).first()
        return Job.from_row(row) if row else None

    @strawberry.field(extensions=requires("jobs:read"), description="Newest first.")
    async def jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: JobFilter | None = None,
    ) -> Connection[Job]:
        f = filter or JobFilter()
        query = select(*JOB_COLUMNS).where(
            all_of(
                [
                    visible_jobs(info.context.principal),
                    jobs.c.kind == f.kind if f.kind else None,
                    enum_condition(jobs.c.status, f.status),
                ]
            )
        )
        async with info.context.db.read() as conn:
            page = await paginate(
                conn, query, [SortKey(jobs.c.created_at, True), SortKey(jobs.c.id, True)],
                first=first, after=after, with_total=True,
            )  # fmt: skip
        return connection_from(page, [Job.from_row(r) for r in page.rows])
