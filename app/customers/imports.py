"""`importCustomers`: a CSV upload becomes a stored file and a queued job, in one
transaction; the worker does the rest (app/customers/jobs.py)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.permissions import requires
from app.customers.jobs import IMPORT_KIND
from app.errors import fail
from app.jobs import service as jobs_service
from app.jobs.graphql import Job


@strawberry.type
class ImportCustomersPayload:
    job: Job | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


async def _read_upload(file: Any, limit: int) -> bytes:
    """The uploaded bytes (a starlette UploadFile, which nothing else closes)."""
    if not hasattr(file, "read"):
        raise fail("file", "INVALID", "send the file as a GraphQL multipart upload")
    try:
        content = await file.read(limit + 1)
    finally:
        await file.close()
    if not content:
        raise fail("file", "REQUIRED", "the file is empty")
    if len(content) > limit:
        raise fail("file", "TOO_LARGE", f"the file is larger than {limit} bytes")
    return content


@strawberry.type
class CustomerImportMutations:
    @strawberry.mutation(
        extensions=requires("customers:import"),
        description="Import customers and their primary contact from a CSV file (UTF-8 or "
        "GB18030; columns named like the Customer fields, contactName, contactTitle, "
        "contactEmail, contactPhone, or their usual Chinese headers). Runs in the background: "
        "poll `job(id)`.",
    )
    async def import_customers(self, info: Info, file: Upload) -> ImportCustomersPayload:
        async def change(conn) -> dict:
            content = await _read_upload(file, info.context.services.settings.max_upload_bytes)
            actor = info.context.actor
            upload_id = await jobs_service.store_upload(
                conn, actor=actor, filename=getattr(file, "filename", None) or "upload.csv",
                content_type=getattr(file, "content_type", None), content=content,
            )  # fmt: skip
            row = await jobs_service.create_job(
                conn, actor=actor, tenant_id=info.context.principal.tenant.id,
                kind=IMPORT_KIND, upload_id=upload_id,
            )  # fmt: skip
            return {"job": Job.from_row(row)}

        return await run_mutation(info, ImportCustomersPayload, change)
