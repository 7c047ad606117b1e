"""Catalogue queries: `product`, `products`, `productCategory`, `productCategories`,
`priceList`, `priceLists` and `resolvePrices`."""

from __future__ import annotations

import datetime as dt
import enum
from functools import partial

import strawberry
from sqlalchemy import ColumnElement

from app.api.context import Info, tenant_today
from app.api.filters import EnumFilter, IdFilter, all_of, any_of, enum_condition, id_condition
from app.api.ids import parse_uuid
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.catalog import prices, queries
from app.catalog.inputs import ResolvePricesInput
from app.catalog.tables import price_lists, products
from app.catalog.types import (
    PriceList,
    PriceListTarget,
    PriceResolution,
    Product,
    ProductCategory,
    build_categories,
    build_price_lists,
    build_products,
    build_resolved,
)
from app.company.service import base_currency
from app.customers.types import CustomerTier
from app.errors import BadUserInput, NotFound, UserErrors

READ = "products:read"
MAX_FILTER_DEPTH = 4
MAX_CODES = 100


@strawberry.input(description="Match SKU codes exactly, or by prefix.")
class CodeFilter:
    eq: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    starts_with: str | None = None


@strawberry.input
class ProductFilter:
    code: CodeFilter | None = None
    search: str | None = strawberry.field(
        default=None, description="Any part of the code or the name; any language."
    )
    category_id: IdFilter | None = strawberry.field(
        default=None,
        description="Directly in these categories; isNull: true lists uncategorised products.",
    )
    under_category: strawberry.ID | None = strawberry.field(
        default=None, description="In this category or any category below it."
    )
    active: bool | None = None
    batch_tracked: bool | None = None
    and_: list[ProductFilter] | None = strawberry.field(default=None, name="and")
    or_: list[ProductFilter] | None = strawberry.field(default=None, name="or")


@strawberry.enum
class ProductOrderField(enum.Enum):
    CODE = "code"
    NAME = "name"
    LIST_PRICE = "list_price"


@strawberry.input
class ProductOrder:
    field: ProductOrderField
    direction: SortDirection = SortDirection.ASC


SORT_COLUMNS = {
    ProductOrderField.CODE: products.c.code,
    ProductOrderField.NAME: products.c.name,
    ProductOrderField.LIST_PRICE: queries.LIST_PRICE_SORT,
}


def _code_condition(f: CodeFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    code = products.c.code
    if f.in_ is not None and len(f.in_) > MAX_CODES:
        raise BadUserInput(f"code.in takes at most {MAX_CODES} codes")
    return all_of(
        [
            code == f.eq.strip() if f.eq is not None else None,
            code.in_([c.strip() for c in f.in_]) if f.in_ is not None else None,
            code.startswith(f.starts_with.strip(), autoescape=True)
            if f.starts_with is not None
            else None,
        ]
    )


def _under(category: strawberry.ID | None) -> ColumnElement[bool] | None:
    if category is None:
        return None
    root = parse_uuid(category)
    if root is None:
        raise BadUserInput(f"underCategory: {category!r} is not a valid id")
    return products.c.category_id.in_(queries.category_subtree(root))


def product_condition(f: ProductFilter, depth: int = 0) -> ColumnElement[bool]:
    c = products.c
    nested = depth + 1 < MAX_FILTER_DEPTH
    return all_of(
        [
            _code_condition(f.code),
            queries.product_search(f.search) if f.search else None,
            id_condition(c.category_id, f.category_id, "categoryId"),
            _under(f.under_category),
            c.active.is_(f.active) if f.active is not None else None,
            c.batch_tracked.is_(f.batch_tracked) if f.batch_tracked is not None else None,
            all_of(product_condition(g, depth + 1) for g in f.and_) if f.and_ and nested else None,
            any_of([product_condition(g, depth + 1) for g in f.or_]) if f.or_ and nested else None,
        ]
    )


def _product_keys(order: list[ProductOrder]) -> list[SortKey]:
    """The sort, ending in a unique key: the code is one (unique and not null), so a
    sort that ends in it needs no id after it; any other ends in the id."""
    keys = [SortKey(SORT_COLUMNS[o.field], o.direction is SortDirection.DESC) for o in order]
    if keys[-1].column is not products.c.code:
        keys.append(SortKey(products.c.id, keys[-1].descending))
    return keys


@strawberry.input
class PriceListFilter:
    active: bool | None = None
    currency: str | None = strawberry.field(default=None, description="An ISO 4217 code.")
    target: EnumFilter[PriceListTarget] | None = None
    tier: CustomerTier | None = None
    customer_id: IdFilter | None = None
    valid_on: dt.date | None = strawberry.field(
        default=None, description="Lists valid on this day (active or not)."
    )


@strawberry.enum
class PriceListOrderField(enum.Enum):
    NAME = "name"
    CREATED_AT = "created_at"


@strawberry.input
class PriceListOrder:
    field: PriceListOrderField
    direction: SortDirection = SortDirection.ASC


def price_list_condition(f: PriceListFilter) -> ColumnElement[bool]:
    c = price_lists.c
    day = f.valid_on
    return all_of(
        [
            c.active.is_(f.active) if f.active is not None else None,
            c.currency == f.currency.strip().upper() if f.currency is not None else None,
            enum_condition(c.target, f.target),
            c.tier == f.tier.value if f.tier is not None else None,
            id_condition(c.customer_id, f.customer_id, "customerId"),
            (c.valid_from.is_(None) | (c.valid_from <= day)) if day is not None else None,
            (c.valid_to.is_(None) | (c.valid_to >= day)) if day is not None else None,
        ]
    )


@strawberry.type
class CatalogQueries:
    @strawberry.field(extensions=requires(READ), description="A product by id, or null.")
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        return await visible_node(info, id, queries.get_product, build_products)

    @strawberry.field(extensions=requires(READ), description="Products; by code unless ordered.")
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ProductFilter | None = None,
        order_by: list[ProductOrder] | None = None,
    ) -> Connection[Product]:
        query = queries.products_query(product_condition(filter or ProductFilter()))
        keys = _product_keys(order_by or [ProductOrder(field=ProductOrderField.CODE)])
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected, partial(build_products, conn, info.context.principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip

    @strawberry.field(extensions=requires(READ), description="A product category by id.")
    async def product_category(self, info: Info, id: strawberry.ID) -> ProductCategory | None:
        return await visible_node(info, id, queries.get_category, build_categories)

    @strawberry.field(
        extensions=requires(READ),
        description="The children of parentId (the roots without it), by name. With "
        "descendants: true, their whole subtrees too, depth first (each category right "
        "after its parent), with depth; without parentId that is the whole tree.",
    )
    async def product_categories(
        self, info: Info, parent_id: strawberry.ID | None = None, descendants: bool = False
    ) -> list[ProductCategory]:
        parent = None
        if parent_id is not None:
            parent = parse_uuid(parent_id)
            if parent is None:
                return []
        async with info.context.db.read() as conn:
            rows = await queries.category_tree(conn, parent, descendants=descendants)
        return [ProductCategory.from_row(r) for r in rows]

    @strawberry.field(
        extensions=requires(READ),
        description="A price list by id; null for a customer's list whose customer you may "
        "not see.",
    )
    async def price_list(self, info: Info, id: strawberry.ID) -> PriceList | None:
        return await visible_node(info, id, queries.get_price_list, build_price_lists)

    @strawberry.field(
        extensions=requires(READ),
        description="Price lists: tenant-wide ones, and customers' lists whose customer you "
        "may see.",
    )
    async def price_lists(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: PriceListFilter | None = None,
        order_by: PriceListOrder | None = None,
    ) -> Connection[PriceList]:
        principal = info.context.principal
        query = queries.price_lists_query(
            queries.visible_price_lists(principal),
            price_list_condition(filter or PriceListFilter()),
        )
        order = order_by or PriceListOrder(field=PriceListOrderField.NAME)
        descending = order.direction is SortDirection.DESC
        keys = [
            SortKey(price_lists.c[order.field.value], descending),
            SortKey(price_lists.c.id, descending),
        ]
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected, partial(build_price_lists, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip

    @strawberry.field(
        extensions=requires(READ),
        description="The price each line gets, resolved in one documented order: the "
        "customer's own list, then their tier's, then an all-customers list (each valid on "
        "the date, in the currency, highest quantity break not above the line's quantity), "
        "then the list price if the currency is the base currency. A line without a price "
        "gets an error, never a guess. NOT_FOUND for a customer you may not see.",
    )
    async def resolve_prices(self, info: Info, input: ResolvePricesInput) -> PriceResolution:
        principal = info.context.principal
        customer_id = None
        if input.customer_id is not None:
            customer_id = parse_uuid(input.customer_id)
            if customer_id is None:
                raise NotFound("no such customer")
        lines = [prices.PriceLine(parse_uuid(li.product_id), li.quantity) for li in input.lines]
        day = input.date or tenant_today(info)
        async with info.context.db.read() as conn:
            currency = (input.currency or await base_currency(conn)).strip().upper()
            try:
                resolved = await prices.resolve_prices(
                    conn, customer_id=customer_id, currency=currency, on_date=day, lines=lines,
                    who=principal,
                )  # fmt: skip
            except UserErrors as error:
                first = error.errors[0]
                if first.code == "NOT_FOUND":
                    raise NotFound(first.message) from error
                raise BadUserInput(f"{first.field}: {first.message}") from error
            nodes = await build_resolved(conn, principal, resolved, selected_paths(info), "lines.")
        return PriceResolution(
            customer_id=input.customer_id, currency=currency, date=day, lines=nodes
        )
