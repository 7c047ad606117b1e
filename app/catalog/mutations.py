"""Catalogue mutations: each one transaction, audited, with userErrors."""

from __future__ import annotations

from typing import Any

import strawberry

from app.api.context import Info
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, parse_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.catalog import prices, service
from app.catalog.inputs import (
    CreatePriceListInput,
    CreatePriceListPayload,
    CreateProductCategoryInput,
    CreateProductCategoryPayload,
    CreateProductInput,
    CreateProductPayload,
    DeleteProductCategoryInput,
    DeleteProductCategoryPayload,
    PriceListItemInput,
    SetPriceListItemsInput,
    SetPriceListItemsPayload,
    UpdatePriceListInput,
    UpdatePriceListPayload,
    UpdateProductCategoryInput,
    UpdateProductCategoryPayload,
    UpdateProductInput,
    UpdateProductPayload,
)
from app.catalog.types import ProductCategory, build_price_lists, build_products
from app.errors import UserError, UserErrors, fail

WRITE = "products:write"
COST = "products:read_cost"
PRICES = "prices:manage"
PRODUCT_FIELDS = (
    "code", "name", "unit", "list_price", "category_id", "cost_price", "tax_rate",
    "batch_tracked", "active",
)  # fmt: skip
PRICE_LIST_FIELDS = (
    "name", "currency", "tax_inclusive", "valid_from", "valid_to", "target", "tier",
    "customer_id", "active",
)  # fmt: skip
IDS = {
    "category_id": ("categoryId", "category"),
    "customer_id": ("customerId", "customer"),
    "parent_id": ("parentId", "category"),
}


def _product_fields(info: Info, input: object) -> dict[str, Any]:
    fields = provided(input, PRODUCT_FIELDS, IDS)
    if "cost_price" in fields and not info.context.principal.can(COST):
        raise fail("costPrice", "FORBIDDEN", f"setting a cost price needs {COST}")
    return fields


async def _product_mutation(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        row = await change(conn, info.context.actor)
        (node,) = await build_products(
            conn, info.context.principal, [row], selected_paths(info), "product."
        )
        return {"product": node}

    return await run_mutation(info, payload, write)


async def _category_mutation(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        return {"category": ProductCategory.from_row(await change(conn, info.context.actor))}

    return await run_mutation(info, payload, write)


async def _price_list_mutation(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        row = await change(conn, info.context.actor)
        (node,) = await build_price_lists(
            conn, info.context.principal, [row], selected_paths(info), "priceList."
        )
        return {"price_list": node}

    return await run_mutation(info, payload, write)


def _items(items: list[PriceListItemInput] | None, field: str = "items") -> list[dict[str, Any]]:
    """Items as service values; a malformed product id is NOT_FOUND on its item."""
    out, errors = [], []
    for index, item in enumerate(items or []):
        product_id = parse_uuid(item.product_id)
        if product_id is None:
            errors.append(UserError(f"{field}.{index}.productId", "NOT_FOUND", "no such product"))
        out.append(
            {"product_id": product_id, "min_quantity": item.min_quantity,
             "unit_price": item.unit_price}
        )  # fmt: skip
    if errors:
        raise UserErrors(errors)
    return out


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(extensions=requires(WRITE))
    async def create_product(self, info: Info, input: CreateProductInput) -> CreateProductPayload:
        async def change(conn, actor):
            return await service.create_product(
                conn, actor=actor, product_id=optional_uuid(input.id, "id", "product"),
                fields=_product_fields(info, input),
            )  # fmt: skip

        return await _product_mutation(info, CreateProductPayload, change)

    @strawberry.mutation(
        extensions=requires(WRITE),
        description="Change a product; active: false deactivates it (products are never deleted).",
    )
    async def update_product(self, info: Info, input: UpdateProductInput) -> UpdateProductPayload:
        async def change(conn, actor):
            return await service.update_product(
                conn, actor=actor, product_id=require_uuid(input.id, "id", "product"),
                version=input.version, fields=_product_fields(info, input),
            )  # fmt: skip

        return await _product_mutation(info, UpdateProductPayload, change)

    @strawberry.mutation(extensions=requires(WRITE))
    async def create_product_category(
        self, info: Info, input: CreateProductCategoryInput
    ) -> CreateProductCategoryPayload:
        async def change(conn, actor):
            return await service.create_category(
                conn, actor=actor, category_id=optional_uuid(input.id, "id", "category"),
                name=input.name, parent_id=optional_uuid(input.parent_id, "parentId", "category"),
            )  # fmt: skip

        return await _category_mutation(info, CreateProductCategoryPayload, change)

    @strawberry.mutation(extensions=requires(WRITE), description="Rename and/or move a category.")
    async def update_product_category(
        self, info: Info, input: UpdateProductCategoryInput
    ) -> UpdateProductCategoryPayload:
        async def change(conn, actor):
            return await service.update_category(
                conn, actor=actor, category_id=require_uuid(input.id, "id", "category"),
                version=input.version, changes=provided(input, ("name", "parent_id"), IDS),
            )  # fmt: skip

        return await _category_mutation(info, UpdateProductCategoryPayload, change)

    @strawberry.mutation(
        extensions=requires(WRITE),
        description="Delete an empty category (no subcategories, no products); NOT_EMPTY "
        "otherwise.",
    )
    async def delete_product_category(
        self, info: Info, input: DeleteProductCategoryInput
    ) -> DeleteProductCategoryPayload:
        async def write(conn) -> dict:
            row = await service.delete_category(
                conn, actor=info.context.actor,
                category_id=require_uuid(input.id, "id", "category"), version=input.version,
            )  # fmt: skip
            return {"deleted_id": strawberry.ID(str(row.id))}

        return await run_mutation(info, DeleteProductCategoryPayload, write)

    @strawberry.mutation(extensions=requires(PRICES))
    async def create_price_list(
        self, info: Info, input: CreatePriceListInput
    ) -> CreatePriceListPayload:
        async def change(conn, actor):
            fields = provided(input, PRICE_LIST_FIELDS, IDS)
            return await prices.create_price_list(
                conn, actor=actor, who=info.context.principal,
                price_list_id=optional_uuid(input.id, "id", "price list"), fields=fields,
                items=_items(input.items),
            )  # fmt: skip

        return await _price_list_mutation(info, CreatePriceListPayload, change)

    @strawberry.mutation(
        extensions=requires(PRICES),
        description="Change a price list; active: false deactivates it (lists are never deleted).",
    )
    async def update_price_list(
        self, info: Info, input: UpdatePriceListInput
    ) -> UpdatePriceListPayload:
        async def change(conn, actor):
            return await prices.update_price_list(
                conn, actor=actor, who=info.context.principal,
                price_list_id=require_uuid(input.id, "id", "price list"), version=input.version,
                fields=provided(input, PRICE_LIST_FIELDS, IDS),
            )  # fmt: skip

        return await _price_list_mutation(info, UpdatePriceListPayload, change)

    @strawberry.mutation(
        extensions=requires(PRICES),
        description="Set a list's prices: each product in items gets exactly its breaks, "
        "removeProductIds lose theirs, others stay (or, with replaceAll, only items remain).",
    )
    async def set_price_list_items(
        self, info: Info, input: SetPriceListItemsInput
    ) -> SetPriceListItemsPayload:
        async def change(conn, actor):
            removed = []
            for index, raw in enumerate(input.remove_product_ids):
                product_id = parse_uuid(raw)
                if product_id is None:
                    raise fail(f"removeProductIds.{index}", "NOT_FOUND", "no such product")
                removed.append(product_id)
            return await prices.set_price_list_items(
                conn, actor=actor, who=info.context.principal,
                price_list_id=require_uuid(input.price_list_id, "priceListId", "price list"),
                version=input.version, items=_items(input.items),
                remove_product_ids=removed, replace_all=input.replace_all,
            )  # fmt: skip

        return await _price_list_mutation(info, SetPriceListItemsPayload, change)
