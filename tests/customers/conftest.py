"""Helpers for import tests: GraphQL multipart uploads and polling a job to its end."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import tenant_transaction
from app.jobs.tables import jobs, uploads
from tenants.catalog import outbox

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
# The published example operations, so the examples are what the tests run.
IMPORT = (OPERATIONS / "importCustomers.graphql").read_text()
JOB = (OPERATIONS / "job.graphql").read_text()

CUSTOMERS = """
query($search: String!) {
  customers(first: 100, filter: {search: $search}, orderBy: {field: NAME}) {
    totalCount
    edges { node {
      id name email phone category tier industry region source tags externalRef version
      contacts { name title email phone isPrimary version }
    } }
  }
}"""


@pytest.fixture
def p() -> str:
    """A marker unique to one test, put in every name it imports."""
    return f"imp{uuid.uuid4().hex[:8]}"


class Importer:
    operation = IMPORT

    def __init__(self, api, run_worker, services) -> None:
        self.api = api
        self.run_worker = run_worker
        self.services = services

    async def upload(self, token: str, content: bytes, *, filename: str = "customers.csv") -> dict:
        """POST a GraphQL multipart request (operations + map + the file part)."""
        response = await self.api.client.post(
            "/graphql",
            data={
                "operations": json.dumps({"query": IMPORT, "variables": {"file": None}}),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": (filename, content, "text/csv")},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def start(self, token: str, content: bytes) -> str:
        body = await self.upload(token, content)
        assert not body.get("errors"), body["errors"]
        payload = body["data"]["importCustomers"]
        assert payload["userErrors"] == []
        assert payload["job"]["status"] == "QUEUED"
        return payload["job"]["id"]

    async def job(self, token: str, job_id: str) -> dict | None:
        return (await self.api.gql(JOB, {"id": job_id}, token=token))["job"]

    async def finished(self, token: str, job_id: str) -> dict:
        """Poll the job, running the worker (burst) between polls instead of sleeping."""
        for _ in range(10):
            job = await self.job(token, job_id)
            if job["status"] in ("SUCCEEDED", "FAILED"):
                return job
            await self.run_worker(poll_delay=0.05)
        raise AssertionError(f"job {job_id} did not finish: {job}")

    async def run(self, token: str, content: bytes) -> dict:
        return await self.finished(token, await self.start(token, content))

    async def customers(self, token: str, search: str) -> dict:
        return (await self.api.gql(CUSTOMERS, {"search": search}, token=token))["customers"]

    async def counts(self, tenant) -> dict[str, int]:
        """Rows a request may have written: jobs, uploads, and the tenant's outbox."""
        engine = self.services.engine
        async with tenant_transaction(engine, tenant.schema) as conn:
            found = {
                "jobs": await conn.scalar(select(func.count()).select_from(jobs)),
                "uploads": await conn.scalar(select(func.count()).select_from(uploads)),
            }
        async with engine.connect() as conn:
            found["outbox"] = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.tenant_id == tenant.id)
            )
        return found


@pytest.fixture
def importer(api, run_worker, services) -> Importer:
    return Importer(api, run_worker, services)
