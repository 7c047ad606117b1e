"""Stock mutations: each one transaction, audited, with userErrors naming the field
(`lines[2].quantity`). Moves and stock takes need stock:write; warehouses and reorder
rules warehouses:manage. Moves, stock takes and reorder rules are limited to the
warehouses the caller's data scope shows (the service checks, given `who`); batches
expire by the tenant's calendar day."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info, tenant_today
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.audit.service import Actor
from app.auth.principal import Principal
from app.stock import reorder, service, takes, warehouses
from app.stock.inputs import (
    AdjustStockInput,
    AdjustStockPayload,
    CancelStockTakeInput,
    CancelStockTakePayload,
    CountStockTakeInput,
    CountStockTakePayload,
    CreateStockTakeInput,
    CreateStockTakePayload,
    CreateWarehouseInput,
    CreateWarehousePayload,
    IssueStockInput,
    IssueStockPayload,
    PostStockTakeInput,
    PostStockTakePayload,
    ReceiveStockInput,
    ReceiveStockPayload,
    RemoveReorderRuleInput,
    RemoveReorderRulePayload,
    SetReorderRuleInput,
    SetReorderRulePayload,
    StockLineInput,
    TransferStockInput,
    TransferStockPayload,
    UpdateWarehouseInput,
    UpdateWarehousePayload,
)
from app.stock.service import Posting, StockLine
from app.stock.types import build_moves, build_rules, build_takes, build_warehouses

WRITE = requires("stock:write")
MANAGE = requires("warehouses:manage")
IDS = {"customer_id": ("customerId", "customer")}


def _lines(lines: list[StockLineInput]) -> list[StockLine]:
    return [
        StockLine(
            product_id=x.product_id,
            quantity=x.quantity,
            batch_id=x.batch_id,
            batch_code=x.batch_code,
            expires_on=x.expires_on,
            produced_on=x.produced_on,
        )  # fmt: skip
        for x in lines
    ]


Post = Callable[[AsyncConnection, Actor, Principal], Awaitable[Posting]]


async def _posting(info: Info, payload: type, post: Post) -> Any:
    async def write(conn: AsyncConnection) -> dict:
        posting = await post(conn, info.context.actor, info.context.principal)
        moves = await build_moves(
            conn, info.context.principal, posting.moves, selected_paths(info), "moves."
        )
        return {"posting_id": strawberry.ID(str(posting.id)), "moves": moves,
                "replayed": posting.replayed}  # fmt: skip

    return await run_mutation(info, payload, write)


async def _one(info: Info, payload: type, key: str, build, change) -> Any:
    async def write(conn: AsyncConnection) -> dict:
        row = await change(conn, info.context.actor, info.context.principal)
        (node,) = await build(conn, info.context.principal, [row], selected_paths(info), f"{key}.")
        return {re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower(): node}  # stockTake: stock_take

    return await run_mutation(info, payload, write)


@strawberry.type
class StockMutations:
    @strawberry.mutation(extensions=WRITE, description="Goods into a warehouse (入库).")
    async def receive_stock(self, info: Info, input: ReceiveStockInput) -> ReceiveStockPayload:
        async def post(conn, actor, who):
            return await service.receive(
                conn, actor=actor, who=who, warehouse_id=input.warehouse_id,
                lines=_lines(input.lines), reason=input.reason, posting_id=input.id,
            )  # fmt: skip

        return await _posting(info, ReceiveStockPayload, post)

    @strawberry.mutation(
        extensions=WRITE, description="Goods out of what is available (出库); never reserved stock."
    )
    async def issue_stock(self, info: Info, input: IssueStockInput) -> IssueStockPayload:
        async def post(conn, actor, who):
            return await service.issue(
                conn, actor=actor, who=who, warehouse_id=input.warehouse_id,
                lines=_lines(input.lines), reason=input.reason, posting_id=input.id,
                today=tenant_today(info),
            )  # fmt: skip

        return await _posting(info, IssueStockPayload, post)

    @strawberry.mutation(
        extensions=WRITE,
        description="Move stock between warehouses (调拨): all lines or none, the same "
        "batches out of one and into the other.",
    )
    async def transfer_stock(self, info: Info, input: TransferStockInput) -> TransferStockPayload:
        async def post(conn, actor, who):
            return await service.transfer(
                conn, actor=actor, who=who, from_warehouse_id=input.from_warehouse_id,
                to_warehouse_id=input.to_warehouse_id, lines=_lines(input.lines),
                reason=input.reason, posting_id=input.id, today=tenant_today(info),
            )  # fmt: skip

        return await _posting(info, TransferStockPayload, post)

    @strawberry.mutation(extensions=WRITE, description="Correct stock, with a reason.")
    async def adjust_stock(self, info: Info, input: AdjustStockInput) -> AdjustStockPayload:
        async def post(conn, actor, who):
            return await service.adjust(
                conn, actor=actor, who=who, warehouse_id=input.warehouse_id,
                lines=_lines(input.lines), reason=input.reason, posting_id=input.id,
            )  # fmt: skip

        return await _posting(info, AdjustStockPayload, post)

    @strawberry.mutation(
        extensions=WRITE,
        description="A draft count sheet (盘点单) with a snapshot of the expected quantities.",
    )
    async def create_stock_take(
        self, info: Info, input: CreateStockTakeInput
    ) -> CreateStockTakePayload:
        async def change(conn, actor, who):
            return await takes.create_stock_take(
                conn, actor=actor, who=who,
                take_id=optional_uuid(input.id, "id", "stock take"),
                warehouse_id=input.warehouse_id, today=tenant_today(info),
                product_ids=input.product_ids, note=input.note,
            )  # fmt: skip

        return await _one(info, CreateStockTakePayload, "stockTake", build_takes, change)

    @strawberry.mutation(extensions=WRITE, description="Enter counted quantities on a draft.")
    async def count_stock_take(
        self, info: Info, input: CountStockTakeInput
    ) -> CountStockTakePayload:
        async def change(conn, actor, who):
            lines = [
                takes.CountLine(
                    product_id=x.product_id,
                    counted=x.counted,
                    batch_id=x.batch_id,
                    batch_code=x.batch_code,
                    expires_on=x.expires_on,
                    produced_on=x.produced_on,
                )  # fmt: skip
                for x in input.lines
            ]
            return await takes.count_stock_take(
                conn, actor=actor, who=who, take_id=require_uuid(input.id, "id", "stock take"),
                version=input.version, lines=lines,
            )  # fmt: skip

        return await _one(info, CountStockTakePayload, "stockTake", build_takes, change)

    @strawberry.mutation(
        extensions=WRITE,
        description="Post a draft's counted differences as STOCK_TAKE moves, once.",
    )
    async def post_stock_take(self, info: Info, input: PostStockTakeInput) -> PostStockTakePayload:
        async def change(conn, actor, who):
            return await takes.post_stock_take(
                conn, actor=actor, who=who, take_id=require_uuid(input.id, "id", "stock take"),
                version=input.version,
            )  # fmt: skip

        return await _one(info, PostStockTakePayload, "stockTake", build_takes, change)

    @strawberry.mutation(extensions=WRITE, description="Cancel a draft count sheet.")
    async def cancel_stock_take(
        self, info: Info, input: CancelStockTakeInput
    ) -> CancelStockTakePayload:
        async def change(conn, actor, who):
            return await takes.cancel_stock_take(
                conn, actor=actor, who=who, take_id=require_uuid(input.id, "id", "stock take"),
                version=input.version,
            )  # fmt: skip

        return await _one(info, CancelStockTakePayload, "stockTake", build_takes, change)

    @strawberry.mutation(
        extensions=MANAGE,
        description="Create or change the min/max rule of a product in a warehouse.",
    )
    async def set_reorder_rule(
        self, info: Info, input: SetReorderRuleInput
    ) -> SetReorderRulePayload:
        async def change(conn, actor, who):
            return await reorder.set_rule(
                conn, actor=actor, who=who, rule_id=input.id, product_id=input.product_id,
                warehouse_id=input.warehouse_id, min_quantity=input.min_quantity,
                max_quantity=input.max_quantity, version=input.version,
            )  # fmt: skip

        return await _one(info, SetReorderRulePayload, "reorderRule", build_rules, change)

    @strawberry.mutation(extensions=MANAGE, description="Delete a reorder rule.")
    async def remove_reorder_rule(
        self, info: Info, input: RemoveReorderRuleInput
    ) -> RemoveReorderRulePayload:
        async def change(conn, actor, who):
            return await reorder.remove_rule(
                conn, actor=actor, who=who, rule_id=require_uuid(input.id, "id", "reorder rule"),
                version=input.version,
            )  # fmt: skip

        return await _one(info, RemoveReorderRulePayload, "reorderRule", build_rules, change)

    @strawberry.mutation(extensions=MANAGE)
    async def create_warehouse(
        self, info: Info, input: CreateWarehouseInput
    ) -> CreateWarehousePayload:
        async def change(conn, actor, who):
            return await warehouses.create_warehouse(
                conn, actor=actor, who=who,
                warehouse_id=optional_uuid(input.id, "id", "warehouse"),
                fields=provided(input, warehouses.FIELDS, IDS),
            )  # fmt: skip

        return await _one(info, CreateWarehousePayload, "warehouse", build_warehouses, change)

    @strawberry.mutation(
        extensions=MANAGE, description="Change a warehouse; active false retires it."
    )
    async def update_warehouse(
        self, info: Info, input: UpdateWarehouseInput
    ) -> UpdateWarehousePayload:
        async def change(conn, actor, who):
            return await warehouses.update_warehouse(
                conn, actor=actor, who=who,
                warehouse_id=require_uuid(input.id, "id", "warehouse"), version=input.version,
                fields=provided(input, warehouses.FIELDS, IDS),
            )  # fmt: skip

        return await _one(info, UpdateWarehousePayload, "warehouse", build_warehouses, change)
