"""Inputs and payloads of the catalogue's mutations (the API contract)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from app.api.errors import UserErrorType
from app.catalog.types import PriceList, PriceListTarget, Product, ProductCategory
from app.customers.types import CustomerTier

UNSET: Any = strawberry.UNSET
ID_HELP = "Optional client-generated id; repeating a create with the same content is a no-op."
COST_HELP = "In the base currency; needs products:read_cost (FORBIDDEN otherwise)."
VERSION_HELP = "The version you loaded; a stale one conflicts."


@strawberry.input
class CreateProductInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=ID_HELP)
    code: str = strawberry.field(
        description="SKU code: 1-64 characters, no spaces; unique, and fixed once created."
    )
    name: str
    unit: str = strawberry.field(description="Unit of sale (件, 箱, kg): up to 20 characters.")
    list_price: Decimal = strawberry.field(
        description="Base currency, tax-exclusive, 0 or more, at most 4 decimals."
    )
    category_id: strawberry.ID | None = UNSET
    cost_price: Decimal | None = strawberry.field(default=UNSET, description=COST_HELP)
    tax_rate: Decimal | None = strawberry.field(
        default=UNSET, description="A fraction from 0 to below 1 (0.13 is 13 %); default 0."
    )
    batch_tracked: bool | None = strawberry.field(default=UNSET, description="Default false.")
    active: bool | None = strawberry.field(default=UNSET, description="Default true.")


@strawberry.input
class UpdateProductInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION_HELP)
    name: str | None = UNSET
    unit: str | None = UNSET
    list_price: Decimal | None = UNSET
    category_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="null takes the product out of every category."
    )
    cost_price: Decimal | None = strawberry.field(default=UNSET, description=COST_HELP)
    tax_rate: Decimal | None = UNSET
    batch_tracked: bool | None = UNSET
    active: bool | None = strawberry.field(
        default=UNSET, description="false deactivates the product (it is never deleted)."
    )


@strawberry.type
class ProductPayload:
    product: Product | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateProductPayload(ProductPayload):
    pass


@strawberry.type
class UpdateProductPayload(ProductPayload):
    pass


@strawberry.input
class CreateProductCategoryInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=ID_HELP)
    name: str = strawberry.field(description="Unique among its siblings; up to 100 characters.")
    parent_id: strawberry.ID | None = strawberry.field(default=None, description="None: a root.")


@strawberry.input
class UpdateProductCategoryInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION_HELP)
    name: str | None = strawberry.field(default=UNSET, description="Rename.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=UNSET,
        description="Move below this category (null: make it a root). Below itself or its "
        "own subcategories is refused (CYCLE).",
    )


@strawberry.input
class DeleteProductCategoryInput:
    id: strawberry.ID
    version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.type
class CategoryPayload:
    category: ProductCategory | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateProductCategoryPayload(CategoryPayload):
    pass


@strawberry.type
class UpdateProductCategoryPayload(CategoryPayload):
    pass


@strawberry.type
class DeleteProductCategoryPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input(description="A quantity break: from minQuantity on, this unit price.")
class PriceListItemInput:
    product_id: strawberry.ID
    min_quantity: Decimal | None = strawberry.field(
        default=None, description="0 or more, at most 4 decimals; default 0 (any quantity)."
    )
    unit_price: Decimal = strawberry.field(
        description="More than 0, at most 4 decimals, in the list's currency (tax-inclusive "
        "if the list is)."
    )


TARGET_HELP = (
    "ALL_CUSTOMERS, TIER (with tier) or CUSTOMER (with customerId, a customer you may see)."
)


@strawberry.input
class CreatePriceListInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=ID_HELP)
    name: str
    currency: str = strawberry.field(description="ISO 4217, such as CNY or USD.")
    tax_inclusive: bool = strawberry.field(
        default=True, description="Prices include tax (含税, the default) or not."
    )
    valid_from: dt.date | None = strawberry.field(default=None, description="First valid day.")
    valid_to: dt.date | None = strawberry.field(default=None, description="Last valid day.")
    target: PriceListTarget = strawberry.field(description=TARGET_HELP)
    tier: CustomerTier | None = None
    customer_id: strawberry.ID | None = None
    active: bool = True
    items: list[PriceListItemInput] | None = strawberry.field(
        default=None, description="The list's prices (at most 1000; more with setPriceListItems)."
    )


@strawberry.input
class UpdatePriceListInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION_HELP)
    name: str | None = UNSET
    currency: str | None = UNSET
    tax_inclusive: bool | None = UNSET
    valid_from: dt.date | None = UNSET
    valid_to: dt.date | None = UNSET
    target: PriceListTarget | None = strawberry.field(default=UNSET, description=TARGET_HELP)
    tier: CustomerTier | None = UNSET
    customer_id: strawberry.ID | None = UNSET
    active: bool | None = strawberry.field(
        default=UNSET, description="false deactivates the list (it is never deleted)."
    )


@strawberry.input
class SetPriceListItemsInput:
    price_list_id: strawberry.ID
    version: int = strawberry.field(description=VERSION_HELP)
    items: list[PriceListItemInput] = strawberry.field(
        description="At most 1000. Each product listed gets exactly these breaks."
    )
    remove_product_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Products whose prices leave the list."
    )
    replace_all: bool = strawberry.field(
        default=False,
        description="true: the list holds exactly `items` afterwards. false: products not "
        "named keep their prices.",
    )


@strawberry.type
class PriceListPayload:
    price_list: PriceList | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreatePriceListPayload(PriceListPayload):
    pass


@strawberry.type
class UpdatePriceListPayload(PriceListPayload):
    pass


@strawberry.type
class SetPriceListItemsPayload(PriceListPayload):
    pass


@strawberry.input
class PriceLineInput:
    product_id: strawberry.ID
    quantity: Decimal = strawberry.field(description="More than 0, at most 4 decimals.")


@strawberry.input
class ResolvePricesInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Without a customer, only all-customer lists and list prices apply.",
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; default the company's base currency."
    )
    date: dt.date | None = strawberry.field(
        default=None, description="The day prices must be valid on; default today (tenant time)."
    )
    lines: list[PriceLineInput] = strawberry.field(description="At most 500.")
