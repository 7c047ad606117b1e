"""GraphQL inputs and payloads of the stock mutations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from app.api.errors import UserErrorType
from app.stock.types import ReorderRule, StockMove, StockTake, Warehouse, WarehouseKind

UNSET: Any = strawberry.UNSET
POSTING_ID = (
    "Optional idempotency key (a UUID you make): repeating the call with the same id and "
    "input returns the first call's moves (replayed: true) and changes nothing."
)
VERSION = "The version you loaded; a stale one conflicts. Leave out to skip the check."


@strawberry.input(description="A product and a quantity; the batch for batch-tracked products.")
class StockLineInput:
    product_id: strawberry.ID
    quantity: Decimal = strawberry.field(
        description="More than zero (adjustStock: signed, not zero); at most 3 decimals."
    )
    batch_id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing batch of the product."
    )
    batch_code: str | None = strawberry.field(
        default=None,
        description="Or the batch by its code; receipts (and additions) create a new one.",
    )
    expires_on: dt.date | None = strawberry.field(
        default=None, description="For a new batch; for an existing one it must match."
    )
    produced_on: dt.date | None = None


@strawberry.input
class ReceiveStockInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=POSTING_ID)
    warehouse_id: strawberry.ID
    lines: list[StockLineInput] = strawberry.field(description="1 to 500 lines.")
    reason: str | None = None


@strawberry.input
class IssueStockInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=POSTING_ID)
    warehouse_id: strawberry.ID
    lines: list[StockLineInput] = strawberry.field(
        description="Batch-tracked products without a batch are picked first expiring first."
    )
    reason: str | None = None


@strawberry.input
class TransferStockInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=POSTING_ID)
    from_warehouse_id: strawberry.ID
    to_warehouse_id: strawberry.ID
    lines: list[StockLineInput]
    reason: str | None = None


@strawberry.input
class AdjustStockInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=POSTING_ID)
    warehouse_id: strawberry.ID
    lines: list[StockLineInput] = strawberry.field(
        description="Signed quantities: positive adds, negative removes (never reserved "
        "stock). Batch-tracked products name the batch."
    )
    reason: str = strawberry.field(description="Why: damaged, lost, found, expired, ...")


@strawberry.type
class StockPostingFields:
    posting_id: strawberry.ID | None = None
    moves: list[StockMove] = strawberry.field(default_factory=list)
    replayed: bool = strawberry.field(
        default=False, description="This id was posted before: nothing new was written."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class ReceiveStockPayload(StockPostingFields):
    pass


@strawberry.type
class IssueStockPayload(StockPostingFields):
    pass


@strawberry.type
class TransferStockPayload(StockPostingFields):
    pass


@strawberry.type
class AdjustStockPayload(StockPostingFields):
    pass


@strawberry.input
class CreateWarehouseInput:
    id: strawberry.ID | None = None
    code: str
    name: str
    kind: WarehouseKind = WarehouseKind.STANDARD
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for CONSIGNMENT, refused otherwise."
    )
    active: bool = True


@strawberry.input
class UpdateWarehouseInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)
    code: str | None = UNSET
    name: str | None = UNSET
    kind: WarehouseKind | None = UNSET
    customer_id: strawberry.ID | None = UNSET
    active: bool | None = strawberry.field(
        default=UNSET, description="false retires it: it takes no new stock."
    )


@strawberry.type
class WarehousePayloadFields:
    warehouse: Warehouse | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateWarehousePayload(WarehousePayloadFields):
    pass


@strawberry.type
class UpdateWarehousePayload(WarehousePayloadFields):
    pass


@strawberry.input
class CreateStockTakeInput:
    id: strawberry.ID | None = None
    warehouse_id: strawberry.ID
    product_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Only these products (a cycle count, at most 1000); default: every "
        "product with stock in the warehouse.",
    )
    note: str | None = None


@strawberry.input(description="A counted quantity of a product (per batch if batch-tracked).")
class StockCountLineInput:
    product_id: strawberry.ID
    counted: Decimal = strawberry.field(description="0 or more; at most 3 decimals.")
    batch_id: strawberry.ID | None = None
    batch_code: str | None = strawberry.field(
        default=None, description="Or the batch's code; an unknown code makes a new batch."
    )
    expires_on: dt.date | None = None
    produced_on: dt.date | None = None


@strawberry.input
class CountStockTakeInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)
    lines: list[StockCountLineInput] = strawberry.field(
        description="1 to 500; counting an item again replaces its count."
    )


@strawberry.input
class PostStockTakeInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)


@strawberry.input
class CancelStockTakeInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)


@strawberry.type
class StockTakePayloadFields:
    stock_take: StockTake | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateStockTakePayload(StockTakePayloadFields):
    pass


@strawberry.type
class CountStockTakePayload(StockTakePayloadFields):
    pass


@strawberry.type
class PostStockTakePayload(StockTakePayloadFields):
    pass


@strawberry.type
class CancelStockTakePayload(StockTakePayloadFields):
    pass


@strawberry.input
class SetReorderRuleInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Your id for a new rule (there is one per product x warehouse)."
    )
    product_id: strawberry.ID
    warehouse_id: strawberry.ID
    min_quantity: Decimal = strawberry.field(description="0 or more: low below this.")
    max_quantity: Decimal = strawberry.field(description="At least minQuantity.")
    version: int | None = strawberry.field(default=None, description=VERSION)


@strawberry.input
class RemoveReorderRuleInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)


@strawberry.type
class ReorderRulePayloadFields:
    reorder_rule: ReorderRule | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class SetReorderRulePayload(ReorderRulePayloadFields):
    pass


@strawberry.type
class RemoveReorderRulePayload(ReorderRulePayloadFields):
    pass
