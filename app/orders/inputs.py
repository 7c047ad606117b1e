"""GraphQL inputs and payloads of the quote and sales order mutations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from app.api.errors import UserErrorType
from app.orders.types import Quote, SalesOrder

UNSET: Any = strawberry.UNSET
VERSION = "The version you loaded; a stale one conflicts. Leave out to skip the check."
ID = (
    "Optional: a UUID you make (offline capture, retries). Repeating the create with the "
    "same id and content returns the first document and changes nothing."
)


@strawberry.input(description="A line to price: a product and a quantity.")
class DocumentLineInput:
    product_id: strawberry.ID
    quantity: Decimal = strawberry.field(description="More than 0, at most 3 decimals.")
    unit_price: Decimal | None = strawberry.field(
        default=None,
        description="Leave out to price from the price lists (the customer's, their tier's, "
        "all customers', then the list price). Given, it is used as it is (price source "
        "MANUAL) and needs the prices:override permission; on the document's tax basis.",
    )
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="0 to 100, 2 decimals; 0 when left out."
    )


@strawberry.input
class CreateSalesOrderInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=ID)
    customer_id: strawberry.ID
    warehouse_id: strawberry.ID = strawberry.field(description="Where the order ships from.")
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; the company's base currency when left out."
    )
    prices_include_tax: bool | None = strawberry.field(
        default=None,
        description="The order's tax basis; when left out, that of the price list of the "
        "first line priced from one (else tax-exclusive). Lines priced on the other basis "
        "are converted.",
    )
    order_date: dt.date | None = strawberry.field(
        default=None, description="Today (the tenant's calendar) when left out; prices are "
        "resolved on this date.",
    )  # fmt: skip
    requested_date: dt.date | None = None
    notes: str | None = None
    lines: list[DocumentLineInput] = strawberry.field(description="1 to 500 lines.")


@strawberry.input(description="Change a draft order: only the fields given change.")
class UpdateSalesOrderInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)
    warehouse_id: strawberry.ID | None = UNSET
    order_date: dt.date | None = UNSET
    requested_date: dt.date | None = UNSET
    notes: str | None = UNSET
    lines: list[DocumentLineInput] | None = strawberry.field(
        default=UNSET,
        description="Replace every line, priced afresh at the order date (currency and tax "
        "basis stay the order's).",
    )


@strawberry.input
class ConfirmSalesOrderInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)


@strawberry.input
class CancelSalesOrderInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)
    reason: str | None = None


@strawberry.input
class CloseSalesOrderInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)


@strawberry.type
class SalesOrderPayloadFields:
    sales_order: SalesOrder | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateSalesOrderPayload(SalesOrderPayloadFields):
    pass


@strawberry.type
class UpdateSalesOrderPayload(SalesOrderPayloadFields):
    pass


@strawberry.type
class ConfirmSalesOrderPayload(SalesOrderPayloadFields):
    pass


@strawberry.type
class CancelSalesOrderPayload(SalesOrderPayloadFields):
    pass


@strawberry.type
class CloseSalesOrderPayload(SalesOrderPayloadFields):
    pass


@strawberry.input
class CreateQuoteInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=ID)
    customer_id: strawberry.ID
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; the company's base currency when left out."
    )
    prices_include_tax: bool | None = strawberry.field(
        default=None, description="As for createSalesOrder."
    )
    quote_date: dt.date | None = strawberry.field(
        default=None, description="Today when left out; prices are resolved on this date."
    )
    valid_until: dt.date | None = strawberry.field(
        default=None, description="The last day it can be accepted; 30 days on by default."
    )
    notes: str | None = None
    lines: list[DocumentLineInput] = strawberry.field(description="1 to 500 lines.")


@strawberry.input(description="Change a draft quote: only the fields given change.")
class UpdateQuoteInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)
    quote_date: dt.date | None = UNSET
    valid_until: dt.date | None = UNSET
    notes: str | None = UNSET
    lines: list[DocumentLineInput] | None = strawberry.field(
        default=UNSET, description="Replace every line, priced afresh at the quote date."
    )


@strawberry.input
class SendQuoteInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)


@strawberry.input
class RejectQuoteInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)
    reason: str | None = None


@strawberry.input
class ReviseQuoteInput:
    id: strawberry.ID = strawberry.field(description="The version to revise (the latest).")
    version: int | None = strawberry.field(default=None, description=VERSION)
    new_id: strawberry.ID | None = strawberry.field(
        default=None, description="Optional id of the new version (a UUID you make)."
    )
    valid_until: dt.date | None = strawberry.field(
        default=None, description="Of the new version; by default as long as the old one's."
    )


@strawberry.input
class AcceptQuoteInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION)
    warehouse_id: strawberry.ID = strawberry.field(description="Where the order ships from.")
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="Optional id of the new order (a UUID you make)."
    )
    order_date: dt.date | None = None
    requested_date: dt.date | None = None


@strawberry.type
class QuotePayloadFields:
    quote: Quote | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateQuotePayload(QuotePayloadFields):
    pass


@strawberry.type
class UpdateQuotePayload(QuotePayloadFields):
    pass


@strawberry.type
class SendQuotePayload(QuotePayloadFields):
    pass


@strawberry.type
class RejectQuotePayload(QuotePayloadFields):
    pass


@strawberry.type
class ReviseQuotePayload:
    quote: Quote | None = strawberry.field(default=None, description="The new version (a draft).")
    previous: Quote | None = strawberry.field(
        default=None, description="The version revised, now SUPERSEDED."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class AcceptQuotePayload:
    quote: Quote | None = None
    sales_order: SalesOrder | None = strawberry.field(
        default=None, description="The draft order made from it."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)
