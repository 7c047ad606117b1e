"""importCustomers as a job: chunks, a crashed worker, tenants, permissions, rollback."""

from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import func, select, text, update

from app.customers.tables import customers
from app.db import tenant_transaction
from app.errors import fail
from app.jobs import service as jobs_service
from app.jobs.imports import CHUNK_ROWS
from app.jobs.tables import jobs
from workers.tasks import run_job, sweep_stalled_jobs

BULK_ROWS = 1200


def bulk_file(p: str, rows: int = BULK_ROWS) -> bytes:
    lines = ["name,externalRef,tier,contactName"]
    lines += [f"{p} Bulk {i:04d},{p}-{i},{'ABC'[i % 3]},Contact {i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def imported(services, tenant, p: str) -> tuple[int, int]:
    """How many live customers carry the marker, and how many distinct refs they have."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = (
            await conn.execute(
                select(func.count(), func.count(customers.c.external_ref.distinct())).where(
                    customers.c.name.startswith(p), customers.c.deleted_at.is_(None)
                )
            )
        ).one()
    return tuple(row)


async def test_a_file_bigger_than_a_chunk(importer, services, tenant_a, p):
    assert BULK_ROWS > 2 * CHUNK_ROWS
    job = await importer.run(tenant_a.tokens["sales"], bulk_file(p))
    assert job["status"] == "SUCCEEDED", job
    assert job["result"] == {
        "created": BULK_ROWS, "updated": 0, "unchanged": 0, "failed": 0,
        "unknownColumns": [], "rows": BULK_ROWS,
    }  # fmt: skip
    assert (job["processed"], job["total"], job["progress"]) == (BULK_ROWS, BULK_ROWS, 1.0)
    assert await imported(services, tenant_a, p) == (BULK_ROWS, BULK_ROWS)


async def test_a_crashed_worker_is_retried_without_duplicates(importer, services, tenant_a, p):
    token = tenant_a.tokens["sales"]
    job_id = await importer.start(token, bulk_file(p))
    # One chunk, as a worker would run it; its message for the next chunk is queued.
    assert await run_job({"services": services}, tenant_id=str(tenant_a.id), job_id=job_id) == (
        "chunk done"
    )
    partway = await importer.job(token, job_id)
    assert (partway["status"], partway["processed"], partway["total"]) == (
        "RUNNING", CHUNK_ROWS, BULK_ROWS,
    )  # fmt: skip
    # Now its worker dies on the second chunk: nothing of that chunk committed, and
    # the heartbeat goes stale.
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        await conn.execute(
            update(jobs)
            .where(jobs.c.id == uuid.UUID(job_id))
            .values(status="running", heartbeat_at=func.now() - text("interval '1 hour'"))
        )
    assert await sweep_stalled_jobs({"services": services}) >= 1
    job = await importer.finished(token, job_id)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["created"] == BULK_ROWS
    assert job["result"]["failed"] == 0
    assert await imported(services, tenant_a, p) == (BULK_ROWS, BULK_ROWS)


JOB_IDS = "{ jobs(first: 100) { edges { node { id } } } }"


async def test_tenants_do_not_see_or_touch_each_other(importer, api, tenant_a, tenant_b, p):
    content = (
        f"name,externalRef,email,tier\n{p} Shared,{p}-S,shared@{p}.example.com,A\n{p} Other,,,B\n"
    ).encode()
    a_job = await importer.run(tenant_a.tokens["sales"], content)
    assert a_job["result"]["created"] == 2
    a_customers = await importer.customers(tenant_a.tokens["sales"], p)

    assert await importer.job(tenant_b.tokens["admin"], a_job["id"]) is None
    b_jobs = await api.gql(JOB_IDS, token=tenant_b.tokens["admin"])
    assert a_job["id"] not in {e["node"]["id"] for e in b_jobs["jobs"]["edges"]}

    # The same file in tenant B matches nothing of A's: B gets its own customers.
    changed = content.replace(b",A\n", b",C\n")
    b_job = await importer.run(tenant_b.tokens["sales"], changed)
    assert (b_job["result"]["created"], b_job["result"]["updated"]) == (2, 0)
    assert await importer.customers(tenant_a.tokens["sales"], p) == a_customers
    b_customers = await importer.customers(tenant_b.tokens["sales"], p)
    assert {e["node"]["tier"] for e in b_customers["edges"]} == {"B", "C"}
    assert not {e["node"]["id"] for e in b_customers["edges"]} & {
        e["node"]["id"] for e in a_customers["edges"]
    }


async def test_viewer_cannot_import(importer, tenant_a):
    before = await importer.counts(tenant_a)
    body = await importer.upload(tenant_a.tokens["viewer"], b"name\nNope\n")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await importer.counts(tenant_a) == before


async def test_an_empty_or_too_large_upload_creates_no_job(importer, services, tenant_a,
                                                           monkeypatch):  # fmt: skip
    token = tenant_a.tokens["sales"]
    before = await importer.counts(tenant_a)
    empty = (await importer.upload(token, b""))["data"]["importCustomers"]
    assert empty == {
        "job": None,
        "userErrors": [{"field": "file", "code": "REQUIRED", "message": "the file is empty"}],
    }
    small = dataclasses.replace(services.settings, max_upload_bytes=10)
    monkeypatch.setattr(services, "settings", small)
    large = (await importer.upload(token, b"name\nToo large\n"))["data"]["importCustomers"]
    assert large["job"] is None
    assert [(e["field"], e["code"]) for e in large["userErrors"]] == [("file", "TOO_LARGE")]
    assert await importer.counts(tenant_a) == before


async def test_a_file_sent_as_json_is_a_user_error(importer, api, tenant_a):
    before = await importer.counts(tenant_a)
    data = await api.gql(
        importer.operation, {"file": "name\nAcme\n"}, token=tenant_a.tokens["sales"]
    )
    assert data["importCustomers"]["job"] is None
    assert data["importCustomers"]["userErrors"][0]["code"] == "INVALID"
    assert await importer.counts(tenant_a) == before


async def test_a_rolled_back_request_enqueues_nothing(importer, services, tenant_a, monkeypatch):
    real_create_job = jobs_service.create_job

    async def create_then_fail(conn, **kwargs):
        await real_create_job(conn, **kwargs)
        raise fail("file", "REJECTED", "rejected after the job row was written")

    monkeypatch.setattr(jobs_service, "create_job", create_then_fail)
    pool = await services.queue.pool()
    queued = await pool.zcard(services.settings.queue_name)
    before = await importer.counts(tenant_a)
    body = await importer.upload(tenant_a.tokens["sales"], b"name\nRolled back\n")
    assert body["data"]["importCustomers"]["userErrors"][0]["code"] == "REJECTED"
    assert await importer.counts(tenant_a) == before
    assert await pool.zcard(services.settings.queue_name) == queued
