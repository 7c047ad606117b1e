"""Document numbers: unique per tenant and type under concurrency, never reused after a
rollback, independent between tenants and types."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
from pathlib import Path

import pytest
from helpers import make_tenant

from app.db import tenant_transaction
from app.numbering.service import DocumentType, format_number, next_number

TODAY = dt.date(2026, 11, 23)


def counter(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


async def draw(services, schema: str, kind: DocumentType) -> str:
    async with tenant_transaction(services.engine, schema) as conn:
        return await next_number(conn, kind, TODAY)


def test_format_pads_to_six_digits_and_widens_past_them():
    assert format_number(DocumentType.SALES_ORDER, TODAY, 123) == "SO-2026-000123"
    assert format_number(DocumentType.INVOICE, dt.date(2027, 1, 1), 1) == "INV-2027-000001"
    assert format_number(DocumentType.QUOTE, TODAY, 1234567) == "QT-2026-1234567"


async def test_fifty_concurrent_transactions_get_fifty_distinct_numbers(owner, services):
    tenant = await make_tenant(owner, services, "numbers")
    numbers = await asyncio.gather(
        *(draw(services, tenant.schema, DocumentType.SALES_ORDER) for _ in range(50))
    )
    assert len(set(numbers)) == 50
    # Nothing rolled back, so there are no gaps either: exactly 1..50.
    assert sorted(counter(n) for n in numbers) == list(range(1, 51))
    assert all(n.startswith("SO-2026-") for n in numbers)


async def test_a_rolled_back_number_is_a_gap_never_reused(owner, services):
    tenant = await make_tenant(owner, services, "numbers")
    first = await draw(services, tenant.schema, DocumentType.INVOICE)
    with pytest.raises(RuntimeError):
        async with tenant_transaction(services.engine, tenant.schema) as conn:
            lost = await next_number(conn, DocumentType.INVOICE, TODAY)
            raise RuntimeError("the document failed validation")
    after = await draw(services, tenant.schema, DocumentType.INVOICE)
    assert counter(first) == 1 and counter(lost) == 2 and counter(after) == 3


async def test_each_tenant_and_type_counts_on_its_own(owner, services):
    a = await make_tenant(owner, services, "numbers")
    b = await make_tenant(owner, services, "numbers")
    for _ in range(5):
        await draw(services, a.schema, DocumentType.SALES_ORDER)
    # Another tenant cannot infer a's volume from its own numbers, nor can another type.
    assert await draw(services, b.schema, DocumentType.SALES_ORDER) == "SO-2026-000001"
    assert await draw(services, a.schema, DocumentType.SHIPMENT) == "SH-2026-000001"
    assert await draw(services, a.schema, DocumentType.SALES_ORDER) == "SO-2026-000006"


def test_every_document_type_has_a_sequence_in_the_migration():
    path = Path(__file__).parents[2] / "migrations/tenant/versions/0015_document_numbers.py"
    spec = importlib.util.spec_from_file_location("document_numbers_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert {k.value.lower() for k in DocumentType} == set(migration.PREFIXES)
