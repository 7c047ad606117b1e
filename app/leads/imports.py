"""`importLeads`: a CSV upload becomes a stored file and a queued job, in one
transaction, as for customers (app/customers/imports.py); the worker does the rest
(app/leads/jobs.py)."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.permissions import requires
from app.customers.imports import _read_upload as read_upload
from app.jobs import service as jobs_service
from app.jobs.graphql import Job
from app.leads.jobs import IMPORT_KIND


@strawberry.type
class ImportLeadsPayload:
    job: Job | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class LeadImportMutations:
    @strawberry.mutation(
        extensions=requires("leads:import"),
        description="Import leads from a CSV file (UTF-8 or GB18030; columns named like the "
        "Lead fields, or their usual Chinese headers: see app/leads/IMPORT.md). New leads go "
        "through the assignment rules. Runs in the background: poll `job(id)`.",
    )
    async def import_leads(self, info: Info, file: Upload) -> ImportLeadsPayload:
        async def change(conn) -> dict:
            content = await read_upload(file, info.context.services.settings.max_upload_bytes)
            actor = info.context.actor
            upload_id = await jobs_service.store_upload(
                conn, actor=actor, filename=getattr(file, "filename", None) or "leads.csv",
                content_type=getattr(file, "content_type", None), content=content,
            )  # fmt: skip
            row = await jobs_service.create_job(
                conn, actor=actor, tenant_id=info.context.principal.tenant.id,
                kind=IMPORT_KIND, upload_id=upload_id,
            )  # fmt: skip
            return {"job": Job.from_row(row)}

        return await run_mutation(info, ImportLeadsPayload, change)
