"""GraphQL inputs and payloads of the purchasing mutations (the API contract)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from app.api.errors import UserErrorType
from app.purchasing.types import GoodsReceipt, PurchaseOrder, Supplier

UNSET: Any = strawberry.UNSET
ID_HELP = "Optional client-generated id; repeating a create with the same content is a no-op."
VERSION_HELP = "The version you loaded; a stale one conflicts."
VERSION_OPTIONAL = "The version you loaded; a stale one conflicts. Leave out to skip the check."


@strawberry.input
class CreateSupplierInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=ID_HELP)
    code: str = strawberry.field(description="1-64 characters, no spaces; unique.")
    name: str
    contact_name: str | None = UNSET
    email: str | None = UNSET
    phone: str | None = UNSET
    address: str | None = UNSET
    payment_terms_days: int | None = strawberry.field(
        default=UNSET, description="Days to pay after the invoice, 0-365; default 30."
    )
    currency: str | None = strawberry.field(
        default=UNSET, description="ISO 4217; default the company's base currency."
    )
    notes: str | None = UNSET
    active: bool = True


@strawberry.input
class UpdateSupplierInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION_HELP)
    code: str | None = UNSET
    name: str | None = UNSET
    contact_name: str | None = UNSET
    email: str | None = UNSET
    phone: str | None = UNSET
    address: str | None = UNSET
    payment_terms_days: int | None = UNSET
    currency: str | None = UNSET
    notes: str | None = UNSET
    active: bool | None = strawberry.field(
        default=UNSET, description="false retires the supplier (it gets no new orders)."
    )


@strawberry.type
class SupplierPayload:
    supplier: Supplier | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateSupplierPayload(SupplierPayload):
    pass


@strawberry.type
class UpdateSupplierPayload(SupplierPayload):
    pass


@strawberry.input(description="A product to buy: quantity and unit cost.")
class PurchaseOrderLineInput:
    product_id: strawberry.ID = strawberry.field(description="An active product.")
    quantity: Decimal = strawberry.field(description="More than 0, at most 3 decimals.")
    unit_cost: Decimal = strawberry.field(
        description="0 or more, at most 4 decimals, in the order's currency (tax-inclusive "
        "if pricesIncludeTax). Setting it needs purchasing:read_cost (FORBIDDEN otherwise)."
    )
    tax_rate: Decimal | None = strawberry.field(
        default=None, description="A fraction (0.13 is 13 %); default the product's."
    )


@strawberry.input
class CreatePurchaseOrderInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=ID_HELP)
    supplier_id: strawberry.ID = strawberry.field(description="An active supplier.")
    warehouse_id: strawberry.ID = strawberry.field(
        description="An active standard warehouse the goods are received into."
    )
    expected_date: dt.date = strawberry.field(description="When the goods should arrive.")
    order_date: dt.date | None = strawberry.field(
        default=None, description="Default today (the tenant's time zone)."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; default the supplier's currency."
    )
    prices_include_tax: bool = strawberry.field(
        default=False, description="Unit costs include tax (含税)."
    )
    notes: str | None = None
    lines: list[PurchaseOrderLineInput] = strawberry.field(description="1 to 500 lines.")


@strawberry.input
class UpdatePurchaseOrderInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION_HELP)
    supplier_id: strawberry.ID | None = UNSET
    warehouse_id: strawberry.ID | None = UNSET
    expected_date: dt.date | None = UNSET
    order_date: dt.date | None = UNSET
    currency: str | None = strawberry.field(
        default=UNSET, description="Changing it needs purchasing:read_cost (it reprices costs)."
    )
    prices_include_tax: bool | None = strawberry.field(
        default=UNSET, description="Changing it needs purchasing:read_cost (it reprices costs)."
    )
    notes: str | None = UNSET
    lines: list[PurchaseOrderLineInput] | None = strawberry.field(
        default=UNSET, description="Replaces all the lines when given."
    )


@strawberry.input
class SendPurchaseOrderInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION_OPTIONAL)


@strawberry.input
class CancelPurchaseOrderInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION_OPTIONAL)
    reason: str | None = strawberry.field(default=None, description="Up to 500 characters.")


@strawberry.input
class ClosePurchaseOrderInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION_OPTIONAL)
    reason: str = strawberry.field(
        description="Why the rest will never come (1-500 characters); kept on the order."
    )


@strawberry.type
class PurchaseOrderPayload:
    purchase_order: PurchaseOrder | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreatePurchaseOrderPayload(PurchaseOrderPayload):
    pass


@strawberry.type
class UpdatePurchaseOrderPayload(PurchaseOrderPayload):
    pass


@strawberry.type
class SendPurchaseOrderPayload(PurchaseOrderPayload):
    pass


@strawberry.type
class CancelPurchaseOrderPayload(PurchaseOrderPayload):
    pass


@strawberry.type
class ClosePurchaseOrderPayload(PurchaseOrderPayload):
    pass


@strawberry.input(description="What came in for one order line; a line may be named twice "
                  "(two batches).")  # fmt: skip
class ReceiptLineInput:
    order_line_id: strawberry.ID
    quantity: Decimal = strawberry.field(
        description="More than 0, at most 3 decimals; never more than is left to receive."
    )
    batch_id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing batch of the product (batch-tracked products)."
    )
    batch_code: str | None = strawberry.field(
        default=None, description="Or the batch by code; a new code creates the batch."
    )
    expires_on: dt.date | None = strawberry.field(
        default=None, description="For a new batch; for an existing one it must match."
    )
    produced_on: dt.date | None = None


@strawberry.input
class ReceivePurchaseOrderInput:
    id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Optional receipt id (a UUID you make): repeating the call with the same "
        "id and input returns the first receipt (replayed: true) and changes nothing.",
    )
    order_id: strawberry.ID
    received_on: dt.date | None = strawberry.field(
        default=None, description="Default today (the tenant's time zone)."
    )
    note: str | None = None
    lines: list[ReceiptLineInput] = strawberry.field(description="1 to 500 lines.")


@strawberry.type
class ReceivePurchaseOrderPayload:
    receipt: GoodsReceipt | None = None
    purchase_order: PurchaseOrder | None = None
    replayed: bool = strawberry.field(
        default=False, description="This receipt id was used before: nothing new was written."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)
