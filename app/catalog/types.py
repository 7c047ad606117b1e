"""GraphQL types of the catalogue, built as plain objects for a whole page: children
(categories, items, products, customers) are fetched per page by looking ahead at the
selection, one statement per kind of child, never per row."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Sequence
from decimal import Decimal

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.errors import UserErrorType
from app.api.ids import graphql_id
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.catalog import queries
from app.catalog.prices import ResolvedPrice
from app.catalog.pricing import line_amounts
from app.customers.types import Customer, CustomerTier, attach_customers

COST = "products:read_cost"


@strawberry.type(description="A node of the product category tree.")
class ProductCategory:
    id: strawberry.ID
    parent_id: strawberry.ID | None = strawberry.field(description="Null for a root.")
    name: str
    version: int = strawberry.field(description="Pass it back on change; a stale one conflicts.")
    created_at: dt.datetime
    updated_at: dt.datetime
    depth: int | None = strawberry.field(
        default=None,
        description="In productCategories: levels below the categories asked for (0 for "
        "them). Null elsewhere.",
    )

    @classmethod
    def from_row(cls, row: Row) -> ProductCategory:
        return cls(
            id=strawberry.ID(str(row.id)), parent_id=graphql_id(row.parent_id), name=row.name,
            version=row.version, created_at=row.created_at, updated_at=row.updated_at,
            depth=row._mapping.get("depth"),
        )  # fmt: skip


@strawberry.type(description="A product (SKU). Never deleted: deactivated with active false.")
class Product:
    id: strawberry.ID
    code: str = strawberry.field(
        description="The SKU code, unique in the tenant; it never changes and is never reused."
    )
    name: str
    category_id: strawberry.ID | None
    unit: str = strawberry.field(description="The unit of sale, such as 件, 箱 or kg.")
    list_price: Decimal = strawberry.field(
        description="In the company's base currency, tax-exclusive; four decimals."
    )
    tax_rate: Decimal = strawberry.field(description="A fraction: 0.13 is 13 % VAT.")
    batch_tracked: bool = strawberry.field(description="Stock is kept per batch/lot.")
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(description="Pass it back on change; a stale one conflicts.")
    cost_price: Decimal | None = strawberry.field(
        default=None,
        extensions=requires(COST),
        description="In the base currency. Refused (FORBIDDEN) without products:read_cost.",
    )
    category: ProductCategory | None = None

    @classmethod
    def from_row(cls, row: Row) -> Product:
        return cls(
            id=strawberry.ID(str(row.id)), code=row.code, name=row.name,
            category_id=graphql_id(row.category_id), unit=row.unit, list_price=row.list_price,
            tax_rate=row.tax_rate, batch_tracked=row.batch_tracked, active=row.active,
            created_at=row.created_at, updated_at=row.updated_at, version=row.version,
            cost_price=row.cost_price,
        )  # fmt: skip


async def build_products(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Product]:
    nodes = [Product.from_row(r) for r in rows]
    if f"{prefix}category" in selected and rows:
        found = await queries.categories_by_id(conn, [r.category_id for r in rows])
        categories = {k: ProductCategory.from_row(v) for k, v in found.items()}
        for node, row in zip(nodes, rows, strict=True):
            node.category = categories.get(row.category_id)
    return nodes


async def build_categories(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[ProductCategory]:
    return [ProductCategory.from_row(r) for r in rows]


@strawberry.enum(description="Whom a price list applies to.")
class PriceListTarget(enum.Enum):
    ALL_CUSTOMERS = "all"
    TIER = "tier"
    CUSTOMER = "customer"


@strawberry.type(description="From minQuantity on, this unit price (a quantity break).")
class PriceListItem:
    id: strawberry.ID
    product_id: strawberry.ID
    min_quantity: Decimal
    unit_price: Decimal = strawberry.field(
        description="In the list's currency; tax-inclusive if the list is."
    )
    product: Product | None = None

    @classmethod
    def from_row(cls, row: Row) -> PriceListItem:
        return cls(
            id=strawberry.ID(str(row.id)), product_id=strawberry.ID(str(row.product_id)),
            min_quantity=row.min_quantity, unit_price=row.unit_price,
        )  # fmt: skip


@strawberry.type(description="Prices for all customers, a tier or one customer.")
class PriceList:
    id: strawberry.ID
    name: str
    currency: str = strawberry.field(description="ISO 4217; prices are never converted.")
    tax_inclusive: bool = strawberry.field(description="Prices include tax (含税).")
    valid_from: dt.date | None = strawberry.field(description="First valid day; null: always.")
    valid_to: dt.date | None = strawberry.field(description="Last valid day; null: open-ended.")
    target: PriceListTarget
    tier: CustomerTier | None = strawberry.field(description="For a TIER list.")
    customer_id: strawberry.ID | None = strawberry.field(description="For a CUSTOMER list.")
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(
        description="Pass it back on change (setting items too); a stale one conflicts."
    )
    customer: Customer | None = strawberry.field(
        default=None,
        extensions=requires("customers:read"),
        description="The customer of a CUSTOMER list; FORBIDDEN without customers:read.",
    )
    items: list[PriceListItem] = strawberry.field(
        default_factory=list, description="By product code, then minQuantity."
    )

    @classmethod
    def from_row(cls, row: Row) -> PriceList:
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, currency=row.currency,
            tax_inclusive=row.tax_inclusive, valid_from=row.valid_from, valid_to=row.valid_to,
            target=PriceListTarget(row.target),
            tier=CustomerTier(row.tier) if row.tier else None,
            customer_id=graphql_id(row.customer_id), active=row.active, created_at=row.created_at,
            updated_at=row.updated_at, version=row.version,
        )  # fmt: skip


async def _products_for(
    conn: AsyncConnection, who: Scoped, product_ids: list[uuid.UUID], selected: set[str],
    prefix: str,
) -> dict[uuid.UUID, Product]:  # fmt: skip
    found = await queries.products_by_id(conn, product_ids)
    built = await build_products(conn, who, list(found.values()), selected, prefix)
    return dict(zip(found, built, strict=True))


async def build_price_lists(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[PriceList]:
    """Price lists with the children selected below `prefix`: one statement for all
    items, one for their products (and one for those products' categories), one for
    customers, whatever the number of lists and items."""
    nodes = [PriceList.from_row(r) for r in rows]
    if not rows:
        return nodes
    if f"{prefix}items" in selected:
        grouped = await queries.items_by_price_list(conn, [r.id for r in rows])
        products = {}
        if f"{prefix}items.product" in selected:
            ids = [i.product_id for items in grouped.values() for i in items]
            products = await _products_for(conn, who, ids, selected, f"{prefix}items.product.")
        for node, row in zip(nodes, rows, strict=True):
            node.items = [PriceListItem.from_row(i) for i in grouped.get(row.id, [])]
            for item in node.items:
                item.product = products.get(uuid.UUID(item.product_id))
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    return nodes


@strawberry.enum(description="Where a resolved price came from, in the order tried.")
class PriceSource(enum.Enum):
    CUSTOMER_LIST = "customer"
    TIER_LIST = "tier"
    ALL_CUSTOMERS_LIST = "all"
    LIST_PRICE = "list_price"


@strawberry.type(
    name="LineAmounts",
    description="A line's amounts at its price, without discount, rounded per line.",
)
class LineAmountsType:
    net: Decimal = strawberry.field(description="Tax-exclusive.")
    tax: Decimal
    gross: Decimal = strawberry.field(description="Tax-inclusive: net + tax.")


@strawberry.type(name="ResolvedPrice", description="The price of one line, or why it has none.")
class ResolvedPriceType:
    product_id: strawberry.ID | None = strawberry.field(description="Null for a malformed id.")
    quantity: Decimal
    unit_price: Decimal | None = strawberry.field(description="Null when `error` is set.")
    tax_inclusive: bool | None
    tax_rate: Decimal | None = strawberry.field(description="The product's, a fraction.")
    source: PriceSource | None
    price_list_id: strawberry.ID | None
    min_quantity: Decimal | None = strawberry.field(
        description="The quantity break applied, for a price from a list."
    )
    amounts: LineAmountsType | None = strawberry.field(
        description="net, tax and gross of the line (app/catalog/pricing.py rules)."
    )
    error: UserErrorType | None = strawberry.field(
        description="NOT_FOUND, INACTIVE, INVALID (quantity) or NO_PRICE; field names the "
        "line (lines.<index>...)."
    )
    product: Product | None = None
    price_list: PriceList | None = None


@strawberry.type(name="PriceResolution", description="Prices for lines, in the order sent.")
class PriceResolution:
    customer_id: strawberry.ID | None
    currency: str
    date: dt.date
    lines: list[ResolvedPriceType]


def _amounts(price: ResolvedPrice) -> LineAmountsType | None:
    if price.unit_price is None:
        return None
    amounts = line_amounts(
        price.quantity, price.unit_price, tax_rate=price.tax_rate,
        tax_inclusive=bool(price.tax_inclusive),
    )  # fmt: skip
    return LineAmountsType(net=amounts.net, tax=amounts.tax, gross=amounts.gross)


async def build_resolved(
    conn: AsyncConnection, who: Scoped, prices: Sequence[ResolvedPrice], selected: set[str],
    prefix: str,
) -> list[ResolvedPriceType]:  # fmt: skip
    nodes = [
        ResolvedPriceType(
            product_id=graphql_id(p.product_id),
            quantity=p.quantity,
            unit_price=p.unit_price,
            tax_inclusive=p.tax_inclusive,
            tax_rate=p.tax_rate,
            source=PriceSource(p.source) if p.source else None,
            price_list_id=graphql_id(p.price_list_id),
            min_quantity=p.min_quantity,
            amounts=_amounts(p),
            error=UserErrorType(field=p.error.field, code=p.error.code, message=p.error.message)
            if p.error
            else None,
        )  # fmt: skip
        for p in prices
    ]
    if f"{prefix}product" in selected:
        ids = [p.product_id for p in prices if p.error is None]
        products = await _products_for(conn, who, ids, selected, f"{prefix}product.")
        for node, price in zip(nodes, prices, strict=True):
            node.product = products.get(price.product_id) if price.error is None else None
    if f"{prefix}priceList" in selected:
        found = await queries.price_lists_by_id(conn, who, [p.price_list_id for p in prices])
        built = await build_price_lists(
            conn, who, list(found.values()), selected, f"{prefix}priceList."
        )
        lists = dict(zip(found, built, strict=True))
        for node, price in zip(nodes, prices, strict=True):
            node.price_list = lists.get(price.price_list_id)
    return nodes
