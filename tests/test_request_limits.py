"""The /graphql body cap: an oversized body is refused with 413 before it is parsed
(by its Content-Length) or while it streams in (chunked), leaving no rows and no
temporary files behind; within the cap, uploads reach the mutation as before."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import AsyncIterator

import httpx
import pytest
from helpers import operation
from sqlalchemy import func, select

from app.db import tenant_transaction
from app.jobs.tables import jobs, uploads
from app.main import create_app
from tenants.catalog import outbox

KIB = 1024
# Above the 1 MiB that starlette keeps in memory, so an upload spools to disk.
UPLOAD_LIMIT = 2 * KIB * KIB
REQUEST_LIMIT = 64 * KIB
MULTIPART_LIMIT = UPLOAD_LIMIT + REQUEST_LIMIT
CHUNK = 64 * KIB
BOUNDARY = "kehu-test-boundary"
IMPORT = operation("importCustomers")


@pytest.fixture(scope="module")
async def small(services) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, with limits small enough to cross cheaply."""
    settings = dataclasses.replace(
        services.settings, max_upload_bytes=UPLOAD_LIMIT, max_request_bytes=REQUEST_LIMIT
    )
    app = create_app(settings, dataclasses.replace(services, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as client:
        yield client


def envelope() -> tuple[bytes, bytes]:
    """The multipart body of importCustomers around a CSV file: what goes before the
    file's rows (with its header line), and what goes after."""
    operations = json.dumps({"query": IMPORT, "variables": {"file": None}})
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{operations}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        f'{{"0": ["variables.file"]}}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="0"; '
        f'filename="customers.csv"\r\nContent-Type: text/csv\r\n\r\n'
        "name\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def csv_rows(size: int) -> bytes:
    line = b"Customer from an oversized upload\n"
    return (line * (size // len(line) + 1))[:size]


class Stream:
    """A body sent chunked (no Content-Length), counting what the server pulled and
    noting the temporary files it held open meanwhile."""

    def __init__(self, *parts: bytes) -> None:
        self.parts = parts
        self.sent = 0
        self.before = temporary_files()
        self.spooled: set[str] = set()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            for start in range(0, len(part), CHUNK):
                self.spooled |= temporary_files() - self.before
                chunk = part[start : start + CHUNK]
                self.sent += len(chunk)
                yield chunk


def headers(token: str | None, content_type: str) -> dict[str, str]:
    found = {"Content-Type": content_type}
    if token:
        found["Authorization"] = f"Bearer {token}"
    return found


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


async def counts(services, tenant) -> dict[str, int]:
    """Rows an import request may write: jobs, uploads, and the tenant's outbox."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        found = {
            "jobs": await conn.scalar(select(func.count()).select_from(jobs)),
            "uploads": await conn.scalar(select(func.count()).select_from(uploads)),
        }
    async with services.engine.connect() as conn:
        found["outbox"] = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.tenant_id == tenant.id)
        )
    return found


def temporary_files() -> set[str]:
    """The files in the temporary directory this process holds open. A spooled upload
    is one: unlinked at once (so a directory listing never shows it), it takes disk
    space until it is closed. Other processes' files are not counted: the machine is
    shared."""
    directory = tempfile.gettempdir()
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(directory):
            held.add(f"{fd}:{target}")
    return held


def assert_refused(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["connection"] == "close"
    assert response.json() == {
        "errors": [
            {
                "message": f"the request body is larger than {limit} bytes",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }


async def test_an_upload_declared_too_large_is_refused_unread(small, services, tenant_a):
    head, tail = envelope()
    body = head + csv_rows(MULTIPART_LIMIT) + tail
    before_rows, before_files = await counts(services, tenant_a), temporary_files()
    response = await small.post(
        "/graphql", content=body, headers=headers(tenant_a.tokens["sales"], MULTIPART)
    )
    assert_refused(response, MULTIPART_LIMIT)
    assert await counts(services, tenant_a) == before_rows
    assert temporary_files() <= before_files


async def test_a_streamed_upload_is_cut_off_once_over_the_limit(small, services, tenant_a):
    head, tail = envelope()
    before_rows = await counts(services, tenant_a)
    stream = Stream(head, csv_rows(2 * MULTIPART_LIMIT), tail)
    response = await small.post(
        "/graphql", content=stream, headers=headers(tenant_a.tokens["sales"], MULTIPART)
    )
    assert "content-length" not in response.request.headers
    assert_refused(response, MULTIPART_LIMIT)
    # Read up to the cap and one chunk more, not the other half of the body.
    assert MULTIPART_LIMIT < stream.sent <= MULTIPART_LIMIT + CHUNK
    assert await counts(services, tenant_a) == before_rows
    # The form parser had spooled the file to disk; that file is closed (so gone).
    assert stream.spooled
    assert temporary_files() <= stream.before


async def test_the_body_is_not_read_before_the_token_is_checked(small):
    head, tail = envelope()
    stream = Stream(head, csv_rows(2 * MULTIPART_LIMIT), tail)
    response = await small.post("/graphql", content=stream, headers=headers(None, MULTIPART))
    assert response.status_code == 401
    assert stream.sent == 0


async def test_a_file_over_the_upload_limit_within_the_envelope_is_a_user_error(
    small, services, tenant_a
):
    head, tail = envelope()
    body = head + csv_rows(UPLOAD_LIMIT) + tail  # with "name\n": one line too long
    before = await counts(services, tenant_a)
    response = await small.post(
        "/graphql", content=body, headers=headers(tenant_a.tokens["sales"], MULTIPART)
    )
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["importCustomers"]
    assert payload["job"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("file", "TOO_LARGE")]
    assert await counts(services, tenant_a) == before


async def test_json_requests_have_the_smaller_cap(small, tenant_a):
    token = tenant_a.tokens["viewer"]
    # Undeclared variables are ignored: padding that changes nothing but the size.
    query = "{ me { permissions } }"
    fits = json.dumps({"query": query, "variables": {"pad": "x" * (REQUEST_LIMIT - 200)}})
    response = await small.post(
        "/graphql", content=fits, headers=headers(token, "application/json")
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["permissions"]
    # The same JSON as large as a file may be: refused, declared or streamed.
    big = json.dumps({"query": query, "variables": {"pad": "x" * UPLOAD_LIMIT}}).encode()
    response = await small.post("/graphql", content=big, headers=headers(token, "application/json"))
    assert_refused(response, REQUEST_LIMIT)
    stream = Stream(big)
    response = await small.post(
        "/graphql", content=stream, headers=headers(token, "application/json")
    )
    assert_refused(response, REQUEST_LIMIT)
    assert stream.sent <= REQUEST_LIMIT + CHUNK
