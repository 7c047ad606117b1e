"""The chunk loop every file import shares (customers, leads): read the stored
upload, continue at `state["next_row"]`, import up to CHUNK_ROWS rows, and carry the
counts in the job's state until the last chunk reports them as the result.

The rows of a chunk commit together with the cursor (app/jobs/service.py), so a
retried chunk redoes exactly the rows whose writes were rolled back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped, load_user_access
from app.jobs.service import ChunkOutcome, JobFailed, read_upload

CHUNK_ROWS = 500

# (who, parsed file, row number, cells) -> the counts it adds to, and its errors.
RowImporter = Callable[
    [Scoped, Any, int, list[str]], Awaitable[tuple[Sequence[str], list[dict[str, Any]]]]
]


async def import_file_chunk(
    conn: AsyncConnection,
    job: Row,
    *,
    parse: Callable[[bytes], Any],
    import_row: RowImporter,
    outcomes: Sequence[str],
) -> ChunkOutcome:
    if job.upload_id is None:
        raise JobFailed("the import has no uploaded file")
    # The import acts with the rights its starter has now: their data scope decides
    # which existing records it may match and change.
    who = await load_user_access(conn, job.created_by) if job.created_by else None
    if who is None or not who.active:
        raise JobFailed("the user who started this import is no longer active")
    parsed = parse((await read_upload(conn, job.upload_id)).content)
    start = int(job.state.get("next_row", 0))
    counts = {k: int(job.state.get("counts", {}).get(k, 0)) for k in outcomes}
    end = min(start + CHUNK_ROWS, len(parsed.rows))
    errors: list[dict[str, Any]] = []
    for number, cells in parsed.rows[start:end]:
        counted, row_errors = await import_row(who, parsed, number, cells)
        for key in counted:
            counts[key] += 1
        errors += row_errors
    done = end >= len(parsed.rows)
    result = (
        {**counts, "unknownColumns": parsed.unknown_columns, "rows": len(parsed.rows)}
        if done
        else None
    )
    return ChunkOutcome(
        state={"next_row": end, "counts": counts}, processed=end, total=len(parsed.rows),
        done=done, result=result, errors=errors,
    )  # fmt: skip
