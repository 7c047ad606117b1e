"""Document numbers: `SO-2026-000123`, unique per tenant and document type, never reused.

Each document type draws from its own PostgreSQL sequence in the tenant's schema.
`nextval` is not transactional: a number handed to a transaction that rolls back is
gone (a gap, which the issue allows), and concurrent transactions never wait on each
other for a number. A counter row updated in the document's own transaction would be
gapless, but would serialise every confirmation of the tenant behind the slowest one
(the row lock is held until commit); a counter updated on a second connection would
deadlock the pool under load. So: sequences.

The year in the number is the document's date's year, for people reading it; the
counter does not restart each year (restarting would need a sequence per year, made
at run time). Numbers are unique per type because the counter is.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Sequence, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tenant_metadata


class DocumentType(enum.Enum):
    QUOTE = "QT"
    SALES_ORDER = "SO"
    SHIPMENT = "SH"
    SALES_RETURN = "RT"
    INVOICE = "INV"
    CREDIT_NOTE = "CN"
    PAYMENT = "PAY"
    PURCHASE_ORDER = "PO"
    GOODS_RECEIPT = "GR"
    STOCK_TAKE = "ST"


def sequence_name(kind: DocumentType) -> str:
    return f"document_number_{kind.value.lower()}"


SEQUENCES = {
    kind: Sequence(sequence_name(kind), metadata=tenant_metadata, start=1) for kind in DocumentType
}

DIGITS = 6


def format_number(kind: DocumentType, on: dt.date, value: int) -> str:
    """`SO-2026-000123`; past 999999 the counter simply gets wider, never wraps."""
    return f"{kind.value}-{on.year}-{value:0{DIGITS}d}"


async def next_number(conn: AsyncConnection, kind: DocumentType, on: dt.date) -> str:
    value = await conn.scalar(select(SEQUENCES[kind].next_value()))
    return format_number(kind, on, value)
