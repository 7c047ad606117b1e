"""Pure checks and decisions of the stock capability: quantities, codes, first-expiring-
first picking, the stock take state machine. No database here."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.errors import UserError, fail
from app.validation import check_length, clean, parse_decimal

SCALE = 3  # numeric(18, 3)
QUANTUM = Decimal(1).scaleb(-SCALE)
LIMIT = Decimal("1e15")  # quantities are below this in size
MAX_LINES = 500
MAX_CODE = 64
MAX_NAME = 200
MAX_REASON = 500
SOURCE_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_quantity(
    field: str, value: Any, *, positive: bool = True, signed: bool = False
) -> UserError | None:
    """A Decimal, int or decimal string with at most 3 decimals, below 10^15 in size:
    more than zero if `positive`, any but zero if `signed`, else zero or more."""
    return parse_decimal(
        field, value, places=QUANTUM, below=LIMIT, positive=positive, signed=signed
    )[1]


def quantity(value: Any) -> Decimal:
    """A checked quantity as the database stores it (three decimals)."""
    return Decimal(value).quantize(QUANTUM)


def _check_text(
    field: str, value: str | None, *, required: bool, max_length: int
) -> UserError | None:
    value = clean(value)
    if value is None:
        return UserError(field, "REQUIRED", f"{field} is required") if required else None
    return check_length(field, value, max_length=max_length)


def check_code(field: str, value: str | None, *, required: bool = True) -> UserError | None:
    return _check_text(field, value, required=required, max_length=MAX_CODE)


def check_reason(field: str, value: str | None, *, required: bool) -> UserError | None:
    return _check_text(field, value, required=required, max_length=MAX_REASON)


def fmt(value: Decimal) -> str:
    """A quantity or amount for a message: 12.5, not 12.500."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Source:
    """The document a stock change belongs to: `type` is a short lower-case name
    (sales_order, shipment, purchase_receipt, sales_return, stock_take, ...)."""

    type: str
    id: uuid.UUID

    def check(self, field: str = "source") -> UserError | None:
        if not isinstance(self.type, str) or not SOURCE_TYPE.match(self.type):
            return UserError(f"{field}.type", "INVALID",
                             "a source type is 1-40 lower-case letters, digits or _")  # fmt: skip
        if not isinstance(self.id, uuid.UUID):
            return UserError(f"{field}.id", "INVALID", "a source id is a UUID")
        return None


@dataclass(frozen=True)
class BatchStock:
    """A batch's on-hand stock in one warehouse, as FEFO sees it."""

    batch_id: uuid.UUID
    on_hand: Decimal
    code: str
    expires_on: dt.date | None
    produced_on: dt.date | None


def fefo_key(batch: BatchStock) -> tuple:
    """First expiring first; batches without an expiry date last; then the older
    production, then the code (a stable, explainable order)."""
    return (
        batch.expires_on is None,
        batch.expires_on or dt.date.max,
        batch.produced_on is None,
        batch.produced_on or dt.date.max,
        batch.code,
        batch.batch_id,
    )


def pick_fefo(
    candidates: Sequence[BatchStock], wanted: Decimal, *, today: dt.date
) -> tuple[list[tuple[uuid.UUID, Decimal]], Decimal]:
    """Which batches give `wanted`, first expiring first, never an expired one (expired
    stock stays on hand until written off with an adjustment, or is issued by naming
    its batch). Returns the picks and what could not be covered (0 when all was)."""
    picks: list[tuple[uuid.UUID, Decimal]] = []
    remaining = wanted
    for batch in sorted(candidates, key=fefo_key):
        if remaining <= 0:
            break
        if batch.on_hand <= 0 or (batch.expires_on is not None and batch.expires_on < today):
            continue
        take = min(batch.on_hand, remaining)
        picks.append((batch.batch_id, take))
        remaining -= take
    return picks, remaining


# The stock take state machine: draft -> posted, draft -> cancelled; both are final.
STOCK_TAKE_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"posted", "cancelled"}),
    "posted": frozenset(),
    "cancelled": frozenset(),
}


def stock_take_transition(current: str, target: str) -> None:
    """Raise INVALID_TRANSITION unless a `current` sheet may become `target`."""
    if target not in STOCK_TAKE_TRANSITIONS[current]:
        raise fail(
            "id", "INVALID_TRANSITION",
            f"a {current} stock take cannot be {target}; only a draft can",
        )  # fmt: skip


def ensure_draft(status: str) -> None:
    """Counting is only for drafts."""
    if status != "draft":
        raise fail("id", "INVALID_TRANSITION",
                   f"a {status} stock take cannot be counted; only a draft can")  # fmt: skip


def check_min_max(minimum: Any, maximum: Any) -> list[UserError]:
    errors = [
        e
        for e in (
            check_quantity("minQuantity", minimum, positive=False),
            check_quantity("maxQuantity", maximum, positive=False),
        )
        if e
    ]
    if not errors and Decimal(maximum) < Decimal(minimum):
        errors.append(
            UserError("maxQuantity", "INVALID", "maxQuantity must be at least minQuantity")
        )
    return errors
